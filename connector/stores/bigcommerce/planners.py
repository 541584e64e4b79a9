"""BigCommerce planners: staged BigCommerce records → IFS plans (design.md §3,
``reference/bigcommerce.md``).

Customer matching (issue 5 §4, bc decision 6): an order's buyer is looked up by e-mail in the
connector's index (IFS enrichment plus our own creations). No match → tenant setting
``bc_customer_policy``: ``skip`` (default) parks the order with a reason until the customer
exists in IFS; ``create`` makes the IFS customer once, from name and billing address.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from connector.models import Source, StagedRecord, Tenant
from connector.pipeline.links import lookup_customer_by_email
from connector.pipeline.records import Parked
from connector.pipeline.targets import mapping_context, source_credentials
from connector.stores.bigcommerce.address_schemas import parse_bc_shipping_address
from connector.stores.bigcommerce.customer_schemas import parse_bc_customer
from connector.stores.bigcommerce.mapping import (
    bc_buyer_to_ifs_customer,
    bc_customer_to_ifs_customer,
    bc_order_to_ifs_order,
)
from connector.stores.bigcommerce.order_schemas import parse_bc_order, parse_bc_order_products
from connector.stores.bigcommerce.settings import customer_policy, order_labels
from connector.stores.bigcommerce.validation import validate_bc_order
from connector.stores.bigcommerce.voucher_mapping import (
    bc_payment_to_voucher,
    bc_refund_to_voucher,
    bc_shipment_to_voucher,
)
from connector.stores.bigcommerce.voucher_schemas import (
    parse_bc_refund,
    parse_bc_shipment,
    parse_bc_transaction,
)
from connector.stores.mapping import MappingError
from connector.stores.schemas import InvalidPayload

__all__ = ["plan_customer", "plan_order", "plan_payment", "plan_refund", "plan_shipment"]


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
