"""BigCommerce vs IFS: orders and one GL voucher per captured payment, shipment and refund.

Reads the store's orders created in the window one page (chunk) at a time; for each chunk its
orders' IFS counterparts and the vouchers its payments, shipments and refunds should have
posted (``VoucherText2 eq … or …``), never the whole voucher history."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from connector.ifs.client import IfsODataClient
from connector.ifs.odata import odata_literal
from connector.models import Source, Tenant
from connector.pipeline.targets import mapping_context
from connector.stores.bigcommerce.client import BigCommerceClient
from connector.stores.bigcommerce.flow import CAPTURE_EVENTS
from connector.stores.bigcommerce.settings import bc_client
from connector.stores.bigcommerce.voucher_mapping import voucher_text
from connector.stores.reconciling import (
    FILTER_TERMS,
    OrderComparison,
    OrderRow,
    ReconcileOptions,
    SourceReport,
    any_of,
    chunked,
    explanations,
    linked_customers,
    sync_floor,
)

VOUCHERS = "VoucherRowsAnalysis"


def _posted(client: IfsODataClient, company: str, texts: list[str]) -> set[str]:
    """Which of these voucher texts IFS holds (the company's voucher rows)."""
    found: set[str] = set()
    for batch in chunked(sorted(texts), FILTER_TERMS):
        rows = client.query(VOUCHERS, "VoucherRowSet",
                            filter=(f"Company eq {odata_literal(company)} and "
                                    f"({any_of('VoucherText2', batch)})"),
                            select=["VoucherText2", "VoucherNo"])
        found.update(str(r.get("VoucherText2")) for r in rows)
    return found


def _all_posted(client: IfsODataClient, company: str, prefix: str) -> set[str]:
    rows = client.query(VOUCHERS, "VoucherRowSet",
                        filter=(f"Company eq {odata_literal(company)} and "
                                f"startswith(VoucherText2,{odata_literal(prefix)})"),
                        select=["VoucherText2", "VoucherNo"])
    return {str(r.get("VoucherText2")) for r in rows}


def _expected_vouchers(bc: BigCommerceClient, orders: list[dict[str, Any]]
                       ) -> dict[str, tuple[str, str]]:
    """Voucher text -> (entity, event id) of each captured payment, shipment and refund."""
    store_hash = bc.store_hash
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
    return expected


def reconcile_bc(tenant: Tenant, source: Source, client: IfsODataClient,
                 options: ReconcileOptions | None = None) -> SourceReport:
    """BigCommerce: orders (net ex tax) and one voucher per captured payment, shipment and
    refund, each missing one explained by its failed or parked record. Vouchers in IFS with no
    store event are looked for when the window is everything (a voucher carries no order
    date to window it by)."""
    opts = options or ReconcileOptions()
    report = SourceReport(source.name, source.system)
    ctx = mapping_context(tenant, source)
    bc = bc_client(source, "background")
    comparison = OrderComparison(report, client, prefix=ctx.prefix,
                                 wanted_delivery_days=ctx.wanted_delivery_days, options=opts)
    counts: dict[str, int] = defaultdict(int)
    expected_all: set[str] = set()
    pages = bc.iter_order_pages_created(opts.window.since, opts.window.until,
                                        modified_since=sync_floor(source),
                                        limit=opts.chunk_size)
    for page in pages:
        # Incomplete orders (status 0) are abandoned checkouts, never synced (bigcommerce.md §2).
        orders = [o for o in page if int(o.get("status_id") or 0)]
        if not orders:
            continue
        expected = _expected_vouchers(bc, orders)
        reasons = explanations(source.id, [*(str(o["id"]) for o in orders),
                                           *(event_id for _, event_id in expected.values())])
        rows: list[OrderRow] = [
            (str(o["id"]), f"{ctx.prefix}-{o['id']}",
             str(o.get("default_currency_code") or o.get("currency_code")),
             Decimal(str(o.get("total_ex_tax") or 0))) for o in orders]
        comparison.add(rows, reasons)
        posted = _posted(client, tenant.company, list(expected))
        for text, (entity, event_id) in sorted(expected.items()):
            if text in posted:
                counts[entity] += 1
                continue
            why = reasons.get((entity, event_id))
            if why is not None:
                report.explained.append(why)
            else:
                report.missing.append(f"{entity} {event_id} (no voucher {text})")
        if opts.window.everything:
            expected_all.update(expected)
    comparison.finish()
    if opts.window.everything:
        report.extra += sorted(_all_posted(client, tenant.company, f"bc:{bc.store_hash}:")
                               - expected_all)
    report.vouchers = dict(counts)
    report.store_customers_linked = linked_customers(source.id)
    return report
