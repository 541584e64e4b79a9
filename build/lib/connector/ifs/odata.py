"""Pure OData helpers for IFS projections: literals, keys, ``$filter``, error envelopes, JSON.

No I/O here, so the client, the ``$batch`` parser and the mapping code share one definition of
how a key is written and what an IFS error means.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import requests

from connector.errors import ConnectorError, DataError
from connector.http.errors import error_for_response

# A 500 with this code means the server's cached metadata was stale; the same request succeeds
# when sent again (ifs-cloud.md §8, Decisions 9). Every other 500 carrying an OData error with
# details is a PL/SQL business error and permanent.
MI_MODIFIED_ERROR = "MI_MODIFIED_ERROR"


@dataclass(frozen=True)
class ODataEnum:
    """A qualified enum literal, e.g. ``ODataEnum("IfsApp.CustomerOrderHandling.CustomerOrderState",
    "Released")`` → ``IfsApp.CustomerOrderHandling.CustomerOrderState'Released'`` (§3)."""

    type_name: str
    value: str


Literal = str | int | bool | Decimal | float | date | datetime | ODataEnum | None


def odata_literal(value: Literal) -> str:
    """``value`` as an OData URL literal: strings in single quotes with ``'`` doubled, numbers
    bare, ``true``/``false``/``null``, dates ``YYYY-MM-DD``, enums qualified (§3)."""
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, ODataEnum):
        return f"{value.type_name}'{_escape(value.value)}'"
    if isinstance(value, str):
        return f"'{_escape(value)}'"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite number: {value}")
        return format(value, "f")
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"not a finite number: {value}")
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetime literals must be timezone-aware")
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"no OData literal for {type(value).__name__}")


def _escape(text: str) -> str:
    return text.replace("'", "''")


def odata_key(**parts: str | int) -> str:
    """A key predicate for a URL path: ``odata_key(CustomerId="WC7-1042", AddressId="1")`` →
    ``(CustomerId='WC7-1042',AddressId='1')``. Always the named form; strings quoted with ``'``
    doubled, integers bare, composite keys comma-separated (§3). Characters that would break a
    path (``/``, ``?``, ``#``, ``%``, spaces, non-ASCII) are percent-encoded."""
    if not parts:
        raise ValueError("a key needs at least one part")
    bits = []
    for name, value in parts.items():
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise TypeError(f"key part {name} must be a string or an integer")
        bits.append(f"{name}={quote(odata_literal(value), safe=_PATH_SAFE)}")
    return "(" + ",".join(bits) + ")"


# RFC 3986 sub-delims and pchar extras that OData keys use literally; '/' '?' '#' '%' are not here.
_PATH_SAFE = "'()=,:@!$*+;-._~"


def filter_eq(**conditions: Literal) -> str:
    """``Field eq literal`` conditions joined by ``and``, in argument order:
    ``filter_eq(Company="20", VoucherText2="bc:txn-1")`` →
    ``Company eq '20' and VoucherText2 eq 'bc:txn-1'``."""
    if not conditions:
        raise ValueError("filter_eq needs at least one condition")
    return " and ".join(f"{name} eq {odata_literal(v)}" for name, v in conditions.items())


def query_string(options: Mapping[str, str]) -> str:
    """System query options percent-encoded, keeping ``$`` in the names literal (some OData
    servers do not decode ``%24filter``) and encoding spaces as ``%20``, never ``+``."""
    return "&".join(
        f"{quote(name, safe='$')}={quote(value, safe=_QUERY_SAFE)}"
        for name, value in options.items()
    )


_QUERY_SAFE = "'(),:@!$*;/?-._~"


# ---------------------------------------------------------------------------------------------
# JSON


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        # JSON has no decimal type and IFS takes amounts as JSON numbers. A float round-trips any
        # decimal of up to 15 significant digits exactly (repr is the shortest form); refuse more.
        if not value.is_finite() or len(value.as_tuple().digits) > 15:
            raise ValueError(f"amount {value} cannot be sent as a JSON number exactly")
        return float(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes sent to IFS must be timezone-aware")
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(body: Mapping[str, Any]) -> str:
    """Compact JSON for a request body; Decimals become numbers, dates ISO strings."""
    return json.dumps(body, default=_json_default, separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# Errors (§8)


@dataclass(frozen=True)
class ODataError:
    """The parts of ``{"error":{"code","message","details":[{"code","message"}]}}`` we use."""

    code: str | None
    message: str | None
    detail_code: str | None
    detail_message: str | None
    has_details: bool

    def codes(self) -> tuple[str, ...]:
        return tuple(c for c in (self.code, self.detail_code) if c)

    def text(self) -> str | None:
        """One line for an operator: the business message first, since it says what to fix."""
        bits: list[str] = []
        if self.detail_message:
            bits.append(self.detail_message)
            if self.detail_code and self.detail_code != self.code:
                bits[-1] += f" ({self.detail_code})"
        if self.message and self.message != self.detail_message:
            bits.append(self.message)
        return " — ".join(bits) or None


def parse_odata_error(payload: object) -> ODataError | None:
    """The OData error in a decoded JSON body, or None when it is not an OData envelope."""
    if not isinstance(payload, dict):
        return None
    error = payload.get("error")
    if not isinstance(error, dict):
        return None
    details = error.get("details")
    first = details[0] if isinstance(details, list) and details else None
    first = first if isinstance(first, dict) else {}
    return ODataError(
        code=_str_or_none(error.get("code")),
        message=_str_or_none(error.get("message")),
        detail_code=_str_or_none(first.get("code")),
        detail_message=_str_or_none(first.get("message")),
        has_details=bool(first),
    )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def decode_json(response: requests.Response) -> object:
    """The body as JSON, or None when it is empty or not JSON."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def error_from_response(response: requests.Response, *, what: str | None = None) -> ConnectorError:
    """The typed error for a non-success IFS response.

    The shared status table decides (``connector.http.errors``), with one IFS rule on top: a 500
    whose OData error carries details is a PL/SQL business error — permanent, so
    :class:`DataError` — unless its code is ``MI_MODIFIED_ERROR`` (§8, Decisions 9). A 500
    without such a body (proxy, crash, injected fault) stays transient.
    """
    odata = parse_odata_error(decode_json(response))
    message = odata.text() if odata else None
    if what:
        message = f"{what}: {message}" if message else f"{what} failed"
    code = odata.code if odata else None
    if (
        response.status_code == 500
        and odata is not None
        and odata.has_details
        and MI_MODIFIED_ERROR not in odata.codes()
    ):
        return DataError(
            message or "IFS business error",
            status=500,
            url=response.url,
            code=odata.detail_code or code,
        )
    if odata is not None and MI_MODIFIED_ERROR in odata.codes():
        code = MI_MODIFIED_ERROR
    return error_for_response(response, message=message, code=code)


def is_mi_modified(error: ConnectorError) -> bool:
    """True for the stale-metadata 500 that IFS answers correctly when asked again (§8)."""
    return error.status == 500 and error.code == MI_MODIFIED_ERROR
