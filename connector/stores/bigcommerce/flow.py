"""BigCommerce flow: fetch (fallback polling and webhook fetch-by-id) and the planners that turn
staged BigCommerce records into IFS plans (design.md §3, ``reference/bigcommerce.md``).

What is staged, per changed order (bc decision 4: the webhook and the poll path stage exactly the
same record keys, so they dedupe on ``(entity, external id, version)``):

* ``order`` — the v2 order with its ``products`` and ``shipping_addresses`` in one payload;
* ``payment`` — each ``capture``/``purchase`` transaction with status ``ok`` (v3, bc §3);
* ``shipment`` — each shipment, with the order's product lines (to value the shipped items);
* ``refund`` — each refund (v3 ``payment_actions/refunds``).

Versions are UTC timestamps ``YYYY-MM-DDTHH:MM:SSZ`` so they sort as strings (the staging table
compares versions as text); BigCommerce's own RFC 2822 dates do not sort.

Customer matching (issue 5 §4, bc decision 6): an order's buyer is looked up by e-mail in the
connector's index (IFS enrichment plus our own creations). No match → tenant setting
``bc_customer_policy``: ``skip`` (default) parks the order with a reason until the customer
exists in IFS; ``create`` makes the IFS customer once, from name and billing address. Under
``skip`` IFS is the customer master, so BigCommerce customers are not copied: the customers
stream idles (its cursor does not move, so switching to ``create`` later loses nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.config import Secret
from connector.db import session_scope
from connector.errors import NotFound
from connector.models import Source, StagedRecord, SyncCursor, Tenant
from connector.pipeline import records
from connector.pipeline.dispatch import advance_cursor
from connector.pipeline.links import lookup_customer_by_email
from connector.pipeline.records import Incoming, Parked
from connector.pipeline.targets import fleet_budget, mapping_context, source_credentials
from connector.stores.bigcommerce.client import BigCommerceClient, parse_rfc2822
from connector.stores.bigcommerce.mapping import (
    bc_buyer_to_ifs_customer,
    bc_customer_to_ifs_customer,
    bc_order_to_ifs_order,
    bc_payment_to_voucher,
    bc_refund_to_voucher,
    bc_shipment_to_voucher,
)
from connector.stores.bigcommerce.schemas import (
    parse_bc_customer,
    parse_bc_order,
    parse_bc_order_products,
    parse_bc_refund,
    parse_bc_shipment,
    parse_bc_shipping_address,
    parse_bc_transaction,
    validate_bc_order,
)
from connector.stores.mapping import MappingError
from connector.stores.schemas import InvalidPayload

log = logging.getLogger(__name__)

ORDER_BATCH = 20  # orders staged per transaction (each costs up to 6 store requests)
CUSTOMER_BATCH = 100
#: Transactions that mean money was captured: ``capture`` after an authorization, or
#: ``purchase`` (authorize and capture in one step) — bc §3 event list.
CAPTURE_EVENTS = ("capture", "purchase")
POLICIES = ("skip", "create")


# --- settings -------------------------------------------------------------------------------


#: Requests per minute the fleet sends one store by default: 80 % of the Standard/Plus quota
#: (150 per 30 s, bc §6), leaving room for the store's other apps. Source setting
#: ``request_budget_per_min`` for other plans (Pro: 450 per 30 s).
DEFAULT_REQUEST_BUDGET_PER_MIN = 240


def bc_client(source: Source, budget_class: str = "interactive") -> BigCommerceClient:
    """The store's client; ``base_url`` is the API host (``https://api.bigcommerce.com``).
    Every process draws from one Redis budget per store, so the fleet shares its quota;
    reconciliation draws as ``background``."""
    creds = source_credentials(source)
    settings = source.settings or {}
    rate = int(settings.get("request_budget_per_min") or DEFAULT_REQUEST_BUDGET_PER_MIN)
    budget = fleet_budget(f"bigcommerce:source-{source.id}", rate, budget_class)
    return BigCommerceClient(source.base_url, str(creds["store_hash"]),
                             Secret(str(creds["access_token"])),
                             overlap=timedelta(seconds=int(settings.get("overlap_s", 10))),
                             budget=budget)


def check_connection(base_url: str, credentials: dict[str, str],
                     settings: dict[str, Any]) -> None:
    """One authenticated read (the first page of orders) with credentials not stored yet, for
    ``source add``; raises the connector's error family (AuthError: the token is refused)."""
    client = BigCommerceClient(base_url, str(credentials["store_hash"]),
                               Secret(str(credentials["access_token"])))
    next(iter(client.iter_orders_modified_since(None)), None)


def _setting(tenant: Tenant, source: Source, name: str, default: Any) -> Any:
    merged = {**(tenant.settings or {}), **(source.settings or {})}
    return merged.get(name, default)


def customer_policy(tenant: Tenant, source: Source) -> str:
    """``bc_customer_policy`` (source setting over tenant setting; default ``skip``)."""
    value = str(_setting(tenant, source, "bc_customer_policy", "skip") or "skip").strip().lower()
    if value not in POLICIES:
        raise MappingError([f"bc_customer_policy is {value!r}; it must be skip or create "
                            "(ml-connector tenant set <tenant> --setting "
                            "bc_customer_policy=create)"])
    return value


def order_labels(tenant: Tenant, source: Source) -> dict[str, str]:
    """``bc_order_labels``: event type → IFS order ``LabelNote`` (e.g. ``{"shipment":
    "bc:shipped", "refund": "bc:refunded"}``); empty when the tenant maps none."""
    raw = _setting(tenant, source, "bc_order_labels", {}) or {}
    if not isinstance(raw, dict):
        raise MappingError(["bc_order_labels must be an object such as "
                            '{"shipment": "bc:shipped", "refund": "bc:refunded"}'])
    return {str(k): str(v) for k, v in raw.items() if v}


# --- versions -------------------------------------------------------------------------------


def stamp(value: object) -> str:
    """A BigCommerce date (v2 RFC 2822 or v3 ISO 8601) as a sortable UTC version string."""
    moment = parse_rfc2822(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def order_version(order: dict[str, Any]) -> str:
    """An order version is its modification time (the client's keyset key, bc decision 4)."""
    return (stamp(order.get("date_modified")) or stamp(order.get("date_created"))
            or str(order.get("date_modified") or ""))


def customer_version(customer: dict[str, Any]) -> str:
    """A customer version is its v3 ``date_modified`` (bc §4), as a sortable UTC stamp."""
    return (stamp(customer.get("date_modified")) or stamp(customer.get("date_created"))
            or str(customer.get("date_modified") or ""))


# --- fetch ----------------------------------------------------------------------------------


def _amount_is_zero(value: object) -> bool:
    try:
        return float(str(value or "0")) == 0.0
    except ValueError:
        return False


def order_records(client: BigCommerceClient, order: dict[str, Any]) -> list[Incoming]:
    """Everything to stage for one order version: the order (with products and shipping
    addresses), its captured payments, shipments and refunds. Incomplete orders (status 0: the
    shopper never finished checkout; ``store/order/created`` fires for them too, bc §5) are not
    staged: they are staged once they change into a real order."""
    oid = int(order["id"])
    if int(order.get("status_id") or 0) == 0:
        log.info("order %s is Incomplete (status 0): not staged", oid)
        return []
    products = client.get_order_products(oid)
    addresses = client.get_shipping_addresses(oid)
    staged = {**order, "products": products, "shipping_addresses": addresses}
    if isinstance(order.get("fees"), dict):
        # Only the sub-resource link: read the fee lines, they are part of the order's money.
        staged["fees"] = client.get_order_fees(oid)
    out = [Incoming("order", str(oid), order_version(order), staged)]
    context = {"id": oid, "default_currency_code": order.get("default_currency_code"),
               "currency_code": order.get("currency_code")}
    for txn in client.get_transactions(oid):
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
    path) is not read again: its sub-resources are read once per order version."""

    def rows_for(client: BigCommerceClient, order: dict[str, Any]) -> list[Incoming]:
        with session_scope() as s:
            if records.version_staged(s, source_id, "order", str(order["id"]),
                                      order_version(order)):
                return []
        return order_records(client, order)

    return _scan_and_stage(
        source_id, "orders", max_rows, ORDER_BATCH,
        lambda client, mark, seen: client.iter_orders_modified_since(mark, seen=seen),
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
        policy = str(_setting(tenant, source, "bc_customer_policy", "skip")).strip().lower()
    client = bc_client(source)
    try:
        if entity == "order":
            rows = order_records(client, client.get_order(int(external_id)))
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


# --- planners -------------------------------------------------------------------------------


def _read(parse: Callable[[Any], Any], payload: Any) -> Any:
    try:
        return parse(payload)
    except InvalidPayload as exc:
        raise MappingError(exc.problems) from None


def plan_order(s: Session, tenant: Tenant, source: Source, rec: StagedRecord) -> dict[str, Any]:
    """Validate the order, resolve its IFS customer (e-mail index, then the tenant's policy)
    and map it. Invalid data fails the record; an unknown buyer under ``skip`` parks it."""
    ctx = mapping_context(tenant, source)
    payload = rec.payload or {}
    order = _read(parse_bc_order, payload)
    products = _read(parse_bc_order_products, payload.get("products") or [])
    addresses = [_read(parse_bc_shipping_address, a)
                 for a in payload.get("shipping_addresses") or []]
    problems = validate_bc_order(order, products, allowed_currencies=ctx.allowed_currencies,
                                 require_email=ctx.require_email)
    if problems:
        raise MappingError([f"order {order.id}: {p}" for p in problems])
    policy = customer_policy(tenant, source)
    shipping = addresses[0] if addresses else None
    email = order.billing_address.email.strip().lower()
    known = lookup_customer_by_email(s, tenant.id, email) if email else None
    customer: dict[str, Any]
    if known:
        customer = {"customer_id": known}
    elif policy == "create":
        customer = {"inline": bc_buyer_to_ifs_customer(order, ctx, shipping)}
    else:
        raise Parked(f"no IFS customer with e-mail {email}; create it in IFS (or set "
                     "bc_customer_policy=create) and replay")
    return bc_order_to_ifs_order(order, products, ctx, customer=customer,
                                 labels=order_labels(tenant, source), shipping=shipping)


def plan_customer(s: Session, tenant: Tenant, source: Source,
                  rec: StagedRecord) -> dict[str, Any]:
    """A BigCommerce customer → IFS customer (``bc_customer_policy=create`` only)."""
    if customer_policy(tenant, source) != "create":
        raise Parked("bc_customer_policy is skip: BigCommerce customers are not copied to IFS "
                     "(set bc_customer_policy=create and replay to copy this one)")
    customer = _read(parse_bc_customer, rec.payload)
    return bc_customer_to_ifs_customer(customer, mapping_context(tenant, source))


def _voucher_inputs(tenant: Tenant, source: Source,
                    rec: StagedRecord) -> tuple[dict[str, Any], str, str, dict[str, Any]]:
    payload = rec.payload or {}
    order = payload.get("order") or {}
    currency = str(order.get("default_currency_code") or "").strip()
    store_hash = str(source_credentials(source).get("store_hash") or "")
    return payload, currency, store_hash, dict(tenant.posting_rules or {})


def plan_payment(s: Session, tenant: Tenant, source: Source, rec: StagedRecord) -> dict[str, Any]:
    """A captured payment → one GL voucher (posting rule ``payment``)."""
    payload, currency, store_hash, rules = _voucher_inputs(tenant, source, rec)
    txn = _read(parse_bc_transaction, payload.get("transaction"))
    return bc_payment_to_voucher(txn, order_currency=currency,
                                 ctx=mapping_context(tenant, source), rules=rules,
                                 store_hash=store_hash)


def plan_shipment(s: Session, tenant: Tenant, source: Source,
                  rec: StagedRecord) -> dict[str, Any]:
    """A shipment → revenue recognition voucher (posting rule ``shipment``) + order label."""
    payload, currency, store_hash, rules = _voucher_inputs(tenant, source, rec)
    shipment = _read(parse_bc_shipment, payload.get("shipment"))
    products = _read(parse_bc_order_products, payload.get("products") or [])
    return bc_shipment_to_voucher(shipment, products, order_currency=currency,
                                  ctx=mapping_context(tenant, source), rules=rules,
                                  store_hash=store_hash, labels=order_labels(tenant, source))


def plan_refund(s: Session, tenant: Tenant, source: Source, rec: StagedRecord) -> dict[str, Any]:
    """A refund → revenue reversal voucher (posting rule ``refund``) + order label."""
    payload, currency, store_hash, rules = _voucher_inputs(tenant, source, rec)
    refund = _read(parse_bc_refund, payload.get("refund"))
    return bc_refund_to_voucher(refund, order_currency=currency,
                                ctx=mapping_context(tenant, source), rules=rules,
                                store_hash=store_hash, labels=order_labels(tenant, source))
