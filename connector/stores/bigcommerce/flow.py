"""BigCommerce flow: fetch and stage (fallback polling and webhook fetch-by-id; design.md §3,
``reference/bigcommerce.md``).

What is staged, per changed order (bc decision 4: the webhook and the poll path stage exactly the
same record keys, so they dedupe on ``(entity, external id, version)``):

* ``order`` — the v2 order with its ``products`` and ``shipping_addresses`` in one payload;
* ``payment`` — each ``capture``/``purchase`` transaction with status ``ok`` (v3, bc §3);
* ``shipment`` — each shipment, with the order's product lines (to value the shipped items);
* ``refund`` — each refund (v3 ``payment_actions/refunds``).

Versions are UTC timestamps ``YYYY-MM-DDTHH:MM:SSZ`` so they sort as strings
(:mod:`~connector.stores.bigcommerce.versions`). The planners that turn these records into IFS
plans are :mod:`~connector.stores.bigcommerce.planners`.

Under ``bc_customer_policy`` ``skip`` (the default) IFS is the customer master, so BigCommerce
customers are not copied: the customers stream idles (its cursor does not move, so switching to
``create`` later loses nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.db import session_scope
from connector.errors import NotFound
from connector.models import Source, SyncCursor, Tenant
from connector.pipeline import records
from connector.pipeline.dispatch import advance_cursor
from connector.pipeline.records import Incoming
from connector.stores.bigcommerce.client import BigCommerceClient
from connector.stores.bigcommerce.order_reads import (
    OrderReads,
    order_reads,
    read_order,
    read_order_parts,
)
from connector.stores.bigcommerce.settings import bc_client, customer_policy, setting
from connector.stores.bigcommerce.versions import customer_version, order_version, stamp
from connector.stores.mapping import MappingError

log = logging.getLogger(__name__)

ORDER_BATCH = 20  # orders staged per transaction (each costs up to 4 store requests)
CUSTOMER_BATCH = 100
#: Transactions that mean money was captured: ``capture`` after an authorization, or
#: ``purchase`` (authorize and capture in one step) — bc §3 event list.
CAPTURE_EVENTS = ("capture", "purchase")


# --- fetch ----------------------------------------------------------------------------------


def _amount_is_zero(value: object) -> bool:
    try:
        return float(str(value or "0")) == 0.0
    except ValueError:
        return False


def order_records(client: BigCommerceClient, order: dict[str, Any],
                  reads: OrderReads | None = None) -> list[Incoming]:
    """Everything to stage for one order version: the order (with products and shipping
    addresses), its captured payments, shipments and refunds. Incomplete orders (status 0: the
    shopper never finished checkout; ``store/order/created`` fires for them too, bc §5) are not
    staged: they are staged once they change into a real order.

    Store requests (issue 14, :mod:`~connector.stores.bigcommerce.order_reads`): none beyond
    the order itself when its embedded consignments are complete; transactions only when a
    payment voucher needs them; shipments and refunds only when the order says it has some."""
    reads = reads or OrderReads()
    oid = int(order["id"])
    if int(order.get("status_id") or 0) == 0:
        log.info("order %s is Incomplete (status 0): not staged", oid)
        return []
    products, addresses = read_order_parts(client, order, reads)
    staged = {k: v for k, v in order.items() if k != "consignments"}
    staged.update(products=products, shipping_addresses=addresses)
    if isinstance(order.get("fees"), dict):
        # Only the sub-resource link: read the fee lines, they are part of the order's money.
        staged["fees"] = client.get_order_fees(oid)
    out = [Incoming("order", str(oid), order_version(order), staged)]
    context = {"id": oid, "default_currency_code": order.get("default_currency_code"),
               "currency_code": order.get("currency_code")}
    for txn in client.get_transactions(oid) if reads.transactions else ():
        if txn.get("event") in CAPTURE_EVENTS and txn.get("status") == "ok" and txn.get("id"):
            out.append(Incoming("payment", str(txn["id"]), stamp(txn.get("date_created")),
                                {"transaction": txn, "order": context}))
    # Skip calls whose answer is known to be empty (bc §6: every request spends quota).
    if int(order.get("items_shipped") or 0) > 0 or order.get("date_shipped"):
        for shipment in client.get_shipments(oid):
            # Shipments can be edited (tracking) without a date: the content is in the version.
            version = (f"{stamp(shipment.get('date_created'))}"
                       f"#{records.content_hash(shipment)[:12]}")
            out.append(Incoming("shipment", str(shipment["id"]), version,
                                {"shipment": shipment, "products": products, "order": context}))
    if not _amount_is_zero(order.get("refunded_amount")):
        for refund in client.get_refunds(oid):
            out.append(Incoming("refund", str(refund["id"]), stamp(refund.get("created")),
                                {"refund": refund, "order": context}))
    return out


def _stage(s: Session, source: Source, rows: list[Incoming], origin: str) -> list[int]:
    return records.stage(s, tenant_id=source.tenant_id, source_id=source.id, records=rows,
                         origin=origin)


def _cursor(s: Session, source_id: int, stream: str, *, lock: bool = False) -> SyncCursor:
    q = select(SyncCursor).where(SyncCursor.source_id == source_id, SyncCursor.stream == stream)
    cursor = s.scalar(q.with_for_update() if lock else q)
    assert cursor is not None
    return cursor


def _scan_and_stage(source_id: int, stream: str, max_rows: int, batch_size: int,
                    scan_for: Callable[[BigCommerceClient, Any, list[tuple[int, str]]], Any],
                    rows_for: Callable[[BigCommerceClient, dict[str, Any]], list[Incoming]]
                    ) -> tuple[int, bool]:
    """One bounded keyset run: read changed records, stage them with their dependants, and
    move the cursor forward together with each batch (never past a record not staged)."""
    with session_scope() as s:
        source = s.get(Source, source_id)
        assert source is not None
        cursor = _cursor(s, source_id, stream)
        watermark = cursor.watermark
        seen = [(int(a), str(b)) for a, b in (cursor.seen_ids or [])]
    client = bc_client(source)
    scan = scan_for(client, watermark, seen)
    staged_total = 0
    read = 0
    batch: list[Incoming] = []

    def flush() -> None:
        nonlocal staged_total
        with session_scope() as s:
            src = s.get(Source, source_id)
            assert src is not None
            staged_total += len(_stage(s, src, batch, "poll"))
            cur = _cursor(s, source_id, stream, lock=True)
            advance_cursor(cur, scan)
        batch.clear()

    pending = 0
    for row in scan:
        # A failure here (rate limit, 5xx) propagates before the flush: the cursor stays at
        # the last complete batch and the retry re-reads from there.
        batch.extend(rows_for(client, row))
        pending += 1
        read += 1
        if pending >= batch_size:
            flush()
            pending = 0
        if read >= max_rows:
            break
    if pending or batch:
        flush()
    return staged_total, read >= max_rows


def fetch_orders(source_id: int, *, max_rows: int) -> tuple[int, bool]:
    """Fallback polling (bc decision 4): orders by ``min_date_modified`` keyset with overlap,
    each with its products, addresses, payments, shipments and refunds. Returns (rows staged,
    more to read). An order version already staged (the overlap, a retried run, the webhook
    path) is not read again: its sub-resources are read once per order version. The pages
    embed each order's consignments and fees, so an order costs no request of its own unless
    a payment voucher needs its transactions (``order_reads``)."""
    with session_scope() as s:
        source = s.get(Source, source_id)
        tenant = s.get(Tenant, source.tenant_id) if source is not None else None
        assert source is not None and tenant is not None
        reads = order_reads(tenant, source)

    def rows_for(client: BigCommerceClient, order: dict[str, Any]) -> list[Incoming]:
        with session_scope() as s:
            if records.version_staged(s, source_id, "order", str(order["id"]),
                                      order_version(order)):
                return []
        return order_records(client, order, reads)

    return _scan_and_stage(
        source_id, "orders", max_rows, ORDER_BATCH,
        lambda client, mark, seen: client.iter_orders_modified_since(
            mark, seen=seen, embed=reads.embedded),
        rows_for)


def fetch_customers(source_id: int, *, max_rows: int) -> tuple[int, bool]:
    """Customers by v3 ``date_modified:min`` keyset (bc §4). Idle under ``bc_customer_policy``
    ``skip``: IFS is the customer master then, and the cursor waits where it is."""
    with session_scope() as s:
        source = s.get(Source, source_id)
        tenant = s.get(Tenant, source.tenant_id) if source is not None else None
        assert source is not None and tenant is not None
        try:
            if customer_policy(tenant, source) != "create":
                return 0, False
        except MappingError as exc:
            log.warning("source %s: %s", source.name, exc)
            return 0, False

    def rows_for(client: BigCommerceClient, customer: dict[str, Any]) -> list[Incoming]:
        return [Incoming("customer", str(customer["id"]), customer_version(customer), customer)]

    return _scan_and_stage(
        source_id, "customers", max_rows, CUSTOMER_BATCH,
        lambda client, mark, seen: client.iter_customers(mark, seen=seen), rows_for)


def fetch_one(source_id: int, entity: str, external_id: str, origin: str) -> list[int]:
    """Fetch one order (with payments, shipments, refunds) or customer by id and stage it: the
    webhook path (BigCommerce payloads are stubs, bc §5)."""
    with session_scope() as s:
        source = s.get(Source, source_id)
        tenant = s.get(Tenant, source.tenant_id) if source is not None else None
        assert source is not None and tenant is not None
        policy = str(setting(tenant, source, "bc_customer_policy", "skip")).strip().lower()
        reads = order_reads(tenant, source)
    client = bc_client(source)
    try:
        if entity == "order":
            rows = order_records(client, read_order(client, int(external_id), reads), reads)
        elif entity == "customer":
            if policy != "create":
                return []  # IFS is the customer master (module docstring)
            customer = client.get_customer(int(external_id))
            rows = [Incoming("customer", str(customer["id"]), customer_version(customer),
                             customer)]
        else:
            log.warning("source %s: nothing to fetch for a %s event", source.name, entity)
            return []
    except NotFound:
        log.info("source %s: %s %s is gone from the store; nothing to stage", source.name,
                 entity, external_id)
        return []
    with session_scope() as s:
        src = s.get(Source, source_id)
        assert src is not None
        return _stage(s, src, rows, origin)
