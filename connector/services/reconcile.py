"""Reconciliation: what the store holds against what IFS holds, with every difference either
explained (a failed or parked record with its reason) or reported as unexplained.

Reads both sides through the same clients the pipeline uses. IFS lines and charges are read
set-wise (``CustomerOrderLineSet``, ``CustomerOrderChargeSet``) rather than per order, so the
cost is a few pages, not one request per order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from connector.db import session_scope
from connector.ifs.client import IfsODataClient
from connector.ifs.odata import odata_literal
from connector.models import RecordLink, Source, StagedRecord, Tenant
from connector.services.pipeline import ORDERS
from connector.services.targets import ifs_client, mapping_context

CENT = Decimal("0.01")


@dataclass
class SourceReport:
    source: str
    system: str
    store_orders: int = 0
    ifs_orders: int = 0
    store_net: dict[str, str] = field(default_factory=dict)
    ifs_net: dict[str, str] = field(default_factory=dict)
    store_customers_linked: int = 0
    explained: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    mismatched: list[dict[str, Any]] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    vouchers: dict[str, int] = field(default_factory=dict)

    @property
    def unexplained(self) -> int:
        return len(self.missing) + len(self.mismatched) + len(self.extra)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "unexplained": self.unexplained}


@dataclass
class Reconciliation:
    tenant: str
    sources: list[SourceReport]

    @property
    def unexplained(self) -> int:
        return sum(s.unexplained for s in self.sources)

    def as_dict(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "unexplained": self.unexplained,
                "sources": [s.as_dict() for s in self.sources]}


def _sum_by_currency(items: Iterable[tuple[str, Decimal]]) -> dict[str, str]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for currency, amount in items:
        totals[currency] += amount
    return {k: str(v.quantize(CENT)) for k, v in sorted(totals.items())}


def ifs_orders_with_prefix(client: IfsODataClient, prefix: str) -> dict[str, dict[str, Any]]:
    """IFS orders whose CustomerPoNo starts with the source prefix, with their net value
    (lines ex tax + charges)."""
    orders = {
        str(o["CustomerPoNo"]): o for o in client.query(
            ORDERS, "CustomerOrderSet",
            filter=f"startswith(CustomerPoNo,{odata_literal(prefix)})",
            select=["OrderNo", "CustomerPoNo", "CustomerNo", "CurrencyCode", "LabelNote"])
    }
    by_no = {str(o["OrderNo"]): o for o in orders.values()}
    net: dict[str, Decimal] = defaultdict(Decimal)
    lines: dict[str, int] = defaultdict(int)
    for line in client.query(ORDERS, "CustomerOrderLineSet",
                             select=["OrderNo", "BuyQtyDue", "SaleUnitPrice"]):
        order_no = str(line.get("OrderNo"))
        if order_no in by_no:
            net[order_no] += (Decimal(str(line.get("BuyQtyDue") or 0))
                              * Decimal(str(line.get("SaleUnitPrice") or 0)))
            lines[order_no] += 1
    for charge in client.query(ORDERS, "CustomerOrderChargeSet",
                               select=["OrderNo", "ChargeAmount", "ChargedQty"]):
        order_no = str(charge.get("OrderNo"))
        if order_no in by_no:
            net[order_no] += (Decimal(str(charge.get("ChargeAmount") or 0))
                              * Decimal(str(charge.get("ChargedQty") or 1)))
    for order_no, order in by_no.items():
        order["_net"] = net[order_no]
        order["_lines"] = lines[order_no]
    return orders


def _explanations(source_id: int) -> dict[tuple[str, str], dict[str, Any]]:
    """The latest failed/parked record per (entity, store id): the reason a record is missing."""
    with session_scope() as s:
        rows = s.scalars(select(StagedRecord).where(
            StagedRecord.source_id == source_id,
            StagedRecord.state.in_(["failed", "parked"])).order_by(StagedRecord.version)).all()
        out = {}
        for r in rows:
            out[(r.entity, r.external_id)] = {"record": r.id, "entity": r.entity,
                                              "store_id": r.external_id, "state": r.state,
                                              "reason": r.last_error}
        done = set(s.execute(select(StagedRecord.entity, StagedRecord.external_id).where(
            StagedRecord.source_id == source_id, StagedRecord.state == "done")).tuples().all())
    return {k: v for k, v in out.items() if k not in done or v["state"] == "parked"}


def _compare_orders(report: SourceReport, store: list[tuple[str, str, str, Decimal]],
                    in_ifs: dict[str, dict[str, Any]],
                    reasons: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Fill the order part of ``report`` from (store id, IFS PO number, currency, net) rows."""
    report.store_orders = len(store)
    report.store_net = _sum_by_currency((currency, net) for _, _, currency, net in store)
    report.ifs_orders = len(in_ifs)
    report.ifs_net = _sum_by_currency((str(o.get("CurrencyCode")), o["_net"])
                                      for o in in_ifs.values())
    for store_id, po, _, expected in store:
        ifs_order = in_ifs.get(po)
        if ifs_order is None:
            why = reasons.get(("order", store_id))
            if why is not None:
                report.explained.append(why)
            else:
                report.missing.append(store_id)
            continue
        if abs(ifs_order["_net"] - expected) > CENT * max(1, int(ifs_order["_lines"])):
            why = reasons.get(("order", store_id))
            if why is not None:  # e.g. a sequential load that failed half-way: replay it
                report.explained.append(why)
                continue
            report.mismatched.append({"store_id": store_id, "po": po, "store_net": str(expected),
                                      "ifs_net": str(ifs_order["_net"].quantize(CENT))})
    report.extra = sorted(set(in_ifs) - {po for _, po, _, _ in store})


def _linked_customers(source_id: int) -> int:
    with session_scope() as s:
        return len(s.scalars(select(RecordLink.id).where(
            RecordLink.source_id == source_id, RecordLink.entity == "customer")).all())


def reconcile_woo(tenant: Tenant, source: Source, client: IfsODataClient) -> SourceReport:
    from connector.services.woo import woo_client

    report = SourceReport(source.name, source.system)
    ctx = mapping_context(tenant, source)
    store = [(str(o["id"]), f"{ctx.prefix}-{o.get('number') or o.get('id')}",
              str(o.get("currency")),
              Decimal(str(o.get("total"))) - Decimal(str(o.get("total_tax"))))
             for o in woo_client(source).iter_orders_since(None)]
    _compare_orders(report, store, ifs_orders_with_prefix(client, f"{ctx.prefix}-"),
                    _explanations(source.id))
    report.store_customers_linked = _linked_customers(source.id)
    return report


def _ifs_voucher_texts(client: IfsODataClient, company: str, prefix: str) -> set[str]:
    rows = client.query("VoucherRowsAnalysis", "VoucherRowSet",
                        filter=(f"Company eq {odata_literal(company)} and "
                                f"startswith(VoucherText2,{odata_literal(prefix)})"),
                        select=["VoucherText2", "VoucherNo"])
    return {str(r.get("VoucherText2")) for r in rows}


def reconcile_bc(tenant: Tenant, source: Source, client: IfsODataClient) -> SourceReport:
    """BigCommerce: orders (net ex tax) and one voucher per captured payment, shipment and
    refund, each missing one explained by its failed or parked record."""
    from connector.mapping.bigcommerce import voucher_text
    from connector.services.bigcommerce import CAPTURE_EVENTS, bc_client

    report = SourceReport(source.name, source.system)
    ctx = mapping_context(tenant, source)
    bc = bc_client(source)
    store_hash = bc.store_hash
    # Incomplete orders (status 0) are abandoned checkouts, never synced (bigcommerce.md §2).
    orders = [o for o in bc.iter_orders_modified_since(None) if int(o.get("status_id") or 0)]
    store = [(str(o["id"]), f"{ctx.prefix}-{o['id']}",
              str(o.get("default_currency_code") or o.get("currency_code")),
              Decimal(str(o.get("total_ex_tax") or 0))) for o in orders]
    reasons = _explanations(source.id)
    _compare_orders(report, store, ifs_orders_with_prefix(client, f"{ctx.prefix}-"), reasons)
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
    report.store_customers_linked = _linked_customers(source.id)
    return report


RECONCILERS = {"woocommerce": reconcile_woo, "bigcommerce": reconcile_bc}


def reconcile(tenant_name: str) -> Reconciliation:
    with session_scope() as s:
        tenant = s.scalar(select(Tenant).where(Tenant.name == tenant_name))
        if tenant is None:
            raise ValueError(f"unknown tenant {tenant_name!r}")
        sources = list(s.scalars(select(Source).where(Source.tenant_id == tenant.id)
                                 .order_by(Source.id)))
    client = ifs_client(tenant)
    client.budget = None  # an operator's one-off read; not worth throttling against the fleet
    reports = []
    for source in sources:
        fn = RECONCILERS.get(source.system)
        if fn is not None:
            reports.append(fn(tenant, source, client))
    return Reconciliation(tenant.name, reports)


def render(rec: Reconciliation) -> str:
    """The human-readable reconciliation."""
    out = [f"Reconciliation for tenant {rec.tenant}"]
    for r in rec.sources:
        out.append(f"  {r.source} ({r.system})")
        out.append(f"    orders in store: {r.store_orders:>6}   net {r.store_net}")
        out.append(f"    orders in IFS:   {r.ifs_orders:>6}   net {r.ifs_net}")
        if r.vouchers:
            out.append("    vouchers: " + ", ".join(f"{k} {v}" for k, v in r.vouchers.items()))
        out.append(f"    customers linked: {r.store_customers_linked}")
        if r.explained:
            out.append(f"    explained differences ({len(r.explained)}):")
            for e in r.explained:
                out.append(f"      {e['entity']} {e['store_id']} [{e['state']}]: {e['reason']}")
        for sid in r.missing:
            out.append(f"    UNEXPLAINED: store record {sid} is not in IFS and has no failed "
                       "record")
        for m in r.mismatched:
            out.append(f"    UNEXPLAINED: order {m['store_id']} net {m['store_net']} in the store "
                       f"but {m['ifs_net']} in IFS")
        for po in r.extra:
            out.append(f"    UNEXPLAINED: IFS record {po} has no store counterpart")
    out.append(f"Unexplained differences: {rec.unexplained}")
    return "\n".join(out)
