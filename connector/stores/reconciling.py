"""Building blocks of a store's reconciler: the per-source report and the order comparison.

Reads both sides through the same clients the pipeline uses. IFS lines and charges are read
set-wise (``CustomerOrderLineSet``, ``CustomerOrderChargeSet``) rather than per order, so the
cost is a few pages, not one request per order. Every difference is either explained (a failed
or parked record with its reason) or reported as unexplained.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from connector.db import session_scope
from connector.ifs.client import IfsODataClient
from connector.ifs.odata import odata_literal
from connector.models import RecordLink, Source, StagedRecord
from connector.pipeline.executor import ORDERS

CENT = Decimal("0.01")


@dataclass
class SourceReport:
    source: str
    system: str
    store_orders: int = 0
    ifs_orders: int = 0
    store_net: dict[str, str] = field(default_factory=dict)
    ifs_net: dict[str, str] = field(default_factory=dict)
    #: Orders in both systems whose IFS net (lines + charges) equals the store's net exactly.
    orders_exact: int = 0
    store_customers_linked: int = 0
    explained: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    mismatched: list[dict[str, Any]] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    vouchers: dict[str, int] = field(default_factory=dict)
    #: Why the source could not be reconciled (None: it was)
    error: str | None = None

    @property
    def unexplained(self) -> int:
        return len(self.missing) + len(self.mismatched) + len(self.extra)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "unexplained": self.unexplained}


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


def explanations(source_id: int) -> dict[tuple[str, str], dict[str, Any]]:
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


def compare_orders(report: SourceReport, store: list[tuple[str, str, str, Decimal]],
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
        # Money to the cent, per order (docs/money.md): no tolerance per line.
        if ifs_order["_net"] != expected:
            why = reasons.get(("order", store_id))
            if why is not None:  # e.g. a sequential load that failed half-way: replay it
                report.explained.append(why)
                continue
            report.mismatched.append({"store_id": store_id, "po": po, "store_net": str(expected),
                                      "ifs_net": str(ifs_order["_net"])})
            continue
        report.orders_exact += 1
    report.extra = sorted(set(in_ifs) - {po for _, po, _, _ in store})


def sync_floor(source: Source) -> datetime | None:
    """The oldest modification time the source syncs from (its start date, moved back by a
    backfill); reconciliation compares the store's orders from there on."""
    raw = (source.settings or {}).get("start_date")
    if not raw:
        return None
    moment = datetime.fromisoformat(str(raw))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def linked_customers(source_id: int) -> int:
    with session_scope() as s:
        return len(s.scalars(select(RecordLink.id).where(
            RecordLink.source_id == source_id, RecordLink.entity == "customer")).all())
