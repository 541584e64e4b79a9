"""BigCommerce → IFS Cloud: pure functions from the parsed store data
(the ``*_schemas`` modules of this package, ``reference/bigcommerce.md``) to the plans the load
step executes (``reference/ifs-cloud.md`` §4–6). No I/O.

Plans are plain JSON (stored on the staged record, readable by operators):

* ``kind: "order"`` — the IFS customer order (same shape as the WooCommerce plan);
* ``kind: "customer"`` — an IFS customer (a BigCommerce customer, or a buyer made from an
  order's billing address under the tenant's ``bc_customer_policy=create``);
* ``kind: "voucher"`` — one balanced GL voucher for one store event (payment captured,
  shipment, refund), following the tenant's posting rules (issue 5 §5): in
  :mod:`connector.stores.bigcommerce.voucher_mapping`.

Amounts are in the order's **transactional** currency, ``default_currency_code`` — never the
shopper's display currency ``currency_code`` (bc §2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from connector.stores.bigcommerce.address_schemas import BcAddress, BcShippingAddress
from connector.stores.bigcommerce.customer_schemas import BcCustomer
from connector.stores.bigcommerce.order_schemas import BcOrder, BcOrderProduct
from connector.stores.bigcommerce.voucher_mapping import LABEL_MAX
from connector.stores.mapping import (
    MappingContext,
    MappingError,
    customer_id,
    guest_customer_id,
    po_number,
)
from connector.stores.money import OrderLedger

__all__ = [
    "CUSTOMER_OWNED",
    "bc_buyer_to_ifs_customer",
    "bc_customer_to_ifs_customer",
    "bc_order_to_ifs_order",
    "initial_label",
]

# Fields of the IFS customer header the connector owns: an update re-applies only these
# (ifs-cloud.md Decisions 3).
CUSTOMER_OWNED = ("Name", "Country")


# --- customers ------------------------------------------------------------------------------


def _name(first: str, last: str, company: str, fallback: str) -> str:
    name = " ".join(p for p in (first.strip(), last.strip()) if p)
    return (name or company.strip() or fallback)[:100]


def _ifs_address(address_id: str, name: str, street_1: str, street_2: str, zip_code: str,
                 city: str, state: str, country: str, ctx: MappingContext) -> dict[str, Any] | None:
    if not any((street_1, city, zip_code)):
        return None
    return {
        "AddressId": address_id,
        "Name": name,
        "Address1": street_1[:35],
        "Address2": street_2[:35],
        "ZipCode": zip_code[:35],
        "City": city[:35],
        "State": state[:35],
        "Country": (country or ctx.default_country)[:2].upper(),
        "DefaultDomain": True,
    }


def _customer_plan(ifs_id: str, name: str, email: str, phone: str, country: str,
                   addresses: list[dict[str, Any] | None], created: datetime | None,
                   ctx: MappingContext) -> dict[str, Any]:
    create = {
        "CustomerId": ifs_id,
        "Name": name,
        "CreationDate": created.date().isoformat() if created else None,
        "Country": (country or ctx.default_country)[:2].upper(),
        "DefaultLanguage": ctx.default_language,
        "PartyType": "Person",
        "DefaultDomain": True,
        "Company": ctx.company,
    }
    create = {k: v for k, v in create.items() if v is not None}
    kept = [a for a in addresses if a]
    if len(kept) == 2 and ({k: v for k, v in kept[0].items() if k != "AddressId"}
                           == {k: v for k, v in kept[1].items() if k != "AddressId"}):
        kept = kept[:1]  # billing and shipping are the same place: one address is enough
    comm = []
    if email:
        comm.append({"MethodId": ctx.email_method_id, "Value": email.strip().lower(),
                     "MethodDefault": True})
    if phone.strip():
        comm.append({"MethodId": ctx.phone_method_id, "Value": phone.strip()[:200],
                     "MethodDefault": True})
    return {
        "kind": "customer",
        "customer_id": ifs_id,
        "email": email.strip().lower() or None,
        "create": create,
        "addresses": kept,
        "comm_methods": comm,
        "owned": {k: create[k] for k in CUSTOMER_OWNED if k in create},
    }


def bc_customer_to_ifs_customer(customer: BcCustomer, ctx: MappingContext) -> dict[str, Any]:
    """A registered BigCommerce customer (v3, bc §4) → the IFS customer plan, ``CustomerId`` =
    source prefix + BigCommerce customer id."""
    if customer.id <= 0:
        raise MappingError([f"customer has no valid id ({customer.id!r})"])
    email = customer.email.strip()
    if ctx.require_email and not email:
        raise MappingError([f"customer {customer.id} has no e-mail address"])
    name = _name(customer.first_name, customer.last_name, customer.company,
                 f"BigCommerce customer {customer.id}")
    addresses: list[dict[str, Any] | None] = []
    for position, addr in enumerate(customer.addresses[:2], start=1):
        addresses.append(_ifs_address(
            str(position), _name(addr.first_name, addr.last_name, addr.company, name),
            addr.address1, addr.address2, addr.postal_code, addr.city, addr.state_or_province,
            addr.country_code, ctx))
    country = customer.addresses[0].country_code if customer.addresses else ""
    return _customer_plan(customer_id(ctx.customer_prefix, customer.id), name, email,
                          customer.phone, country, addresses, customer.date_created, ctx)


def bc_buyer_to_ifs_customer(order: BcOrder, ctx: MappingContext,
                             shipping: BcShippingAddress | None = None) -> dict[str, Any]:
    """The buyer of an order → an IFS customer plan made from name and billing address (tenant
    policy ``bc_customer_policy=create``, bc decision 6). Deterministic id, so a second order of
    the same buyer reuses it: a registered buyer gets prefix + BigCommerce customer id (the same
    IFS customer a customer record would map to), a guest an id derived from the e-mail."""
    billing: BcAddress = order.billing_address
    email = billing.email.strip()
    if not email:
        raise MappingError([f"order {order.id} has no billing e-mail, so no IFS customer can be "
                            "created for its buyer"])
    ifs_id = (customer_id(ctx.customer_prefix, order.customer_id) if order.customer_id
              else guest_customer_id(ctx.customer_prefix, email))
    name = _name(billing.first_name, billing.last_name, billing.company, email)
    addresses = [_ifs_address("1", name, billing.street_1, billing.street_2, billing.zip,
                              billing.city, billing.state, billing.country_iso2, ctx)]
    if shipping is not None:
        addresses.append(_ifs_address(
            "2", _name(shipping.first_name, shipping.last_name, shipping.company, name),
            shipping.street_1, shipping.street_2, shipping.zip, shipping.city, shipping.state,
            shipping.country_iso2, ctx))
    return _customer_plan(ifs_id, name, email, billing.phone, billing.country_iso2, addresses,
                          order.date_created, ctx)


# --- orders ---------------------------------------------------------------------------------


def initial_label(order: BcOrder, labels: Mapping[str, str]) -> str:
    """``LabelNote`` of a new IFS order: the tenant's label for the latest event the order has
    already seen (``bc_order_labels``, e.g. ``{"shipment": "bc:shipped"}``), else
    ``bc:<status>``."""
    if order.refunded_amount > 0 and labels.get("refund"):
        return labels["refund"][:LABEL_MAX]
    if (order.items_shipped > 0 or order.status_id in (2, 3)) and labels.get("shipment"):
        return labels["shipment"][:LABEL_MAX]
    return f"bc:{order.status or order.status_id}"[:LABEL_MAX]


def bc_order_to_ifs_order(order: BcOrder, products: Sequence[BcOrderProduct],
                          ctx: MappingContext, *, customer: dict[str, Any],
                          labels: Mapping[str, str] | None = None,
                          shipping: BcShippingAddress | None = None) -> dict[str, Any]:
    """A BigCommerce order with its product lines → the IFS customer order plan.

    ``customer`` is the resolved reference (``{"customer_id": …}`` matched by e-mail, or
    ``{"inline": plan}`` under the create policy). Lines are priced ex tax (``price_ex_tax``);
    shipping and handling travel as charges (or sales-part lines in ``lines`` mode) and the
    order's discounts (``discount_amount`` + ``coupon_discount``) as one negative charge, so the
    IFS order's net value equals the store's ``total_ex_tax``. ``CurrencyCode`` is the
    transactional ``default_currency_code`` (bc §2).

    When the tenant maps order labels, ``LabelNote`` belongs to the shipment/refund events
    (they update it) and the order plan owns only ``NoteText``; otherwise the order owns
    ``LabelNote`` too and it follows the store status (``bc:<status>``).
    """
    labels = dict(labels or {})
    problems: list[str] = []
    label = f"order {order.id}"
    currency = order.currency.upper()
    if currency not in ctx.allowed_currencies:
        problems.append(f"{label}: currency {currency or '(none)'} is not one this tenant "
                        f"accepts ({', '.join(ctx.allowed_currencies)})")
    if not ctx.site:
        problems.append("the tenant has no IFS site configured (ifs set-target --site)")
    if not products:
        problems.append(f"{label} has no product lines")
    if not customer:
        problems.append(f"{label} has no IFS customer")
    if order.date_created is None:
        problems.append(f"{label} has no creation date")
    ledger = OrderLedger(label, currency, ctx)
    for position, product in enumerate(products, start=1):
        title = product.name or f"line {position}"
        sku = product.sku.strip()
        if not sku:
            problems.append(f"{label} line {position} ({title}) has no SKU, so it cannot be "
                            "matched to an IFS sales part")
        if product.quantity <= 0:
            problems.append(f"{label} line {position} ({title}) has quantity "
                            f"{product.quantity}; it must be positive")
        if product.price_ex_tax < 0 or product.total_ex_tax < 0:
            problems.append(f"{label} line {position} ({title}) has a negative price")
        if problems:
            continue
        # The line total the store charged (bc §2 ``total_ex_tax``); a payload without it
        # (older fixtures) is the unit price times the quantity.
        line_total = product.total_ex_tax or product.price_ex_tax * product.quantity
        ledger.line(part=ctx.sku_map.get(sku, sku)[:25], description=str(title),
                    quantity=Decimal(product.quantity), line_total=line_total,
                    position=position, field=f"products[{position}].total_ex_tax")
    if order.fees is None:
        problems.append(f"{label}: its fees were not read (the order carries only the fees "
                        "link); replay the order so that they are fetched")
    if problems:
        raise MappingError(problems)
    assert order.date_created is not None
    _bc_money(order, label, ledger)
    wanted = order.date_created + timedelta(days=ctx.wanted_delivery_days)
    header = {
        "CustomerPoNo": po_number(ctx.prefix, order.id),
        "Contract": ctx.site,
        "CurrencyCode": currency,
        "OrderId": ctx.order_type,
        "WantedDeliveryDate": wanted.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "LabelNote": initial_label(order, labels),
        "NoteText": order.customer_message[:2000],
    }
    owned_fields = ("NoteText",) if labels else ("LabelNote", "NoteText")
    totals = ledger.close(net=order.total_ex_tax, gross=order.total_inc_tax)
    plan: dict[str, Any] = {
        "kind": "order",
        "customer_po_no": header["CustomerPoNo"],
        "customer": customer,
        "header": header,
        "lines": ledger.lines,
        "charges": ledger.charges,
        "owned": {k: header[k] for k in owned_fields},
        "totals": totals,
        # IFS requests reserved at the load's first request: one change set, plus one for a
        # buyer created inline (the write-intent journal spares the lookups).
        "ifs_requests": 2 if "inline" in customer else 1,
    }
    if shipping is not None:
        plan["ship_to"] = {"name": _name(shipping.first_name, shipping.last_name,
                                         shipping.company, ""),
                           "city": shipping.city, "zip": shipping.zip,
                           "country": shipping.country_iso2, "method": shipping.shipping_method}
    return plan


def _bc_money(order: BcOrder, label: str, ledger: OrderLedger) -> None:
    """Every money field of a BigCommerce order beyond the product lines (bc "Money fields"),
    posted or accounted for (docs/money.md)."""
    ledger.charge("shipping", order.shipping_cost_ex_tax, "Shipping", "shipping_cost_ex_tax")
    ledger.charge("handling", order.handling_cost_ex_tax, "Handling", "handling_cost_ex_tax")
    ledger.charge("wrapping", order.wrapping_cost_ex_tax, "Gift wrapping",
                  "wrapping_cost_ex_tax")
    for position, fee in enumerate(order.fees or (), start=1):
        ledger.charge("fee", fee.cost_ex_tax, fee.display_name or fee.type or "Fee",
                      f"fees[{position}].cost_ex_tax ({fee.display_name or fee.type})")
    ledger.charge("discount", -(order.discount_amount + order.coupon_discount), "Discount",
                  "discount_amount + coupon_discount")
    ledger.not_posted("total_tax", order.total_tax, "tax is calculated by IFS")
    ledger.not_posted("store_credit_amount", order.store_credit_amount,
                      "store credit is a means of payment, not part of the order value")
    ledger.not_posted("gift_certificate_amount", order.gift_certificate_amount,
                      "a gift certificate is a means of payment, not part of the order value")
    ledger.not_posted("refunded_amount", order.refunded_amount,
                      "refunds are posted as refund vouchers")
