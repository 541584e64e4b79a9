"""Company-scoped identity (docs/money.md §3): an IFS customer is ours only if it belongs to the
tenant's company.

``CustomerId`` is unique across the whole IFS instance, not per company, and the connector's
ids are predictable (source prefix + store id): a customer with the same id may belong to
another company the IAM client can see (reference/ifs-cloud.md §11). Before the connector links,
adopts or patches a customer it found by id or by e-mail, it reads the customer's company data —
the entity's ``Company`` where the projection has it, else the per-company navigation
``CustomerInvoiceCompanies`` (ifs-cloud.md §4) — and refuses a customer of another company.
"""

from __future__ import annotations

from typing import Any

from connector.errors import DataError, NotFound
from connector.ifs.client import IfsODataClient
from connector.ifs.odata import odata_key

CUSTOMERS = "CustomerHandling"
COMPANY_NAV = "CustomerInvoiceCompanies"


def customer_companies(client: IfsODataClient, customer_id: str,
                       entity: dict[str, Any]) -> set[str] | None:
    """The companies ``customer_id`` belongs to, or None when IFS does not say."""
    company = entity.get("Company")
    if isinstance(company, str) and company:
        return {company}
    path = f"CustomerInfoSet{odata_key(CustomerId=customer_id)}/{COMPANY_NAV}"
    try:
        rows = list(client.query(CUSTOMERS, path, select=["Company"]))
    except NotFound:
        return None
    return {str(r["Company"]) for r in rows if r.get("Company")}


def conflict_reason(customer_id: str, company: str, owners: set[str] | None,
                    tenant_name: str) -> str | None:
    """Why ``customer_id`` must not be used for ``company`` (None: it may)."""
    if owners is not None and company in owners:
        return None
    fix = (f"give this tenant its own customer ids: ml-connector tenant set {tenant_name} "
           "--setting customer_id_prefix=<short code> (see docs/money.md §3), then replay")
    if owners is None:
        return (f"IFS does not say which company customer {customer_id} belongs to (no "
                f"Company on the customer and no {COMPANY_NAV}); it is not linked or changed "
                f"for company {company}. Check the customer in IFS, or {fix}")
    others = (f"company {', '.join(sorted(owners))}" if len(owners) == 1 else
              f"companies {', '.join(sorted(owners))}" if owners else "no company")
    return (f"IFS customer {customer_id} belongs to {others}, not to this tenant's company "
            f"{company}: it was not linked or changed. The ids collide; {fix}")


def ensure_own_customer(client: IfsODataClient, customer_id: str, entity: dict[str, Any],
                        company: str, tenant_name: str) -> None:
    """Raise :class:`DataError` (the record fails, replayable) unless the customer belongs to
    ``company``."""
    reason = conflict_reason(customer_id, company,
                             customer_companies(client, customer_id, entity), tenant_name)
    if reason is not None:
        raise DataError(reason, code="CUSTOMER_OF_ANOTHER_COMPANY")
