"""BigCommerce → IFS Cloud: pure functions from the parsed store data
(:mod:`connector.stores.bigcommerce.schemas`, ``reference/bigcommerce.md``) to the plans the load
step executes (``reference/ifs-cloud.md`` §4–6). No I/O.

Plans are plain JSON (stored on the staged record, readable by operators):

* ``kind: "order"`` — the IFS customer order (same shape as the WooCommerce plan);
* ``kind: "customer"`` — an IFS customer (a BigCommerce customer, or a buyer made from an
  order's billing address under the tenant's ``bc_customer_policy=create``);
* ``kind: "voucher"`` — one balanced GL voucher for one store event (payment captured,
  shipment, refund), following the tenant's posting rules (issue 5 §5).

Amounts are in the order's **transactional** currency, ``default_currency_code`` — never the
shopper's display currency ``currency_code`` (bc §2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from connector.stores.bigcommerce.schemas import (
    BcAddress,
    BcCustomer,
    BcOrder,
    BcOrderProduct,
    BcRefund,
    BcShipment,
    BcShippingAddress,
    BcTransaction,
)
from connector.stores.mapping import (
    MappingContext,
    MappingError,
    customer_id,
    guest_customer_id,
    po_number,
    q2,
)
from connector.stores.money import OrderLedger

__all__ = [
    "CUSTOMER_OWNED",
    "EVENTS",
    "VOUCHER_TEXT_MAX",
    "bc_buyer_to_ifs_customer",
    "bc_customer_to_ifs_customer",
    "bc_order_to_ifs_order",
    "bc_payment_to_voucher",
    "bc_refund_to_voucher",
    "bc_shipment_to_voucher",
    "initial_label",
    "shipment_value",
    "voucher_text",
]

# Fields of the IFS customer header the connector owns: an update re-applies only these
# (ifs-cloud.md Decisions 3).
CUSTOMER_OWNED = ("Name", "Country")
#: Store events that become vouchers, in the order they happen to an order. A later event's
#: order label outranks an earlier one's (a refunded order stays "refunded" even when its
#: shipment is processed afterwards).
EVENTS = ("payment", "shipment", "refund")
#: ``VoucherText2`` length in the IFS voucher wizard (sandbox/ifs/model.py, 200).
VOUCHER_TEXT_MAX = 200
LABEL_MAX = 50  # CustomerOrder.LabelNote
_CODE_PARTS = "BCDEFGHIJ"  # posting dimensions CodeB…CodeJ (ifs-cloud.md §6)
_EVENT_WORDS = {"payment": "payments", "shipment": "shipments", "refund": "refunds"}


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


# --- vouchers -------------------------------------------------------------------------------


def voucher_text(store_hash: str, event: str, event_id: int | str) -> str:
    """The voucher's natural key (``VoucherText2``): ``bc:{store}:{event}:{id}``, looked up
    before creating so one store event never posts twice (ifs-cloud.md Decisions 6)."""
    text = f"bc:{store_hash}:{event}:{event_id}"
    if len(text) > VOUCHER_TEXT_MAX:
        raise MappingError([f"voucher text {text[:40]}… is longer than IFS allows "
                            f"({VOUCHER_TEXT_MAX})"])
    return text


def _code_name(name: str) -> str | None:
    part = name.strip().removeprefix("Code")
    if len(part) == 1 and part.upper() in _CODE_PARTS:
        return f"Code{part.upper()}"
    return None


def _rule(event: str, rules: Mapping[str, Any]) -> tuple[str, str, str, dict[str, str]]:
    """(debit account, credit account, voucher type, dimensions) of the tenant's posting rule
    for ``event``, or a :class:`MappingError` an operator can act on."""
    how = ("set it with `ml-connector tenant set <tenant> --posting-rules FILE` (e.g. "
           f'{{"{event}": {{"debit": "1930", "credit": "2990", "voucher_type": "M"}}}}), '
           "then replay")
    rule = rules.get(event) if isinstance(rules, Mapping) else None
    if not isinstance(rule, Mapping):
        raise MappingError([f"the tenant has no posting rule for BigCommerce "
                            f"{_EVENT_WORDS.get(event, event)}; {how}"])
    problems = []
    values: dict[str, str] = {}
    for name in ("debit", "credit", "voucher_type"):
        value = rule.get(name)
        if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
            word = {"debit": "debit account", "credit": "credit account",
                    "voucher_type": "voucher type"}[name]
            problems.append(f"the posting rule for {_EVENT_WORDS.get(event, event)} has no "
                            f"{word}; {how}")
        else:
            values[name] = str(value).strip()
    dimensions: dict[str, str] = {}
    raw = rule.get("dimensions") or {}
    if not isinstance(raw, Mapping):
        problems.append(f"the posting rule for {_EVENT_WORDS.get(event, event)} has "
                        "dimensions that are not an object of CodeB … CodeJ values")
        raw = {}
    for key, value in raw.items():
        code = _code_name(str(key))
        if code is None:
            problems.append(f"the posting rule for {_EVENT_WORDS.get(event, event)} names an "
                            f"unknown dimension {key!r}: use CodeB … CodeJ")
        elif value not in (None, ""):
            dimensions[code] = str(value)[:20]
    if values.get("debit") and values.get("debit") == values.get("credit"):
        problems.append(f"the posting rule for {_EVENT_WORDS.get(event, event)} debits and "
                        "credits the same account")
    if problems:
        raise MappingError(problems)
    return values["debit"], values["credit"], values["voucher_type"], dimensions


def _label_update(event: str, order_id: int, labels: Mapping[str, str] | None
                  ) -> dict[str, Any] | None:
    value = (labels or {}).get(event)
    if not value:
        return None
    later = EVENTS[EVENTS.index(event) + 1:]
    return {"order_external_id": str(order_id), "value": str(value)[:LABEL_MAX],
            "outranked_by": [str(labels[e])[:LABEL_MAX] for e in later
                             if labels and labels.get(e)]}


def _voucher_plan(*, event: str, event_id: int, order_id: int, amount: Decimal, currency: str,
                  when: datetime | None, what: str, ctx: MappingContext,
                  rules: Mapping[str, Any], store_hash: str,
                  labels: Mapping[str, str] | None) -> dict[str, Any]:
    problems: list[str] = []
    currency = currency.upper()
    if not currency:
        problems.append(f"{what} has no currency")
    elif currency not in ctx.allowed_currencies:
        problems.append(f"{what}: currency {currency} is not one this tenant accepts "
                        f"({', '.join(ctx.allowed_currencies)})")
    if amount < 0:
        problems.append(f"{what} has a negative amount ({amount})")
    if when is None:
        problems.append(f"{what} has no date")
    if problems:
        raise MappingError(problems)
    debit, credit, voucher_type, dimensions = _rule(event, rules)
    assert when is not None
    value = q2(amount)
    text = voucher_text(store_hash, event, event_id)
    row_text = f"BigCommerce order {order_id} {event} {event_id}"[:200]
    rows = [] if not value else [
        {"account": debit, "debit": str(value), "codes": dimensions, "text": row_text},
        {"account": credit, "credit": str(value), "codes": dimensions, "text": row_text},
    ]
    plan: dict[str, Any] = {
        "kind": "voucher",
        "event": event,
        "event_id": str(event_id),
        "text": text,
        "company": ctx.company,
        "voucher_type": voucher_type,
        "voucher_date": when.date().isoformat(),
        "currency": currency,
        "amount": str(value),
        "rows": rows,
        "order": {"external_id": str(order_id), "customer_po_no": po_number(ctx.prefix,
                                                                             order_id)},
        "label": _label_update(event, order_id, labels),
    }
    # IFS requests of the load (reserved before it starts, so it never stops half-way for
    # budget): voucher lookup, temporary header, one per row, CreateVoucher; label GET + PATCH.
    # One change set for the voucher, one PATCH of the order label (with the stored ETag).
    plan["ifs_requests"] = (1 if rows else 0) + (1 if plan["label"] else 0) or 1
    if not value:
        plan["skip_reason"] = f"{what} has a zero amount: nothing to post"
    return plan


def _order_currency(what: str, order_currency: str, event_currency: str) -> str:
    if event_currency and order_currency and event_currency.upper() != order_currency.upper():
        raise MappingError([f"{what} is in {event_currency.upper()} but the order's "
                            f"transactional currency is {order_currency.upper()}"])
    return order_currency or event_currency


def bc_payment_to_voucher(txn: BcTransaction, *, order_currency: str, ctx: MappingContext,
                          rules: Mapping[str, Any], store_hash: str) -> dict[str, Any]:
    """A captured payment (a ``capture`` or ``purchase`` transaction with status ``ok``, bc §3)
    → one voucher for the transaction amount (posting rule ``payment``)."""
    what = f"payment {txn.id} of order {txn.order_id}"
    if txn.event not in ("capture", "purchase") or txn.status != "ok":
        raise MappingError([f"{what} is a {txn.event} with status {txn.status or '?'}; only "
                            "captured payments are posted"])
    currency = _order_currency(what, order_currency, txn.currency)
    return _voucher_plan(event="payment", event_id=txn.id, order_id=txn.order_id,
                         amount=txn.amount, currency=currency, when=txn.date_created, what=what,
                         ctx=ctx, rules=rules, store_hash=store_hash, labels=None)


def shipment_value(shipment: BcShipment, products: Sequence[BcOrderProduct]) -> Decimal:
    """The ex-tax value of the shipped items: each item's unit ``price_ex_tax`` less its share of
    the line's ``applied_discounts``, times the quantity shipped (bc §2)."""
    by_id = {p.id: p for p in products}
    problems: list[str] = []
    value = Decimal(0)
    for item in shipment.items:
        product = by_id.get(item.order_product_id)
        if product is None:
            problems.append(f"shipment {shipment.id} ships order product "
                            f"{item.order_product_id}, which is not on order "
                            f"{shipment.order_id}")
            continue
        if product.quantity <= 0:
            problems.append(f"order product {product.id} ({product.name}) has quantity "
                            f"{product.quantity}")
            continue
        discount = sum((d.amount for d in product.applied_discounts), Decimal(0))
        unit = product.price_ex_tax - discount / product.quantity
        value += unit * item.quantity
    if problems:
        raise MappingError(problems)
    return value


def bc_shipment_to_voucher(shipment: BcShipment, products: Sequence[BcOrderProduct], *,
                           order_currency: str, ctx: MappingContext,
                           rules: Mapping[str, Any], store_hash: str,
                           labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A shipment → the revenue recognition voucher: the shipped items' ex-tax value from the
    order's product lines (posting rule ``shipment``), plus the order label update when the
    tenant maps one."""
    what = f"shipment {shipment.id} of order {shipment.order_id}"
    if not shipment.items:
        raise MappingError([f"{what} has no items"])
    return _voucher_plan(event="shipment", event_id=shipment.id, order_id=shipment.order_id,
                         amount=shipment_value(shipment, products), currency=order_currency,
                         when=shipment.date_created, what=what, ctx=ctx, rules=rules,
                         store_hash=store_hash, labels=labels)


def bc_refund_to_voucher(refund: BcRefund, *, order_currency: str, ctx: MappingContext,
                         rules: Mapping[str, Any], store_hash: str,
                         labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A refund → the revenue reversal voucher for the refund's ``total_amount`` (partial
    refunds post what was refunded; posting rule ``refund``), plus the order label update."""
    what = f"refund {refund.id} of order {refund.order_id}"
    if refund.total_amount <= 0:
        raise MappingError([f"{what} has no amount ({refund.total_amount})"])
    return _voucher_plan(event="refund", event_id=refund.id, order_id=refund.order_id,
                         amount=refund.total_amount, currency=order_currency,
                         when=refund.created, what=what, ctx=ctx, rules=rules,
                         store_hash=store_hash, labels=labels)
