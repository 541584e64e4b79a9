"""WooCommerce flow: fetch (orders by keyset polling, customers by reference and full scan) and
the planners that turn staged Woo records into IFS plans (design.md §3, woocommerce.md).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.config import Secret
from connector.db import session_scope
from connector.handles import get_redis
from connector.models import Source, StagedRecord, SyncCursor, Tenant
from connector.pipeline import records
from connector.pipeline.dispatch import advance_cursor
from connector.pipeline.records import Incoming
from connector.pipeline.targets import fleet_budget, mapping_context, source_credentials
from connector.stores.mapping import MappingError
from connector.stores.woocommerce.client import WooCommerceClient
from connector.stores.woocommerce.mapping import (
    woo_customer_to_ifs_customer,
    woo_order_to_ifs_order,
)
from connector.stores.woocommerce.pacing import DEFAULT_REQUEST_BUDGET_PER_MIN, FleetHold
from connector.stores.woocommerce.schemas import (
    InvalidPayload,
    parse_woo_customer,
    parse_woo_order,
)
from connector.stores.woocommerce.validation import validate_woo_order

log = logging.getLogger(__name__)

BATCH = 100  # rows staged per transaction (and per cursor advance)


def woo_client(source: Source, budget_class: str = "interactive") -> WooCommerceClient:
    """The shop's client. Every process draws from one Redis budget per source
    (``request_budget_per_min``) and honours one shared hold after a 429, so the fleet shares
    the shop's capacity; backfills draw as ``bulk``, reconciliation as ``background``."""
    creds = source_credentials(source)
    settings = source.settings or {}
    key = f"woocommerce:source-{source.id}"
    rate = int(settings.get("request_budget_per_min") or DEFAULT_REQUEST_BUDGET_PER_MIN)
    return WooCommerceClient(
        source.base_url, creds["consumer_key"], Secret(creds["consumer_secret"]),
        use_oauth1=settings.get("use_oauth1"),  # None: by scheme (woo decision 1)
        order_by_modified=bool(settings.get("order_by_modified", True)),
        overlap=timedelta(seconds=int(settings.get("overlap_s", 10))),
        oauth_signed_url=settings.get("oauth_signed_url") or None,
        budget=fleet_budget(key, rate, budget_class),
        hold=FleetHold(get_redis(), key),
    )


def check_connection(base_url: str, credentials: dict[str, str],
                     settings: dict[str, Any]) -> None:
    """One authenticated read (the first page of orders) with credentials not stored yet, for
    ``source add``; raises the connector's error family (AuthError: the key is refused)."""
    client = WooCommerceClient(
        base_url, credentials["consumer_key"], Secret(credentials["consumer_secret"]),
        use_oauth1=settings.get("use_oauth1"),
        order_by_modified=bool(settings.get("order_by_modified", True)))
    client.list_orders_modified_since(None)


def order_version(order: dict[str, Any]) -> str:
    """Versions sort by time: the GMT modification time (woo §3, naive UTC)."""
    return str(order.get("date_modified_gmt") or order.get("date_created_gmt") or "")


def customer_version(customer: dict[str, Any]) -> str:
    """Time plus content hash: some plugins change customers without bumping the date. The hash
    only tells versions of one second apart (dedupe); they are ordered by time and then by the
    order in which they were staged (``records.newest_first``), never by the hash."""
    stamp = str(customer.get("date_modified_gmt") or customer.get("date_created_gmt") or "")
    return f"{stamp}#{records.content_hash(customer)[:12]}"


def customer_incoming(customer: dict[str, Any]) -> Incoming:
    return Incoming("customer", str(customer["id"]), customer_version(customer), customer)


def referenced_customers(s: Session, source: Source, client: WooCommerceClient,
                         orders: list[dict[str, Any]]) -> list[Incoming]:
    """The customers ``orders`` reference that were never staged (read, not staged): one
    request per page of them (``include``), not one per customer (a first sync, whose orders
    stream runs beside the customers stream, read each buyer on its own)."""
    wanted = sorted({str(o.get("customer_id")) for o in orders if o.get("customer_id")})
    missing = set(wanted) - records.known_ids(s, source.id, "customer", wanted)
    if not missing:
        return []
    found = {str(c.get("id")): c for c in client.get_customers(int(c) for c in missing)}
    for cid in sorted(missing - set(found), key=int):
        log.warning("source %s: customer %s referenced by an order is gone", source.name, cid)
    return [customer_incoming(found[cid]) for cid in sorted(set(found) & missing, key=int)]


def order_incoming(order: dict[str, Any]) -> Incoming:
    return Incoming("order", str(order["id"]), order_version(order), order)


def stage_orders(s: Session, source: Source, client: WooCommerceClient,
                 orders: list[dict[str, Any]], origin: str) -> list[int]:
    """Stage order versions, and first the customers they reference that we never saw."""
    customers = referenced_customers(s, source, client, orders)
    staged = records.stage(s, tenant_id=source.tenant_id, source_id=source.id,
                           records=customers, origin=origin)
    staged += records.stage(
        s, tenant_id=source.tenant_id, source_id=source.id, origin=origin,
        records=[order_incoming(o) for o in orders])
    return staged


def fetch_orders(source_id: int, *, max_rows: int) -> tuple[int, bool]:
    """One bounded polling run. Returns (rows staged, more to read)."""
    with session_scope() as s:
        source = s.get(Source, source_id)
        cursor = s.scalar(select(SyncCursor).where(SyncCursor.source_id == source_id,
                                                   SyncCursor.stream == "orders"))
        assert source is not None and cursor is not None
        watermark = cursor.watermark
        seen = [tuple(k) for k in (cursor.seen_ids or [])]
    client = woo_client(source)
    scan = client.iter_orders_since(watermark, seen=[(int(a), str(b)) for a, b in seen])
    staged_total = 0
    read = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal staged_total
        with session_scope() as s:
            src = s.get(Source, source_id)
            assert src is not None
            staged_total += len(stage_orders(s, src, client, batch, "poll"))
            cur = s.scalar(select(SyncCursor).where(SyncCursor.source_id == source_id,
                                                    SyncCursor.stream == "orders")
                           .with_for_update())
            assert cur is not None
            advance_cursor(cur, scan)
        batch.clear()

    for order in scan:
        batch.append(order)
        read += 1
        if len(batch) >= BATCH:
            flush()
        if read >= max_rows:
            break
    if batch:
        flush()
    return staged_total, read >= max_rows


def fetch_customers(source_id: int, *, max_rows: int) -> tuple[int, bool]:
    """Full scan of registered customers; unchanged ones (same content hash) are skipped.
    Resumes from the last id when a run stops at ``max_rows``."""
    with session_scope() as s:
        source = s.get(Source, source_id)
        cursor = s.scalar(select(SyncCursor).where(SyncCursor.source_id == source_id,
                                                   SyncCursor.stream == "customers"))
        assert source is not None and cursor is not None
        after_id = int((cursor.state or {}).get("after_id", 0))
    client = woo_client(source)
    staged_total = 0
    read = 0
    last_id = after_id
    batch: list[dict[str, Any]] = []

    def flush(done: bool) -> None:
        nonlocal staged_total
        with session_scope() as s:
            ids = [str(c["id"]) for c in batch]
            latest = dict(s.execute(
                select(StagedRecord.external_id, StagedRecord.content_hash)
                .where(StagedRecord.source_id == source_id, StagedRecord.entity == "customer",
                       StagedRecord.external_id.in_(ids))
                .order_by(StagedRecord.external_id, *records.oldest_first())).tuples().all())
            changed = [customer_incoming(c) for c in batch
                       if latest.get(str(c["id"])) != records.content_hash(c)]
            staged_total += len(records.stage(s, tenant_id=source.tenant_id,
                                              source_id=source_id, records=changed,
                                              origin="poll"))
            cur = s.scalar(select(SyncCursor).where(SyncCursor.source_id == source_id,
                                                    SyncCursor.stream == "customers")
                           .with_for_update())
            assert cur is not None
            cur.state = {"after_id": 0 if done else last_id,
                         "last_full_scan": datetime.now(UTC).isoformat() if done else
                         (cur.state or {}).get("last_full_scan")}
        batch.clear()

    for customer in client.iter_customers():
        cid = int(customer.get("id") or 0)
        if cid <= after_id:
            continue
        batch.append(customer)
        last_id = cid
        read += 1
        if len(batch) >= BATCH:
            flush(done=False)
        if read >= max_rows:
            break
    more = read >= max_rows
    flush(done=not more)
    return staged_total, more


def fetch_one(source_id: int, entity: str, external_id: str, origin: str) -> list[int]:
    """Fetch one record by id (webhook accelerator) and stage it."""
    with session_scope() as s:
        source = s.get(Source, source_id)
        assert source is not None
    client = woo_client(source)
    if entity == "order":
        order = client.get_order(int(external_id))
        with session_scope() as s:
            src = s.get(Source, source_id)
            assert src is not None
            return stage_orders(s, src, client, [order], origin)
    customer = client.get_customer(int(external_id))
    with session_scope() as s:
        return records.stage(s, tenant_id=source.tenant_id, source_id=source_id,
                             records=[customer_incoming(customer)], origin=origin)


# --- planners -------------------------------------------------------------------------------


def plan_customer(s: Session, tenant: Tenant, source: Source,
                  rec: StagedRecord) -> dict[str, Any]:
    try:
        parse_woo_customer(rec.payload)
    except InvalidPayload as exc:
        raise MappingError(exc.problems)
    return woo_customer_to_ifs_customer(rec.payload, mapping_context(tenant, source))


def plan_order(s: Session, tenant: Tenant, source: Source, rec: StagedRecord) -> dict[str, Any]:
    ctx = mapping_context(tenant, source)
    try:
        order = parse_woo_order(rec.payload)
    except InvalidPayload as exc:
        raise MappingError(exc.problems)
    problems = validate_woo_order(order, allowed_currencies=ctx.allowed_currencies,
                                  require_email=ctx.require_email)
    if problems:
        raise MappingError(problems)
    return woo_order_to_ifs_order(rec.payload, ctx)
