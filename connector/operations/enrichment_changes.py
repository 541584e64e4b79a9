"""The incremental cursor of IFS enrichment: read only the customers changed since the last run.

ifs-cloud.md does not confirm a change-date property on ``CustomerInfo`` (only the ETag's
objversion is documented, §7), so it is a tenant setting, ``enrichment_change_field``
(docs/configuration.md); without it every run is the full paged pass. With it:

- a full pass first asks for the newest change value (``$orderby=<field> desc,CustomerId
  desc&$top=1``, one request) *before* its first page, so every row changed while the pass
  pages is read again by the next run; that value becomes the cursor when the pass completes;
- each later run reads ``<field> ge <cursor>`` ordered by ``<field>,CustomerId`` and pages on
  the composite keyset ``<field> gt v or (<field> eq v and CustomerId gt 'id')``, so rows
  sharing one change date are neither skipped nor read twice within a run;
- ties across runs: the cursor keeps the ids already read at its value (``ids``). The next run
  starts with ``ge`` — a row written later in the same second as the cursor is found — and
  skips the rows it already read there without reading their e-mail addresses, so an
  unchanged IFS costs one request per run. (The list is capped; a row left off it is read
  again, never missed.)

IFS answers a property it does not know with 400 (``ODP_INVALID_QUERY``) or, for an option it
cannot apply to it, 501: :func:`rejected` tells those apart, and enrichment then says so in
``status`` and the log and falls back to the full pass instead of stopping.
"""

from __future__ import annotations

import re
from typing import Any

from connector.errors import ConnectorError, DataError, NotFound
from connector.ifs.odata import odata_literal

#: At most this many ids read at the cursor's value are remembered (a bulk import stamped in
#: one second): beyond it rows are read again, never missed.
MAX_TIE_IDS = 1000

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_INSTANT_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")

Cursor = dict[str, Any]  # {"field": str, "value": JSON scalar, "ids": [CustomerId, ...]}


def valid_field_name(name: str) -> bool:
    """An OData property name: it goes into ``$filter`` and ``$orderby`` as it is."""
    return bool(_NAME_RE.fullmatch(name))


def change_literal(value: Any) -> str:
    """A change value as IFS returned it, written back as a URL literal: timestamps and dates
    bare (``Edm.DateTimeOffset``/``Edm.Date``), numbers bare, other text quoted (an
    objversion-like ``'20250314091522'``)."""
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        raise ValueError(f"not a change value: {value!r}")
    if isinstance(value, str) and (_INSTANT_RE.fullmatch(value) or _DATE_RE.fullmatch(value)):
        return value
    if isinstance(value, int | float | str):
        return odata_literal(value)
    raise ValueError(f"not a change value: {value!r}")


def since_condition(field: str, value: Any) -> str:
    """The first page of a run: everything at or after the cursor's value."""
    return f"{field} ge {change_literal(value)}"


def after_condition(field: str, value: Any, customer_id: str) -> str:
    """The next page within a run: strictly after the last row read, on (change, id)."""
    literal = change_literal(value)
    return (f"({field} gt {literal} or ({field} eq {literal} and "
            f"CustomerId gt {odata_literal(customer_id)}))")


def rejected(exc: ConnectorError) -> bool:
    """IFS refused the query itself (an unknown property, an option it cannot apply) rather
    than failing to answer: retrying would not help, the setting must change."""
    if isinstance(exc, NotFound):
        return False
    return isinstance(exc, DataError) or exc.status == 501


def advance(tip: Cursor | None, field: str, rows: list[tuple[Any, str]]) -> Cursor | None:
    """The cursor after reading ``rows`` (``(change value, CustomerId)`` in server order):
    the newest value and the ids read at it."""
    for value, customer_id in rows:
        if value is None:
            continue  # a row without a change date cannot move the cursor
        if tip is not None and tip.get("field") == field and tip.get("value") == value:
            ids = list(tip.get("ids") or [])
            if customer_id not in ids and len(ids) < MAX_TIE_IDS:
                ids.append(customer_id)
            tip = {**tip, "ids": ids}
        else:
            tip = {"field": field, "value": value, "ids": [customer_id]}
    return tip


def already_read(cursor: Cursor | None, field: str, value: Any, customer_id: str) -> bool:
    """A row at the cursor's own value that an earlier run read (the ``ge`` of a run's first
    page returns them again)."""
    return (cursor is not None and cursor.get("field") == field
            and cursor.get("value") == value and customer_id in (cursor.get("ids") or []))


def rejection_message(field: str, tenant_name: str, exc: ConnectorError) -> str:
    return (f"IFS rejected the change-date field {field!r} (tenant setting "
            f"enrichment_change_field) on CustomerInfoSet: {exc}. Enrichment falls back to "
            f"full paged passes until it is fixed: ml-connector tenant set {tenant_name} "
            "--setting enrichment_change_field=<a field of CustomerInfo> (or =null)")
