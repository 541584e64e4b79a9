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
page at a time, keyset on ``CustomerId`` (``$filter=CustomerId gt 'last'`` ordered by it, so
rows added or removed meanwhile never shift the pages), and reads the page's
``CommunicationMethods`` in one ``$batch`` of GETs (``$expand`` of a collection is not
supported, ifs-cloud.md §3): two IFS requests per page instead of one per customer. One task
per page; the position is kept on the tenant (``tenants.enrichment``) after every page, so a
page that is deferred for budget or a worker that dies resumes where the run was. Requests are
drawn as ``background``: enrichment never takes more than its share while records wait.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from connector.db import session_scope
from connector.ifs.odata import filter_eq, odata_key, odata_literal, query_string
from connector.models import Tenant
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


def _now() -> datetime:
    return datetime.now(UTC)


def start_run(tenant_id: int, *, now: datetime | None = None,
              force: bool = False) -> str | None:
    """Begin a run for the tenant unless one is under way (``force``: replace it); returns
    its id (None: one is under way)."""
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
        tenant.enrichment = {**state, "run": run, "after": "", "pages": 0, "indexed": 0,
                             "started_at": now.isoformat(), "touched_at": now.isoformat()}
        return run


def enrich_page(tenant_id: int, run: str, *, page_size: int = PAGE_SIZE) -> bool:
    """Read the run's next page of IFS customers and index their e-mail addresses. Returns
    True when there is more to read. A page of a run that is not the tenant's current one (a
    stale message) does nothing."""
    with session_scope() as s:
        tenant = s.get(Tenant, tenant_id)
        if tenant is None or (tenant.enrichment or {}).get("run") != run:
            return False
        after = str((tenant.enrichment or {}).get("after") or "")
        method = str((tenant.ifs_settings or {}).get("email_method_id", "E_MAIL"))
        field = str((tenant.ifs_settings or {}).get("customer_company_field", "Company") or "")
        company = tenant.company
        s.expunge(tenant)
    client = ifs_client(tenant, "background")
    # Only the tenant's company, a page at a time in CustomerId order (keyset).
    conditions = [filter_eq(**{field: company})] if field else []
    if after:
        conditions.append(f"CustomerId gt {odata_literal(after)}")
    rows = list(client.query(
        CUSTOMERS, "CustomerInfoSet", filter=" and ".join(conditions) or None,
        select=["CustomerId", field] if field else ["CustomerId"], orderby=["CustomerId"],
        top=page_size))
    page_ids = [str(c.get("CustomerId") or "") for c in rows]
    ids = [cid for cid, row in zip(page_ids, rows, strict=True) if cid and (
        field or company in (customer_companies(client, cid, row) or set()))]
    found: list[tuple[str, str]] = []
    if ids:
        query = query_string({"$filter": filter_eq(MethodId=method)})
        paths = [f"CustomerInfoSet{odata_key(CustomerId=cid)}/CommunicationMethods?{query}"
                 for cid in ids]
        for cid, answer in zip(ids, client.read_batch(CUSTOMERS, paths), strict=True):
            if answer.status != 200 or not isinstance(answer.body, dict):
                continue  # a customer removed since the page was read
            for comm in answer.body.get("value") or []:
                value = str((comm or {}).get("Value") or "").strip().lower()
                if "@" in value:
                    found.append((value, cid))
    more = len(page_ids) >= page_size
    now = _now()
    with session_scope() as s:
        tenant = s.scalar(select(Tenant).where(Tenant.id == tenant_id).with_for_update())
        if tenant is None or (tenant.enrichment or {}).get("run") != run:
            return False
        for email, cid in found:
            index_customer(s, tenant_id, email, cid, origin="enrichment")
        state = dict(tenant.enrichment or {})
        state.update(after=page_ids[-1] if page_ids else after,
                     pages=int(state.get("pages", 0)) + 1,
                     indexed=int(state.get("indexed", 0)) + len(found),
                     touched_at=now.isoformat())
        if not more:
            state.update(run=None, last_complete_at=now.isoformat(),
                         last_indexed=state["indexed"], last_pages=state["pages"])
            log.info("tenant %s: enrichment complete, %d e-mail(s) over %d page(s)", tenant_id,
                     state["indexed"], state["pages"])
        tenant.enrichment = state
    return more


def enrich(tenant_id: int) -> int:
    """A whole run in this process (operator tooling, tests): every page in turn, waiting
    for the budget as an operator's command may. Returns how many e-mail addresses were
    indexed."""
    run = start_run(tenant_id, force=True) or ""
    with patience(PATIENCE_S):
        while enrich_page(tenant_id, run):
            pass
    return int(enrichment_status(tenant_id).get("last_indexed") or 0)


def enrichment_status(tenant_id: int) -> dict[str, Any]:
    """Progress of the current run and the last complete one (for ``status``)."""
    with session_scope() as s:
        tenant = s.get(Tenant, tenant_id)
        return dict(tenant.enrichment or {}) if tenant is not None else {}
