"""HTTP helpers of the BigCommerce simulator: v2/v3 error envelopes, query-argument
parsing, v2/v3 paging and sort specs.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Response, request

from sandbox.bigcommerce.model import BcError, parse_date
from sandbox.common import ADMIN_PREFIX

V3_ERROR_TYPE = "/api-docs/getting-started/api-status-codes"
V2_MAX_LIMIT = 250
V3_MAX_LIMIT = 250
_API_PATH = re.compile(r"^/stores/([^/]+)/(v2|v3)(?:/|$)")
_LIMIT_MESSAGE = "The specified limit exceeds the maximum allowed."


# --------------------------------------------------------------------------- responses


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


def v2_error(status: int, message: str, details: dict[str, Any] | None = None) -> Response:
    """§7: v2 errors are a JSON array."""
    item: dict[str, Any] = {"status": status, "message": message}
    if details:
        item["details"] = details
    return _json([item], status)


def v3_error(status: int, title: str, errors: dict[str, Any] | None = None) -> Response:
    """§7: v3 errors are an object with status, title, type and errors."""
    return _json(
        {"status": status, "title": title, "type": V3_ERROR_TYPE, "errors": errors or {}}, status
    )


def _api_version() -> str | None:
    match = _API_PATH.match(request.path)
    return match.group(2) if match else None


def api_error(exc: BcError) -> Response:
    if request.path.startswith(ADMIN_PREFIX):
        return _json({"error": exc.message, "errors": exc.errors}, exc.status)
    if _api_version() == "v2":
        return v2_error(exc.status, exc.message, exc.details)
    return v3_error(exc.status, exc.message, exc.errors)


def _v2_list(items: list[dict[str, Any]]) -> Response:
    """§2: an empty v2 list is 204 with no body."""
    if not items:
        return Response(status=204)
    return _json(items)


def _int_arg(args: Any, name: str, default: int | None = None) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BcError(400, f"The field '{name}' is invalid.", {name: "must be an integer"})


def _date_arg(args: Any, name: str) -> datetime | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_date(raw)
    except ValueError:
        raise BcError(400, f"The field '{name}' is invalid.", {name: "invalid date"})


def _csv_ints(args: Any, name: str) -> set[int] | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    try:
        return {int(x) for x in raw.split(",") if x.strip()}
    except ValueError:
        raise BcError(422, f"The field '{name}' is invalid.", {name: "must be integers"})


def _bool_arg(args: Any, name: str) -> bool | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise BcError(400, f"The field '{name}' is invalid.", {name: "must be true or false"})


def _v2_page(args: Any, default_limit: int = 50) -> tuple[int, int]:
    page = _int_arg(args, "page", 1) or 1
    limit = _int_arg(args, "limit", default_limit)
    assert limit is not None
    if limit > V2_MAX_LIMIT:
        raise BcError(413, _LIMIT_MESSAGE, details={"max_limit": V2_MAX_LIMIT})
    if page < 1 or limit < 1:
        raise BcError(400, "The field 'page' or 'limit' is invalid.")
    return page, limit


def _v3_page(args: Any) -> tuple[int, int]:
    page = _int_arg(args, "page", 1) or 1
    limit = _int_arg(args, "limit", 50) or 50
    if page < 1 or limit < 1:
        raise BcError(422, "Input is invalid.", {"page": "page and limit must be >= 1"})
    return page, min(limit, V3_MAX_LIMIT)  # v3 clamps (undocumented; see docs/sandbox.md)


def _pagination(total: int, page: int, limit: int, args: Any) -> dict[str, Any]:
    """v3 ``meta.pagination`` (§4), links as query strings like BigCommerce sends them."""
    total_pages = math.ceil(total / limit) if total else 0
    base = {k: v for k, v in args.items() if k not in ("page", "limit")}

    def link(p: int) -> str:
        return "?" + urlencode({**base, "page": p, "limit": limit})

    links: dict[str, str] = {"current": link(page)}
    if page > 1:
        links["previous"] = link(page - 1)
    if page < total_pages:
        links["next"] = link(page + 1)
    return {
        "total": total,
        "count": max(0, min(limit, total - (page - 1) * limit)),
        "per_page": limit,
        "current_page": page,
        "total_pages": total_pages,
        "links": links,
    }


def _sort_spec(raw: str | None, allowed: Iterable[str], default: str) -> tuple[str, bool]:
    spec = raw or default
    field_name, _, direction = spec.partition(":")
    direction = direction.lower() or "asc"
    if field_name not in set(allowed) or direction not in ("asc", "desc"):
        raise BcError(400, f"The field 'sort' is invalid: {spec}", {"sort": "invalid"})
    return field_name, direction == "desc"
