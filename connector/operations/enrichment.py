"""IFS enrichment (ifs-cloud.md Decisions 10): learn which IFS customers exist, by e-mail.

OData on IFS has no lambda filters over navigation collections, so "the customer whose e-mail is
x" cannot be asked directly. A periodic poll reads ``CustomerInfoSet`` and each customer's
``CommunicationMethods`` and fills ``customer_index`` — so customers created in IFS by hand are
matched (BigCommerce orders) instead of duplicated.

Only the tenant's company is indexed (docs/money.md §3): the IAM client may see customers of
other companies, and an order must never be matched to one of them. The customer set is
filtered on ``Company`` (IFS setting ``customer_company_field``; empty where the projection has
no such field, and then each customer's company data is read instead).

Enrichment is background work that must finish (issue 10, seen 1): a run reads the customers a
page at a time and reads the page's ``CommunicationMethods`` in one ``$batch`` of GETs
(``$expand`` of a collection is not supported, ifs-cloud.md §3): two IFS requests per page
instead of one per customer. One task per page; the position is kept on the tenant
(``tenants.enrichment``) after every page, so a page that is deferred for budget or a worker
that dies resumes where the run was. Requests are drawn as ``background``: enrichment never
takes more than its share while records wait.

A run is one of two kinds (``mode``):

- ``full``: every customer, keyset on ``CustomerId`` (``$filter=CustomerId gt 'last'`` ordered
  by it, so rows added or removed meanwhile never shift the pages);
- ``changes``: where the tenant names IFS's change-date field (``enrichment_change_field``),
  only the customers changed since the last run, in O(changed rows) requests
  (:mod:`connector.operations.enrichment_changes`). A full pass still runs first, and again
  every ``enrichment_full_interval_s`` (a day): it catches what a change date cannot show —
  an e-mail added to a customer whose own row did not change (CommMethod is its own LU), or
  a row committed with a change date older than one already read. A field IFS rejects is
  reported in ``status`` and the log, and the run falls back to the full pass.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from connector.db import session_scope
from connector.errors import ConnectorError
from connector.ifs.client import IfsODataClient
from connector.ifs.odata import filter_eq, odata_key, odata_literal, query_string
from connector.models import Tenant
from connector.operations import enrichment_changes as changes
from connector.patience import patience
from connector.pipeline.executor import CUSTOMERS
from connector.pipeline.identity import customer_companies
from connector.pipeline.links import index_customer
from connector.pipeline.targets import ifs_client

log = logging.getLogger(__name__)

PAGE_SIZE = 50
PATIENCE_S = 600.0
#: A run whose last page is older than this is considered abandoned and may be restarted.
STALE_RUN = timedelta(minutes=15)
#: With a change-date field, a full pass at least this often (tenant setting overrides).
FULL_INTERVAL_S = 86_400


def _now() -> datetime:
    return datetime.now(UTC)


def _change_field(tenant: Tenant) -> str:
    name = str((tenant.settings or {}).get("enrichment_change_field") or "").strip()
    return name if changes.valid_field_name(name) else ""


def _incremental(tenant: Tenant, state: dict[str, Any], now: datetime) -> bool:
    """Whether the next run may read only the changes: a cursor on the field the tenant names,
    from a full pass recent enough."""
    field = _change_field(tenant)
    since = state.get("since") or {}
    last_full = state.get("last_full_at")
    if not field or since.get("field") != field or not last_full:
        return False
    interval = int((tenant.settings or {}).get("enrichment_full_interval_s") or FULL_INTERVAL_S)
    return now - datetime.fromisoformat(last_full) < timedelta(seconds=interval)


def start_run(tenant_id: int, *, now: datetime | None = None, force: bool = False,
              full: bool = False) -> str | None:
    """Begin a run for the tenant unless one is under way (``force``: replace it; ``full``: a
    full pass even where the changes would do); returns its id (None: one is under way)."""
    now = now or _now()
    with session_scope() as s:
        tenant = s.scalar(select(Tenant).where(Tenant.id == tenant_id).with_for_update())
        if tenant is None:
            return None
        state = dict(tenant.enrichment or {})
        touched = state.get("touched_at")
        if (not force and state.get("run") and touched
                and now - datetime.fromisoformat(touched) < STALE_RUN):
            return None
        run = uuid.uuid4().hex[:12]
        mode = "changes" if not full and _incremental(tenant, state, now) else "full"
        tenant.enrichment = {**state, "run": run, "mode": mode, "after": "", "at": None,
                             "tip": state.get("since") if mode == "changes" else None,
                             "pending": None, "fallback": False, "pages": 0, "indexed": 0,
                             "started_at": now.isoformat(), "touched_at": now.isoformat()}
        return run


class _Page:
    """One page read from IFS: what to index and where the run stands after it."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []
        self.more = False
        self.state: dict[str, Any] = {}  # changes to the run's state


def enrich_page(tenant_id: int, run: str, *, page_size: int = PAGE_SIZE) -> bool:
    """Read the run's next page of IFS customers and index their e-mail addresses. Returns
    True when there is more to read. A page of a run that is not the tenant's current one (a
    stale message) does nothing."""
    with session_scope() as s:
        tenant = s.get(Tenant, tenant_id)
        if tenant is None or (tenant.enrichment or {}).get("run") != run:
            return False
        state = dict(tenant.enrichment or {})
        s.expunge(tenant)
    client = ifs_client(tenant, "background")
    field = _change_field(tenant)
    page = _Page()
    if state.get("mode") == "changes" and field:
        try:
            page = _changes_page(client, tenant, state, field, page_size)
        except ConnectorError as exc:
            if not changes.rejected(exc):
                raise
            page.state = _rejection(tenant, field, exc)
            page.state.update(mode="full", after="", at=None, tip=None, fallback=True)
            state.update(page.state)
    if state.get("mode") != "changes" or not field:
        page = _full_page(client, tenant, state, field, page_size,
                          {**page.state, "mode": "full"})
    return _store_page(tenant_id, run, page)


def _rejection(tenant: Tenant, field: str, exc: ConnectorError) -> dict[str, Any]:
    message = changes.rejection_message(field, tenant.name, exc)
    log.error("tenant %s: %s", tenant.id, message)
    return {"change_error": message, "since": None, "pending": None}


def _company_condition(tenant: Tenant) -> tuple[str, list[str]]:
    """The company field of the customer set ("" when none) and its condition."""
    name = str((tenant.ifs_settings or {}).get("customer_company_field", "Company") or "")
    return name, [filter_eq(**{name: tenant.company})] if name else []


def _full_page(client: IfsODataClient, tenant: Tenant, state: dict[str, Any], field: str,
               page_size: int, updates: dict[str, Any]) -> _Page:
    page = _Page()
    page.state = dict(updates)
    company_field, conditions = _company_condition(tenant)
    after = str(state.get("after") or "")
    if not field:
        page.state["change_error"] = None  # the setting was removed: nothing to report
    elif not after and not state.get("fallback"):
        # Before the first page: the newest change now, the cursor of the runs after this one.
        page.state.update(_probe(client, tenant, field, conditions))
    if after:
        conditions = [*conditions, f"CustomerId gt {odata_literal(after)}"]
    rows = list(client.query(
        CUSTOMERS, "CustomerInfoSet", filter=" and ".join(conditions) or None,
        select=["CustomerId", company_field] if company_field else ["CustomerId"],
        orderby=["CustomerId"], top=page_size))
    page_ids = [str(c.get("CustomerId") or "") for c in rows]
    page.found = _emails(client, tenant, company_field, rows)
    page.more = len(page_ids) >= page_size
    page.state["after"] = page_ids[-1] if page_ids else after
    return page


def _probe(client: IfsODataClient, tenant: Tenant, field: str,
           conditions: list[str]) -> dict[str, Any]:
    try:
        rows = list(client.query(
            CUSTOMERS, "CustomerInfoSet", filter=" and ".join(conditions) or None,
            select=["CustomerId", field], orderby=[f"{field} desc", "CustomerId desc"], top=1))
    except ConnectorError as exc:
        if not changes.rejected(exc):
            raise
        return _rejection(tenant, field, exc)
    value = rows[0].get(field) if rows else None
    if value is None:
        return {"pending": None}  # no customer (or none with a change date) yet
    try:
        changes.change_literal(value)
    except ValueError:
        message = (f"IFS returned {value!r} for the change-date field {field!r} (tenant setting "
                   "enrichment_change_field), which is no date, number or text: enrichment "
                   "keeps to full paged passes")
        log.error("tenant %s: %s", tenant.id, message)
        return {"change_error": message, "pending": None}
    # No ids: the rows at this value are read again once (one written later in the same
    # second may sort before any id we could name).
    return {"pending": {"field": field, "value": value, "ids": []}}


def _changes_page(client: IfsODataClient, tenant: Tenant, state: dict[str, Any], field: str,
                  page_size: int) -> _Page:
    page = _Page()
    company_field, conditions = _company_condition(tenant)
    tip = state.get("tip") or None
    at = state.get("at")
    if at:
        conditions = [*conditions, changes.after_condition(field, at[0], str(at[1]))]
    elif tip is not None:
        conditions = [*conditions, changes.since_condition(field, tip["value"])]
    rows = list(client.query(
        CUSTOMERS, "CustomerInfoSet", filter=" and ".join(conditions) or None,
        select=["CustomerId", field, *([company_field] if company_field else [])],
        orderby=[field, "CustomerId"], top=page_size))
    keyed = [(row.get(field), str(row.get("CustomerId") or "")) for row in rows]
    fresh = [row for row, (value, cid) in zip(rows, keyed, strict=True)
             if not changes.already_read(tip, field, value, cid)]
    page.found = _emails(client, tenant, company_field, fresh)
    page.more = len(rows) >= page_size
    last = next(((v, c) for v, c in reversed(keyed) if v is not None and c), None)
    page.state = {"tip": changes.advance(tip, field, keyed),
                  "read": int(state.get("read", 0)) + len(fresh)}
    if last is not None:
        page.state["at"] = [last[0], last[1]]
    return page


def _emails(client: IfsODataClient, tenant: Tenant, company_field: str,
            rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The e-mail addresses of ``rows`` (of the tenant's company), in one ``$batch``."""
    method = str((tenant.ifs_settings or {}).get("email_method_id", "E_MAIL"))
    ids = []
    for row in rows:
        cid = str(row.get("CustomerId") or "")
        if cid and (company_field or tenant.company in (
                customer_companies(client, cid, row) or set())):
            ids.append(cid)
    found: list[tuple[str, str]] = []
    if not ids:
        return found
    query = query_string({"$filter": filter_eq(MethodId=method)})
    paths = [f"CustomerInfoSet{odata_key(CustomerId=cid)}/CommunicationMethods?{query}"
             for cid in ids]
    for cid, answer in zip(ids, client.read_batch(CUSTOMERS, paths), strict=True):
        if answer.status != 200 or not isinstance(answer.body, dict):
            continue  # a customer removed since the page was read
        for comm in client.rows_from(CUSTOMERS, "CommunicationMethods", answer.body):
            value = str((comm or {}).get("Value") or "").strip().lower()
            if "@" in value:
                found.append((value, cid))
    return found


def _store_page(tenant_id: int, run: str, page: _Page) -> bool:
    now = _now()
    with session_scope() as s:
        tenant = s.scalar(select(Tenant).where(Tenant.id == tenant_id).with_for_update())
        if tenant is None or (tenant.enrichment or {}).get("run") != run:
            return False
        for email, cid in page.found:
            index_customer(s, tenant_id, email, cid, origin="enrichment")
        state = dict(tenant.enrichment or {})
        state.update(page.state)
        state.update(pages=int(state.get("pages", 0)) + 1,
                     indexed=int(state.get("indexed", 0)) + len(page.found),
                     touched_at=now.isoformat())
        if not page.more:
            _complete(tenant_id, state, now)
        tenant.enrichment = state
    return page.more


def _complete(tenant_id: int, state: dict[str, Any], now: datetime) -> None:
    mode = state.get("mode") or "full"
    state.update(run=None, last_complete_at=now.isoformat(), last_mode=mode,
                 last_indexed=state["indexed"], last_pages=state["pages"])
    if mode == "changes":
        state.update(since=state.get("tip") or state.get("since"), change_error=None,
                     last_read=int(state.get("read", 0)))
    else:
        state.update(since=state.get("pending"), last_full_at=now.isoformat())
    for key in ("tip", "at", "pending", "read"):
        state.pop(key, None)
    log.info("tenant %s: enrichment complete (%s), %d e-mail(s) over %d page(s)", tenant_id,
             "changes only" if mode == "changes" else "full pass", state["indexed"],
             state["pages"])


def enrich(tenant_id: int, *, full: bool = False) -> int:
    """A whole run in this process (operator tooling, tests): every page in turn, waiting
    for the budget as an operator's command may. Returns how many e-mail addresses were
    indexed."""
    run = start_run(tenant_id, force=True, full=full) or ""
    with patience(PATIENCE_S):
        while enrich_page(tenant_id, run):
            pass
    return int(enrichment_status(tenant_id).get("last_indexed") or 0)


def enrichment_status(tenant_id: int) -> dict[str, Any]:
    """Progress of the current run and the last complete one (for ``status``)."""
    with session_scope() as s:
        tenant = s.get(Tenant, tenant_id)
        return dict(tenant.enrichment or {}) if tenant is not None else {}
