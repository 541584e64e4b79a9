"""WooCommerce vs IFS: every order (net ex tax) in IFS, or explained by its failed record."""

from __future__ import annotations

from decimal import Decimal

from connector.ifs.client import IfsODataClient
from connector.models import Source, Tenant
from connector.pipeline.targets import mapping_context
from connector.stores.reconciling import (
    SourceReport,
    compare_orders,
    explanations,
    ifs_orders_with_prefix,
    linked_customers,
    sync_floor,
)
from connector.stores.woocommerce.flow import woo_client


def reconcile_woo(tenant: Tenant, source: Source, client: IfsODataClient) -> SourceReport:
    report = SourceReport(source.name, source.system)
    ctx = mapping_context(tenant, source)
    store = [(str(o["id"]), f"{ctx.prefix}-{o.get('number') or o.get('id')}",
              str(o.get("currency")),
              Decimal(str(o.get("total"))) - Decimal(str(o.get("total_tax"))))
             for o in woo_client(source, "background").iter_orders_since(sync_floor(source))]
    compare_orders(report, store, ifs_orders_with_prefix(client, f"{ctx.prefix}-"),
                    explanations(source.id))
    report.store_customers_linked = linked_customers(source.id)
    return report
