"""WooCommerce → IFS Cloud: pure functions from the REST representation (woocommerce.md §3) to
the IFS commands the load step executes (ifs-cloud.md §4–5). No I/O.

A *plan* is plain JSON so it can be stored on the staged record and inspected by operators.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from connector.stores.mapping import (
    MappingContext,
    MappingError,
    customer_id,
    guest_customer_id,
    money,
    po_number,
)
from connector.stores.money import OrderLedger

# Fields of the IFS customer header the connector owns: an update re-applies only these, so a
# change made in IFS by hand to anything else survives (ifs-cloud.md Decisions 3).
CUSTOMER_OWNED = ("Name", "Country")
ORDER_OWNED = ("LabelNote", "NoteText")
CATALOG_NO_MAX = 25  # IFS CustomerOrderLine.CatalogNo length


def _name(first: str | None, last: str | None, company: str | None, fallback: str) -> str:
    name = " ".join(p for p in ((first or "").strip(), (last or "").strip()) if p)
    return (name or (company or "").strip() or fallback)[:100]


def _address(addr: dict[str, Any] | None, address_id: str, ctx: MappingContext,
             name: str) -> dict[str, Any] | None:
    if not addr or not any(addr.get(k) for k in ("address_1", "city", "postcode")):
        return None
    return {
        "AddressId": address_id,
        "Name": name,
        "Address1": (addr.get("address_1") or "")[:35],
        "Address2": (addr.get("address_2") or "")[:35],
        "ZipCode": (addr.get("postcode") or "")[:35],
        "City": (addr.get("city") or "")[:35],
        "State": (addr.get("state") or "")[:35],
        "Country": (addr.get("country") or ctx.default_country)[:2].upper(),
        "DefaultDomain": True,
    }


def _customer_plan(ifs_id: str, name: str, email: str | None, phone: str | None,
                   billing: dict[str, Any] | None, shipping: dict[str, Any] | None,
                   created: str | None, ctx: MappingContext) -> dict[str, Any]:
    country = ((billing or {}).get("country") or ctx.default_country)[:2].upper()
    create = {
        "CustomerId": ifs_id,
        "Name": name,
        "CreationDate": (created or "")[:10] or None,
        "Country": country,
        "DefaultLanguage": ctx.default_language,
        "PartyType": "Person",
        "DefaultDomain": True,
        "Company": ctx.company,
    }
    create = {k: v for k, v in create.items() if v is not None}
    addresses = [a for a in (_address(billing, "1", ctx, name),
                             _address(shipping, "2", ctx, name)) if a]
    if len(addresses) == 2 and {k: v for k, v in addresses[0].items() if k != "AddressId"} == {
            k: v for k, v in addresses[1].items() if k != "AddressId"}:
        addresses = addresses[:1]  # same address twice: one is enough
    comm = []
    if email:
        comm.append({"MethodId": ctx.email_method_id, "Value": email.strip().lower(),
                     "MethodDefault": True})
    if phone:
        comm.append({"MethodId": ctx.phone_method_id, "Value": phone.strip()[:200],
                     "MethodDefault": True})
    return {
        "kind": "customer",
        "customer_id": ifs_id,
        "email": email.strip().lower() if email else None,
        "create": create,
        "addresses": addresses,
        "comm_methods": comm,
        "owned": {k: create[k] for k in CUSTOMER_OWNED if k in create},
    }


def woo_customer_to_ifs_customer(customer: dict[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """A registered Woo customer → the IFS customer plan (``CustomerId`` = prefix + Woo id)."""
    problems: list[str] = []
    woo_id = customer.get("id")
    if not isinstance(woo_id, int) or woo_id <= 0:
        raise MappingError([f"customer has no valid id ({woo_id!r})"])
    billing = customer.get("billing") or {}
    email = (customer.get("email") or billing.get("email") or "").strip() or None
    if ctx.require_email and not email:
        problems.append(f"customer {woo_id} has no e-mail address")
    if problems:
        raise MappingError(problems)
    name = _name(customer.get("first_name") or billing.get("first_name"),
                 customer.get("last_name") or billing.get("last_name"),
                 billing.get("company"), f"Woo customer {woo_id}")
    return _customer_plan(customer_id(ctx.customer_prefix, woo_id), name, email,
                          billing.get("phone"), billing, customer.get("shipping"),
                          customer.get("date_created_gmt"), ctx)


def woo_guest_to_ifs_customer(order: dict[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """A guest buyer (``customer_id`` 0) → an IFS customer made from the billing details."""
    billing = order.get("billing") or {}
    email = (billing.get("email") or "").strip()
    if not email:
        raise MappingError([f"guest order {order.get('number') or order.get('id')} has no "
                            "billing e-mail, so no customer can be created for it"])
    name = _name(billing.get("first_name"), billing.get("last_name"), billing.get("company"),
                 email)
    return _customer_plan(guest_customer_id(ctx.customer_prefix, email), name, email,
                          billing.get("phone"), billing, order.get("shipping"),
                          order.get("date_created_gmt"), ctx)


def woo_order_to_ifs_order(order: dict[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """A Woo order → the IFS customer order plan: header, lines, charges, customer reference.

    Lines are priced at list price (``subtotal`` / quantity, tax excluded); coupon discounts
    travel as one discount charge, shipping and fees as one charge each (or, in lines mode, as
    sales-part lines), so the IFS order's net value equals the store's ``total - total_tax``.
    """
    problems: list[str] = []
    number = order.get("number") or order.get("id")
    label = f"order {number}"
    currency = (order.get("currency") or "").upper()
    if currency not in ctx.allowed_currencies:
        problems.append(f"{label}: currency {currency or '(none)'} is not one this tenant "
                        f"accepts ({', '.join(ctx.allowed_currencies)})")
    if not ctx.site:
        problems.append("the tenant has no IFS site configured (ifs set-target --site)")
    ledger = OrderLedger(label, currency, ctx)
    items = order.get("line_items") or []
    if not items:
        problems.append(f"{label} has no line items")
    for position, item in enumerate(items, start=1):
        title = item.get("name") or f"line {position}"
        sku = (item.get("sku") or "").strip()
        qty = money(item.get("quantity"), f"{label} line {position} quantity", problems)
        subtotal = money(item.get("subtotal"), f"{label} line {position} subtotal", problems)
        if not sku:
            problems.append(f"{label} line {position} ({title}) has no SKU, so it cannot be "
                            "matched to an IFS sales part")
        if qty <= 0:
            problems.append(f"{label} line {position} ({title}) has quantity {qty}; it must "
                            "be positive")
        if subtotal < 0:
            problems.append(f"{label} line {position} ({title}) has a negative amount")
        part = ctx.sku_map.get(sku, sku)
        if len(part) > CATALOG_NO_MAX:
            problems.append(f"{label} line {position} ({title}): sales part {part!r} is longer "
                            f"than IFS allows ({CATALOG_NO_MAX}); map it with sku_map")
        if problems:
            continue
        # The line's subtotal is what the shop charged before coupons (woo §3): never the
        # rounded float ``price`` × quantity (3.33 for 1000 units is not 1000 × 0.0033).
        ledger.line(part=part, description=str(title), quantity=qty, line_total=subtotal,
                    position=position, field=f"line_items[{position}].subtotal")
    customer_no = order.get("customer_id") or 0
    billing = order.get("billing") or {}
    customer_ref: dict[str, Any]
    if customer_no:
        customer_ref = {"entity": "customer", "external_id": str(customer_no)}
    elif ctx.guest_policy == "create":
        try:
            customer_ref = {"inline": woo_guest_to_ifs_customer(order, ctx)}
        except MappingError as exc:
            problems.extend(exc.problems)
            customer_ref = {}
    else:
        if not ctx.walk_in_customer:
            problems.append(f"{label} is a guest order and the tenant has no walk-in customer "
                            "(set walk_in_customer, or guest_policy=create)")
        if ctx.require_email and not (billing.get("email") or "").strip():
            problems.append(f"{label}: billing e-mail is missing")
        customer_ref = {"customer_id": ctx.walk_in_customer}
    if problems:
        raise MappingError(problems)

    _woo_money(order, label, ledger, problems)
    if problems:
        raise MappingError(problems)
    created = str(order.get("date_created_gmt") or "")
    try:
        wanted = datetime.fromisoformat(created[:19]) + timedelta(days=ctx.wanted_delivery_days)
    except ValueError:
        raise MappingError([f"{label} has no valid creation date ({created!r})"])
    status = str(order.get("status") or "")
    header = {
        "CustomerPoNo": po_number(ctx.prefix, number or ""),
        "Contract": ctx.site,
        "CurrencyCode": currency,
        "OrderId": ctx.order_type,
        "WantedDeliveryDate": wanted.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "LabelNote": f"woo:{status}"[:50],
        "NoteText": (order.get("customer_note") or "")[:2000],
    }
    total = money(order.get("total"), f"{label} total", problems)
    tax = money(order.get("total_tax"), f"{label} tax", problems)
    if problems:
        raise MappingError(problems)
    totals = ledger.close(net=total - tax, gross=total)
    return {
        "kind": "order",
        "customer_po_no": header["CustomerPoNo"],
        "customer": customer_ref,
        "header": header,
        "lines": ledger.lines,
        "charges": ledger.charges,
        "owned": {k: header[k] for k in ORDER_OWNED},
        "totals": totals,
    }


def _sum(rows: list[dict[str, Any]], name: str, what: str, problems: list[str]) -> Decimal:
    return sum((money(r.get(name), what, problems) for r in rows), Decimal(0))


def _woo_money(order: dict[str, Any], label: str, ledger: OrderLedger,
               problems: list[str]) -> None:
    """Every money field of a Woo order beyond the product lines, posted or accounted for
    (docs/money.md): shipping lines and fee lines as charges, coupons as one discount charge,
    taxes and refunds listed as not posted."""
    shipping = money(order.get("shipping_total"), f"{label} shipping", problems)
    shipping_lines = order.get("shipping_lines") or []
    if shipping_lines:
        listed = _sum(shipping_lines, "total", f"{label} shipping line", problems)
        if listed != shipping:
            problems.append(f"{label}: its shipping lines add up to {listed} but shipping_total "
                            f"is {shipping}; the order cannot be posted as the store shows it")
    ledger.charge("shipping", shipping, "Shipping", "shipping_total")
    fee_lines = order.get("fee_lines") or []
    fees = _sum(fee_lines, "total", f"{label} fee", problems)
    names = ", ".join(str(f.get("name") or "fee") for f in fee_lines)
    ledger.charge("fee", fees, "Fees", f"fee_lines ({names})" if names else "fee_lines")
    discount = money(order.get("discount_total"), f"{label} discount", problems)
    codes = ", ".join(str(c.get("code") or "") for c in order.get("coupon_lines") or [])
    ledger.charge("discount", -discount, f"Discount {codes}".strip(),
                  f"discount_total (coupons {codes})" if codes else "discount_total")
    tax = money(order.get("total_tax"), f"{label} tax", problems)
    ledger.not_posted("total_tax", tax, "tax is calculated by IFS from the sales parts and the "
                      "customer's tax liability; the plan keeps the store's gross")
    refunded = sum((money(r.get("total"), f"{label} refund", problems)
                    for r in order.get("refunds") or []), Decimal(0))
    ledger.not_posted("refunds", refunded, "refunds are not part of the order; credit them in "
                      "IFS")
