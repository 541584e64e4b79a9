"""BigCommerce vs IFS: orders and one GL voucher per captured payment, shipment and refund."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from connector.ifs.client import IfsODataClient
from connector.ifs.odata import odata_literal
from connector.models import Source, Tenant
from connector.pipeline.targets import mapping_context
from connector.stores.bigcommerce.flow import CAPTURE_EVENTS
from connector.stores.bigcommerce.settings import bc_client
from connector.stores.bigcommerce.voucher_mapping import voucher_text
from connector.stores.reconciling import (
    SourceReport,
    compare_orders,
    explanations,
    ifs_orders_with_prefix,
    linked_customers,
    sync_floor,
)


def _ifs_voucher_texts(client: IfsODataClient, company: str, prefix: str) -> set[str]:
    rows = client.query("VoucherRowsAnalysis", "VoucherRowSet",
                        filter=(f"Company eq {odata_literal(company)} and "
                                f"startswith(VoucherText2,{odata_literal(prefix)})"),
                        select=["VoucherText2", "VoucherNo"])
    return {str(r.get("VoucherText2")) for r in rows}


def reconcile_bc(tenant: Tenant, source: Source, client: IfsODataClient) -> SourceReport:
    """BigCommerce: orders (net ex tax) and one voucher per captured payment, shipment and
    refund, each missing one explained by its failed or parked record."""
    report = SourceReport(source.name, source.system)
    ctx = mapping_context(tenant, source)
    bc = bc_client(source, "background")
    store_hash = bc.store_hash
    # Incomplete orders (status 0) are abandoned checkouts, never synced (bigcommerce.md §2).
    orders = [o for o in bc.iter_orders_modified_since(sync_floor(source))
              if int(o.get("status_id") or 0)]
    store = [(str(o["id"]), f"{ctx.prefix}-{o['id']}",
              str(o.get("default_currency_code") or o.get("currency_code")),
              Decimal(str(o.get("total_ex_tax") or 0))) for o in orders]
    reasons = explanations(source.id)
    compare_orders(report, store, ifs_orders_with_prefix(client, f"{ctx.prefix}-"), reasons)
    expected: dict[str, tuple[str, str]] = {}
    for order in orders:
        oid = int(order["id"])
        for txn in bc.get_transactions(oid):
            if txn.get("event") in CAPTURE_EVENTS and txn.get("status") == "ok":
                expected[voucher_text(store_hash, "payment", txn["id"])] = (
                    "payment", str(txn["id"]))
        if int(order.get("items_shipped") or 0) > 0 or order.get("date_shipped"):
            for shipment in bc.get_shipments(oid):
                expected[voucher_text(store_hash, "shipment", shipment["id"])] = (
                    "shipment", str(shipment["id"]))
        if Decimal(str(order.get("refunded_amount") or 0)):
            for refund in bc.get_refunds(oid):
                expected[voucher_text(store_hash, "refund", refund["id"])] = (
                    "refund", str(refund["id"]))
    posted = _ifs_voucher_texts(client, tenant.company, f"bc:{store_hash}:")
    counts: dict[str, int] = defaultdict(int)
    for text, (entity, event_id) in sorted(expected.items()):
        if text in posted:
            counts[entity] += 1
            continue
        why = reasons.get((entity, event_id))
        if why is not None:
            report.explained.append(why)
        else:
            report.missing.append(f"{entity} {event_id} (no voucher {text})")
    report.extra += sorted(posted - set(expected))
    report.vouchers = dict(counts)
    report.store_customers_linked = linked_customers(source.id)
    return report
