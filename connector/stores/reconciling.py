"""Building blocks of a store's reconciler: the per-source report, the window and the chunked
order comparison.

A reconciliation covers a :class:`Window` of orders by their creation date in the store (all of
them by default in the library, the last days in the CLI) and reads it in chunks: a page of
store orders, then exactly those orders from IFS (``CustomerPoNo eq … or …``) and their lines and
charges (``OrderNo eq … or …``), so it holds one chunk of orders at a time, never the history of
either side. What it keeps across chunks are the running totals and the window's PO numbers (to
find IFS orders with no store counterpart at the end). Every difference is either explained (a
failed or parked record with its reason) or reported as unexplained.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from connector.db import session_scope
from connector.ifs.client import IfsODataClient
from connector.ifs.odata import odata_literal
from connector.models import RecordLink, Source, StagedRecord
from connector.pipeline.executor import ORDERS

CENT = Decimal("0.01")
#: Store orders per chunk (one store page): what a reconciliation holds at a time.
CHUNK_SIZE = 50
#: Terms per IFS ``$filter`` (``CustomerPoNo eq … or …``): about 2 KB of URL, well under common
#: gateway limits (IFS publishes none; ``in`` is not supported, ifs §3).
FILTER_TERMS = 50

#: (store id, IFS PO number, currency, net ex tax) of one store order.
OrderRow = tuple[str, str, str, Decimal]


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """Orders created in ``[since, until)`` in the store (UTC; None: unbounded)."""

    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "since", _utc(self.since))
        object.__setattr__(self, "until", _utc(self.until))
        if self.since and self.until and self.since >= self.until:
            raise ValueError(f"the window is empty: since {self.since.isoformat()} is not "
                             f"before until {self.until.isoformat()}")

    @property
    def everything(self) -> bool:
        return self.since is None and self.until is None

    def label(self) -> str:
        if self.everything:
            return "all orders"
        lo = self.since.isoformat() if self.since else "the beginning"
        hi = self.until.isoformat() if self.until else "now"
        return f"orders created {lo} .. {hi}"

    def split(self, days: int) -> list[Window]:
        """Consecutive windows of ``days`` days covering this one (which needs a start)."""
        if days < 1:
            raise ValueError("a window is at least one day")
        if self.since is None:
            return [self]
        end = self.until or datetime.now(UTC)
        out, lo = [], self.since
        while lo < end:
            hi = min(lo + timedelta(days=days), end)
            out.append(Window(lo, hi if (hi < end or self.until) else None))
            lo = hi
        return out or [self]


ALL = Window()


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
    #: What was compared (:meth:`Window.label`), in how many chunks, the largest of them.
    window: str = "all orders"
    chunks: int = 0
    largest_chunk: int = 0

    @property
    def unexplained(self) -> int:
        return len(self.missing) + len(self.mismatched) + len(self.extra)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "unexplained": self.unexplained}


#: Called after each chunk with the report so far (progress on long runs).
ChunkHook = Callable[[SourceReport], None]


@dataclass(frozen=True)
class ReconcileOptions:
    """How a store's reconciler reads: the window, the chunk size, a progress hook."""

    window: Window = ALL
    chunk_size: int = CHUNK_SIZE
    on_chunk: ChunkHook | None = None


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def any_of(field_name: str, values: Sequence[str]) -> str:
    """``F eq 'a' or F eq 'b'``: IFS supports neither ``in`` nor lambdas (ifs §3)."""
    return " or ".join(f"{field_name} eq {odata_literal(v)}" for v in values)


def ifs_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ifs_orders_by_po(client: IfsODataClient, pos: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The IFS orders with these CustomerPoNo values, with their net value (lines ex tax +
    charges) in ``_net``: a few filtered requests per chunk, never the whole order set."""
    orders: dict[str, dict[str, Any]] = {}
    for batch in chunked(sorted(set(pos)), FILTER_TERMS):
        for o in client.query(ORDERS, "CustomerOrderSet", filter=any_of("CustomerPoNo", batch),
                              select=["OrderNo", "CustomerPoNo", "CustomerNo", "CurrencyCode",
                                      "LabelNote"]):
            orders[str(o["CustomerPoNo"])] = o
    by_no = {str(o["OrderNo"]): o for o in orders.values()}
    net: dict[str, Decimal] = defaultdict(Decimal)
    lines: dict[str, int] = defaultdict(int)
    for batch in chunked(sorted(by_no), FILTER_TERMS):
        wanted = any_of("OrderNo", batch)
        for line in client.query(ORDERS, "CustomerOrderLineSet", filter=wanted,
                                 select=["OrderNo", "BuyQtyDue", "SaleUnitPrice"]):
            order_no = str(line.get("OrderNo"))
            if order_no in by_no:
                net[order_no] += (Decimal(str(line.get("BuyQtyDue") or 0))
                                  * Decimal(str(line.get("SaleUnitPrice") or 0)))
                lines[order_no] += 1
        for charge in client.query(ORDERS, "CustomerOrderChargeSet", filter=wanted,
                                   select=["OrderNo", "ChargeAmount", "ChargedQty"]):
            order_no = str(charge.get("OrderNo"))
            if order_no in by_no:
                net[order_no] += (Decimal(str(charge.get("ChargeAmount") or 0))
                                  * Decimal(str(charge.get("ChargedQty") or 1)))
    for order_no, order in by_no.items():
        order["_net"] = net[order_no]
        order["_lines"] = lines[order_no]
    return orders


def ifs_pos_in_window(client: IfsODataClient, prefix: str, window: Window,
                      wanted_delivery_days: int) -> Iterator[str]:
    """PO numbers of the source's IFS orders in the window, read page by page. IFS knows no
    store creation date, but the connector sets ``WantedDeliveryDate`` to it plus the tenant's
    ``wanted_delivery_days``: the window shifted by that many days selects them."""
    parts = [f"startswith(CustomerPoNo,{odata_literal(prefix)})"]
    shift = timedelta(days=wanted_delivery_days)
    if window.since is not None:
        parts.append(f"WantedDeliveryDate ge {ifs_timestamp(window.since + shift)}")
    if window.until is not None:
        parts.append(f"WantedDeliveryDate lt {ifs_timestamp(window.until + shift)}")
    for o in client.query(ORDERS, "CustomerOrderSet", filter=" and ".join(parts),
                          select=["CustomerPoNo"]):
        yield str(o["CustomerPoNo"])


def explanations(source_id: int, external_ids: Iterable[str] | None = None
                 ) -> dict[tuple[str, str], dict[str, Any]]:
    """The latest failed/parked record per (entity, store id) — the reason a record is
    missing — of these store ids (all when None)."""
    wanted = None if external_ids is None else sorted(set(external_ids))
    with session_scope() as s:
        scope = [StagedRecord.source_id == source_id]
        if wanted is not None:
            scope.append(StagedRecord.external_id.in_(wanted))
        rows = s.scalars(select(StagedRecord).where(
            *scope, StagedRecord.state.in_(["failed", "parked"]))
            .order_by(StagedRecord.version)).all()
        out = {}
        for r in rows:
            out[(r.entity, r.external_id)] = {"record": r.id, "entity": r.entity,
                                              "store_id": r.external_id, "state": r.state,
                                              "reason": r.last_error}
        done = set(s.execute(select(StagedRecord.entity, StagedRecord.external_id).where(
            *scope, StagedRecord.state == "done")).tuples().all())
    return {k: v for k, v in out.items() if k not in done or v["state"] == "parked"}


def _totals(totals: dict[str, Decimal]) -> dict[str, str]:
    return {k: str(v.quantize(CENT)) for k, v in sorted(totals.items())}


class OrderComparison:
    """A source's orders compared with IFS one chunk at a time (:meth:`add`), then the IFS
    orders of the window that no store order claimed (:meth:`finish`)."""

    def __init__(self, report: SourceReport, client: IfsODataClient, *, prefix: str,
                 wanted_delivery_days: int, options: ReconcileOptions) -> None:
        self.report, self.client, self.options = report, client, options
        self.prefix, self.wanted_delivery_days = prefix, wanted_delivery_days
        self.store_net: dict[str, Decimal] = defaultdict(Decimal)
        self.ifs_net: dict[str, Decimal] = defaultdict(Decimal)
        self.seen: set[str] = set()
        report.window = options.window.label()

    def add(self, rows: Sequence[OrderRow],
            reasons: dict[tuple[str, str], dict[str, Any]]) -> None:
        report = self.report
        in_ifs = ifs_orders_by_po(self.client, [po for _, po, _, _ in rows])
        report.chunks += 1
        report.largest_chunk = max(report.largest_chunk, len(rows))
        report.store_orders += len(rows)
        report.ifs_orders += len(in_ifs)
        for _, _, currency, net in rows:
            self.store_net[currency] += net
        for o in in_ifs.values():
            self.ifs_net[str(o.get("CurrencyCode"))] += o["_net"]
        for store_id, po, _, expected in rows:
            self.seen.add(po)
            ifs_order = in_ifs.get(po)
            why = reasons.get(("order", store_id))
            if ifs_order is None:
                if why is not None:
                    report.explained.append(why)
                else:
                    report.missing.append(store_id)
                continue
            # Money to the cent, per order (docs/money.md): no tolerance per line.
            if ifs_order["_net"] != expected:
                if why is not None:  # e.g. a sequential load that failed half-way: replay it
                    report.explained.append(why)
                    continue
                report.mismatched.append({"store_id": store_id, "po": po,
                                          "store_net": str(expected),
                                          "ifs_net": str(ifs_order["_net"])})
                continue
            report.orders_exact += 1
        self._totals()
        if self.options.on_chunk is not None:
            self.options.on_chunk(report)

    def finish(self) -> None:
        """IFS orders of the window with no store counterpart: unexplained extras (their net
        counts in the IFS totals, as it did when reconciliation read every order at once)."""
        extra = sorted({po for po in ifs_pos_in_window(self.client, f"{self.prefix}-",
                                                       self.options.window,
                                                       self.wanted_delivery_days)
                        if po not in self.seen})
        for batch in chunked(extra, self.options.chunk_size):
            in_ifs = ifs_orders_by_po(self.client, batch)
            self.report.ifs_orders += len(in_ifs)
            for o in in_ifs.values():
                self.ifs_net[str(o.get("CurrencyCode"))] += o["_net"]
        self.report.extra = extra
        self._totals()

    def _totals(self) -> None:
        self.report.store_net = _totals(self.store_net)
        self.report.ifs_net = _totals(self.ifs_net)


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
