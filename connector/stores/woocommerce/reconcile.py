"""WooCommerce vs IFS: every order (net ex tax) in IFS, or explained by its failed record.

Reads the store's orders created in the window one page (chunk) at a time and each chunk's
counterparts from IFS (:class:`connector.stores.reconciling.OrderComparison`)."""

from __future__ import annotations

from decimal import Decimal

from connector.ifs.client import IfsODataClient
from connector.models import Source, Tenant
from connector.pipeline.targets import mapping_context
from connector.stores.reconciling import (
    OrderComparison,
    OrderRow,
    ReconcileOptions,
    SourceReport,
    explanations,
    linked_customers,
    sync_floor,
)
from connector.stores.woocommerce.flow import woo_client


def reconcile_woo(tenant: Tenant, source: Source, client: IfsODataClient,
                  options: ReconcileOptions | None = None) -> SourceReport:
    opts = options or ReconcileOptions()
    report = SourceReport(source.name, source.system)
    ctx = mapping_context(tenant, source)
    comparison = OrderComparison(report, client, prefix=ctx.prefix,
                                 wanted_delivery_days=ctx.wanted_delivery_days, options=opts)
    pages = woo_client(source, "background").iter_order_pages_created(
        opts.window.since, opts.window.until, modified_after=sync_floor(source),
        per_page=opts.chunk_size)
    for page in pages:
        rows: list[OrderRow] = [
            (str(o["id"]), f"{ctx.prefix}-{o.get('number') or o.get('id')}",
             str(o.get("currency")),
             Decimal(str(o.get("total"))) - Decimal(str(o.get("total_tax"))))
            for o in page]
        comparison.add(rows, explanations(source.id, [r[0] for r in rows]))
    comparison.finish()
    report.store_customers_linked = linked_customers(source.id)
    return report
