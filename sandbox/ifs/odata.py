"""OData v4 plumbing of the IFS Cloud simulator: error envelope, ETags, keys, URL segments and
query options (``$orderby``, ``$select``; ``$filter`` is in :mod:`sandbox.ifs.filter`).

Pure functions, no Flask and no simulator state, so they are easy to test on their own.
Reference: ``reference/ifs-cloud.md`` §3 (query options), §7 (ETags) and §8 (errors).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

# --------------------------------------------------------------------------------------------
# Errors (§8)
# --------------------------------------------------------------------------------------------

BUSINESS_ERROR_CODE = "DATABASE_ERROR"


class ODataError(Exception):
    """An OData error; rendered as ``{"error":{"code","message","details":[{"code","message"}]}}``.

    IFS always sends one detail for business (PL/SQL) errors; the simulator always sends one.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        detail_code: str | None = None,
        detail_message: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail_code = detail_code or code
        self.detail_message = detail_message or message
        self.headers: dict[str, str] = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.detail_code, self.detail_message)


def error_body(
    code: str, message: str, detail_code: str | None = None, detail_message: str | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": [{"code": detail_code or code, "message": detail_message or message}],
        }
    }


def business_error(detail_code: str, detail_message: str) -> ODataError:
    """A PL/SQL business-rule violation: 500 with exactly one detail (§8)."""
    return ODataError(
        500,
        BUSINESS_ERROR_CODE,
        "An error occurred in the database. See details.",
        detail_code=detail_code,
        detail_message=detail_message,
    )


def bad_request(code: str, message: str) -> ODataError:
    return ODataError(400, code, message)


def invalid_query(message: str) -> ODataError:
    return ODataError(400, "ODP_INVALID_QUERY", message)


def not_implemented(message: str) -> ODataError:
    return ODataError(501, "ODP_NOT_IMPLEMENTED", message)


def not_found(message: str) -> ODataError:
    return ODataError(404, "ODP_RESOURCE_NOTFOUND", message)


# --------------------------------------------------------------------------------------------
# ETags (§7): W/" + base64(W/"<objid>:<objversion YYYYMMDDHHMISS>") + "
# --------------------------------------------------------------------------------------------

OBJVERSION_FORMAT = "%Y%m%d%H%M%S"
_ROWID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def make_objid(counter: int) -> str:
    """An 18-character Oracle ROWID look-alike, unique per counter value."""
    digits = []
    n = counter
    for _ in range(7):
        digits.append(_ROWID_ALPHABET[n % 64])
        n //= 64
    return "AAB7QXAAK" + "".join(reversed(digits)) + "AA"


def next_objversion(now: datetime, previous: str | None) -> str:
    """The documented 14-digit timestamp, strictly increasing per row even within one second.

    When the clock has not moved past the previous version, the version is pushed one second
    ahead, so every write yields a new ETag while the decoded form stays ``YYYYMMDDHHMISS``.
    """
    candidate = now.replace(microsecond=0, tzinfo=None)
    if previous:
        prev = datetime.strptime(previous, OBJVERSION_FORMAT)
        if candidate <= prev:
            candidate = prev + timedelta(seconds=1)
    return candidate.strftime(OBJVERSION_FORMAT)


def make_etag(objid: str, objversion: str) -> str:
    inner = f'W/"{objid}:{objversion}"'
    return 'W/"' + base64.b64encode(inner.encode("ascii")).decode("ascii") + '"'


def decode_etag(etag: str) -> tuple[str, str] | None:
    """``(objid, objversion)`` of a simulator ETag, or None when it is not one."""
    m = re.fullmatch(r'(?:W/)?"([A-Za-z0-9+/=]+)"', etag.strip())
    if not m:
        return None
    try:
        inner = base64.b64decode(m.group(1), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return None
    m2 = re.fullmatch(r'W/"([^":]+):(\d{14})"', inner)
    return (m2.group(1), m2.group(2)) if m2 else None


def _strip_weak(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def if_match_satisfied(if_match: str, current_etag: str) -> bool:
    """``*`` matches anything; otherwise one of the comma-separated tags must equal the current."""
    current = _strip_weak(current_etag)
    for tag in split_outside_quotes(if_match, ","):
        tag = tag.strip()
        if tag == "*" or _strip_weak(tag) == current:
            return True
    return False


# --------------------------------------------------------------------------------------------
# URL segments and key predicates (§3)
# --------------------------------------------------------------------------------------------


def split_outside_quotes(text: str, sep: str) -> list[str]:
    """Split on ``sep`` except inside single-quoted literals (``''`` is an escaped quote)."""
    parts: list[str] = []
    buf: list[str] = []
    in_quote = False
    for ch in text:
        if ch == "'":
            in_quote = not in_quote
        if ch == sep and not in_quote:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    return parts


def split_path(raw_path: str) -> list[str]:
    """Percent-decoded segments of a raw URL path; ``/`` inside quoted keys does not split."""
    raw_path = raw_path.replace("%27", "'").replace("%28", "(").replace("%29", ")")
    return [unquote(s) for s in split_outside_quotes(raw_path, "/") if s != ""]


def parse_segment(segment: str) -> tuple[str, str | None]:
    """``Name(key)`` → ``("Name", "key")``; ``Name`` → ``("Name", None)``."""
    if "(" not in segment:
        return segment, None
    name, _, rest = segment.partition("(")
    if not rest.endswith(")") or not name:
        raise bad_request("ODP_INVALID_KEY", f"Malformed key predicate in '{segment}'.")
    return name, rest[:-1]


_INT_RE = re.compile(r"-?\d+")
_NUM_RE = re.compile(r"-?\d+\.\d+(?:[eE][+-]?\d+)?|-?\d+[eE][+-]?\d+")


def parse_key_literal(text: str) -> str | int | float:
    text = text.strip()
    if len(text) >= 2 and text[0] == "'" and text[-1] == "'":
        body = text[1:-1]
        if re.search(r"(?<!')'(?!')", body.replace("''", "")):
            raise bad_request("ODP_INVALID_KEY", f"Malformed string literal {text}.")
        return body.replace("''", "'")
    if _INT_RE.fullmatch(text):
        return int(text)
    if _NUM_RE.fullmatch(text):
        return float(text)
    raise bad_request("ODP_INVALID_KEY", f"Invalid key value {text!r}: strings must be quoted.")


def parse_key_predicate(text: str) -> list[tuple[str | None, str | int | float]]:
    """``CustomerId='A',AddressId='1'`` → ``[("CustomerId","A"),("AddressId","1")]``."""
    if not text.strip():
        raise bad_request("ODP_INVALID_KEY", "Empty key predicate.")
    items: list[tuple[str | None, str | int | float]] = []
    for part in split_outside_quotes(text, ","):
        name: str | None = None
        value = part
        m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$", part, re.S)
        if m:
            name, value = m.group(1), m.group(2)
        items.append((name, parse_key_literal(value)))
    return items


def format_key_value(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


# --------------------------------------------------------------------------------------------
# $orderby, $select
# --------------------------------------------------------------------------------------------


def parse_orderby(text: str, properties: Iterable[str]) -> list[tuple[str, bool]]:
    """``Name desc, CustomerId`` → ``[("Name", True), ("CustomerId", False)]`` (True = desc)."""
    props = set(properties)
    result: list[tuple[str, bool]] = []
    for item in text.split(","):
        words = item.split()
        if not words or len(words) > 2:
            raise invalid_query(f"$orderby: invalid item {item!r}.")
        name = words[0]
        direction = words[1].lower() if len(words) == 2 else "asc"
        if direction not in ("asc", "desc"):
            raise invalid_query(f"$orderby: invalid direction {words[1]!r}.")
        if name not in props and not name.startswith("Cf_"):
            raise invalid_query(f"$orderby: unknown property '{name}'.")
        result.append((name, direction == "desc"))
    return result


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def sort_key(value: Any) -> tuple[int, float, str]:
    """Total order over mixed values; null sorts first (OData)."""
    if value is None:
        return (0, 0.0, "")
    if isinstance(value, bool):
        return (1, float(value), "")
    if _is_num(value):
        return (1, float(value), "")
    return (2, 0.0, str(value))


def parse_select(
    text: str, properties: Iterable[str], navigations: Iterable[str]
) -> list[str] | None:
    """Selected property names, or None for all (``*``). Navigations in $select → 400 (§3)."""
    props = set(properties)
    navs = set(navigations)
    names = [s.strip() for s in text.split(",")]
    if "*" in names:
        return None
    for name in names:
        if name in navs or "/" in name:
            raise invalid_query(f"$select: navigation property '{name}' cannot be selected.")
        if name not in props and not name.startswith("Cf_"):
            raise invalid_query(f"$select: unknown property '{name}'.")
    return names
