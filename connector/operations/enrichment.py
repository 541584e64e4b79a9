"""IFS enrichment (ifs-cloud.md Decisions 10): learn which IFS customers exist, by e-mail.

OData on IFS has no lambda filters over navigation collections, so "the customer whose e-mail is
x" cannot be asked directly. A periodic poll reads ``CustomerInfoSet`` and each customer's
``CommunicationMethods`` and fills ``customer_index`` — so customers created in IFS by hand are
matched (BigCommerce orders) instead of duplicated.

Only the tenant's company is indexed (docs/money.md §3): the IAM client may see customers of
other companies, and an order must never be matched to one of them. The customer set is
filtered on ``Company`` (IFS setting ``customer_company_field``; empty where the projection has
no such field, and then each customer's company data is read instead).
"""

from __future__ import annotations

import logging

from connector.db import session_scope
from connector.ifs.odata import filter_eq, odata_key
from connector.models import Tenant
from connector.pipeline.executor import CUSTOMERS
from connector.pipeline.identity import customer_companies
from connector.pipeline.links import index_customer
from connector.pipeline.targets import ifs_client

log = logging.getLogger(__name__)


def enrich(tenant_id: int) -> int:
    """Index every IFS customer's e-mail addresses. Returns how many were indexed."""
    with session_scope() as s:
        tenant = s.get(Tenant, tenant_id)
        assert tenant is not None
        method = str((tenant.ifs_settings or {}).get("email_method_id", "E_MAIL"))
        field = str((tenant.ifs_settings or {}).get("customer_company_field", "Company") or "")
        company = tenant.company
    client = ifs_client(tenant)
    found: list[tuple[str, str]] = []
    if field:
        rows = client.query(CUSTOMERS, "CustomerInfoSet", select=["CustomerId", field],
                            filter=filter_eq(**{field: company}))
    else:
        rows = client.query(CUSTOMERS, "CustomerInfoSet", select=["CustomerId"])
    for customer in rows:
        cid = str(customer.get("CustomerId") or "")
        if not cid:
            continue
        if not field and company not in (customer_companies(client, cid, customer) or set()):
            continue
        path = f"CustomerInfoSet{odata_key(CustomerId=cid)}/CommunicationMethods"
        for comm in client.query(CUSTOMERS, path, filter=filter_eq(MethodId=method)):
            value = str(comm.get("Value") or "").strip().lower()
            if "@" in value:
                found.append((value, cid))
    with session_scope() as s:
        for email, cid in found:
            index_customer(s, tenant_id, email, cid, origin="enrichment")
    log.info("tenant %s: indexed %d IFS customer e-mail(s)", tenant_id, len(found))
    return len(found)
