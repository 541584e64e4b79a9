"""The pure WooCommerce → IFS mapping (connector/mapping/woo.py and common.py).

Realistic orders come from the WooCommerce simulator's generator, whose totals add up the way
WooCommerce's do (``total - total_tax = Σ line.subtotal - discount_total + fees + shipping``).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.stores.mapping import (
    CUSTOMER_ID_MAX,
    PO_NO_MAX,
    MappingContext,
    MappingError,
    as_json_number,
    customer_id,
    guest_customer_id,
    money,
    po_number,
)
from connector.stores.woocommerce.mapping import (
    woo_customer_to_ifs_customer,
    woo_guest_to_ifs_customer,
    woo_order_to_ifs_order,
)
from sandbox.woocommerce import WooSimulator

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
CTX = MappingContext(company="10", site="S1", order_type="NO", prefix="WOO",
                     walk_in_customer="WALKIN")


def _ctx(**changes: Any) -> MappingContext:
    return replace(CTX, **changes)


def _order(**changes: Any) -> dict[str, Any]:
    """A registered customer's order: 2 × 16.40 + 1 × 8.13 + 4.90 shipping, EUR."""
    order: dict[str, Any] = json.loads((FIXTURES / "woo_order.json").read_text())
    order.update(changes)
    return order


def _guest_order(**changes: Any) -> dict[str, Any]:
    order = _order(customer_id=0)
    order.update(changes)
    return order


def _problems(exc: pytest.ExceptionInfo[MappingError]) -> str:
    return " | ".join(exc.value.problems)


def _net(plan: dict[str, Any]) -> Decimal:
    lines = sum((Decimal(str(x["BuyQtyDue"])) * Decimal(str(x["SaleUnitPrice"]))
                 for x in plan["lines"]), Decimal(0))
    charges = sum((Decimal(str(c["ChargedQty"])) * Decimal(str(c["ChargeAmount"]))
                   for c in plan["charges"]), Decimal(0))
    return lines + charges


@pytest.fixture(scope="module")
def seeded() -> tuple[list[dict[str, Any]], dict[int, str]]:
    """400 generated orders in three currencies, guests, coupons, fees, refunds, 9 invalid."""
    sim = WooSimulator()
    try:
        summary = sim.seed(customers=40, orders=400, seed=7, invalid=9, silent=True,
                           currencies=("EUR", "USD", "GBP"))
        orders = sim.orders()
    finally:
        sim.close()
    return orders, {x["id"]: x["problem"] for x in summary["invalid"]}


# --------------------------------------------------------------------------- ids


PREFIX = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=12)


@given(PREFIX, st.integers(min_value=1, max_value=10**12))
def test_customer_id_is_deterministic_and_bounded(prefix: str, store_id: int) -> None:
    expected = f"{prefix}-{store_id}"
    if len(expected) <= CUSTOMER_ID_MAX:
        assert customer_id(prefix, store_id) == expected
        assert customer_id(prefix, str(store_id)) == expected
    else:
        with pytest.raises(MappingError) as exc:
            customer_id(prefix, store_id)
        assert "longer than IFS allows" in _problems(exc)
        assert "id_prefix" in _problems(exc)


@given(PREFIX, st.integers(1, 10**6), st.integers(1, 10**6))
def test_customer_ids_of_different_store_customers_differ(prefix: str, a: int, b: int) -> None:
    if a != b and len(f"{prefix}-{max(a, b)}") <= CUSTOMER_ID_MAX:
        assert customer_id(prefix, a) != customer_id(prefix, b)


def test_customer_id_length_limit_is_exactly_twenty() -> None:
    assert customer_id("ABCDEFGHI", 1234567890) == "ABCDEFGHI-1234567890"  # 20 characters
    with pytest.raises(MappingError):
        customer_id("ABCDEFGHI", 12345678901)  # 21


EMAIL = st.emails().filter(lambda e: len(e) < 60)


@given(EMAIL, st.sampled_from(["WOO", "EU", "SHOP1"]))
def test_guest_id_is_stable_per_email_ignoring_case_and_spaces(email: str, prefix: str) -> None:
    gid = guest_customer_id(prefix, email)
    assert re.fullmatch(rf"{prefix}-G[0-9A-F]{{8}}", gid)
    assert guest_customer_id(prefix, email.upper()) == gid
    assert guest_customer_id(prefix, f"  {email.swapcase()}\t") == gid
    assert len(gid) <= CUSTOMER_ID_MAX


@given(EMAIL, EMAIL)
def test_guest_ids_of_different_emails_differ(a: str, b: str) -> None:
    if a.lower() != b.lower():
        assert guest_customer_id("WOO", a) != guest_customer_id("WOO", b)


def test_guest_id_does_not_collide_with_registered_ids_and_respects_the_limit() -> None:
    assert guest_customer_id("WOO", "a@b.test").startswith("WOO-G")
    with pytest.raises(MappingError, match="shorten the source's id_prefix"):
        guest_customer_id("A-VERY-LONG-PFX", "a@b.test")


def test_po_number_and_its_limit() -> None:
    assert po_number("WOO", 5120) == "WOO-5120"
    assert len(po_number("W", "9" * (PO_NO_MAX - 2))) == PO_NO_MAX
    with pytest.raises(MappingError, match="order reference"):
        po_number("W", "9" * (PO_NO_MAX - 1))


def test_money_and_json_numbers() -> None:
    problems: list[str] = []
    assert money("12.30", "x", problems) == Decimal("12.30")
    assert money(None, "x", problems) == 0 and money("", "x", problems) == 0
    assert problems == []
    assert money("12,30", "order 7 total", problems) == 0
    assert money("NaN", "order 7 tax", problems) == 0
    assert problems == ["order 7 total is not a number ('12,30')",
                        "order 7 tax is not a number ('NaN')"]
    assert as_json_number(Decimal("3.0000")) == 3 and isinstance(as_json_number(Decimal(3)), int)
    assert as_json_number(Decimal("16.4000")) == 16.4


# --------------------------------------------------------------------------- order plan


def test_order_plan_header_lines_and_charges() -> None:
    plan = woo_order_to_ifs_order(_order(customer_note="Leave at the door"), CTX)
    assert plan["kind"] == "order"
    assert plan["customer_po_no"] == "WOO-5120"
    assert plan["customer"] == {"entity": "customer", "external_id": "88"}
    assert plan["header"] == {
        "CustomerPoNo": "WOO-5120",
        "Contract": "S1",
        "CurrencyCode": "EUR",
        "OrderId": "NO",
        "WantedDeliveryDate": "2025-03-17T09:02:11Z",  # created (GMT) + 3 days
        "LabelNote": "woo:processing",
        "NoteText": "Leave at the door",
    }
    assert plan["owned"] == {"LabelNote": "woo:processing", "NoteText": "Leave at the door"}
    assert plan["lines"] == [
        {"CatalogNo": "MUG-01-BLU", "CatalogDesc": plan["lines"][0]["CatalogDesc"],
         "BuyQtyDue": 2, "SaleUnitPrice": 16.4, "CustomerPoLineNo": "1"},
        {"CatalogNo": "TEA-SAMP", "CatalogDesc": plan["lines"][1]["CatalogDesc"],
         "BuyQtyDue": 1, "SaleUnitPrice": 8.13, "CustomerPoLineNo": "2"},
    ]
    assert [x["CatalogDesc"] for x in plan["lines"]] == [
        x["name"] for x in _order()["line_items"]]
    assert plan["charges"] == [
        {"ChargeType": "FREIGHT", "ChargeAmount": 4.9, "ChargedQty": 1, "Company": "10"}]
    totals = plan["totals"]
    assert (totals["currency"], totals["net"], totals["total"], totals["posted"]) == (
        "EUR", "45.83", "54.56", "45.83")
    assert totals["tax"] == "8.73" and totals["rounding"] == "0"
    assert _net(plan) == Decimal("45.83")
    json.dumps(plan)  # plain JSON: stored on the staged record


def test_wanted_delivery_days_and_order_type_come_from_the_context() -> None:
    plan = woo_order_to_ifs_order(_order(), _ctx(wanted_delivery_days=10, order_type="WEB"))
    assert plan["header"]["WantedDeliveryDate"] == "2025-03-24T09:02:11Z"
    assert plan["header"]["OrderId"] == "WEB"


def test_lines_are_at_list_price_and_the_coupon_is_one_discount_charge() -> None:
    order = _order(discount_total="5.00", total="48.41", total_tax="7.58")
    order["line_items"][0]["total"] = "27.80"  # the coupon reduced line 1 by 5.00
    plan = woo_order_to_ifs_order(order, CTX)
    assert [x["SaleUnitPrice"] for x in plan["lines"]] == [16.4, 8.13]  # subtotal / qty
    assert plan["charges"] == [
        {"ChargeType": "FREIGHT", "ChargeAmount": 4.9, "ChargedQty": 1, "Company": "10"},
        {"ChargeType": "DISCOUNT", "ChargeAmount": -5, "ChargedQty": 1, "Company": "10"},
    ]
    assert _net(plan) == Decimal("40.83") == Decimal(plan["totals"]["net"])


def test_fees_are_summed_into_one_fee_charge_and_zero_amounts_are_left_out() -> None:
    order = _order(shipping_total="0.00", total="53.43", total_tax="8.00", shipping_lines=[])
    order["fee_lines"] = [{"name": "Gift wrap", "total": "3.00"},
                          {"name": "Cash on delivery fee", "total": "1.50"}]
    plan = woo_order_to_ifs_order(order, _ctx(fee_charge_type="HANDLING"))
    assert plan["charges"] == [
        {"ChargeType": "HANDLING", "ChargeAmount": 4.5, "ChargedQty": 1, "Company": "10"}]


def test_lines_mode_sends_shipping_and_fees_as_sales_part_lines() -> None:
    order = _order(total="56.06", total_tax="8.73")
    order["fee_lines"] = [{"name": "Gift wrap", "total": "1.50"}]
    plan = woo_order_to_ifs_order(order, _ctx(charges_mode="lines", shipping_part="SHIP-P"))
    assert plan["charges"] == []
    assert plan["lines"][2:] == [
        {"CatalogNo": "SHIP-P", "CatalogDesc": "Shipping", "BuyQtyDue": 1,
         "SaleUnitPrice": 4.9},
        {"CatalogNo": "FEE", "CatalogDesc": "Fees", "BuyQtyDue": 1, "SaleUnitPrice": 1.5},
    ]
    assert _net(plan) == Decimal("47.33") == Decimal(plan["totals"]["net"])


def test_lines_mode_never_sends_a_negative_price_line() -> None:
    """IFS refuses a customer order line with a negative SaleUnitPrice (NEGATIVE_PRICE) or a
    non-positive BuyQtyDue, so a coupon discount cannot become a line; it stays a charge."""
    order = _order(discount_total="5.00", total="48.41", total_tax="7.58")
    plan = woo_order_to_ifs_order(order, _ctx(charges_mode="lines"))
    assert all(x["SaleUnitPrice"] >= 0 and x["BuyQtyDue"] > 0 for x in plan["lines"])
    assert [x["CatalogNo"] for x in plan["lines"]] == ["MUG-01-BLU", "TEA-SAMP", "SHIPPING"]
    assert plan["charges"] == [
        {"ChargeType": "DISCOUNT", "ChargeAmount": -5, "ChargedQty": 1, "Company": "10"}]
    assert _net(plan) == Decimal(plan["totals"]["net"]) == Decimal("40.83")


def test_sku_map_renames_parts_and_leaves_others_alone() -> None:
    plan = woo_order_to_ifs_order(_order(), _ctx(sku_map={"MUG-01-BLU": "IFS-MUG-BLUE"}))
    assert [x["CatalogNo"] for x in plan["lines"]] == ["IFS-MUG-BLUE", "TEA-SAMP"]


def _bulk(*lines: tuple[str, int, str]) -> dict[str, Any]:
    """A Woo order of ``(sku, quantity, subtotal)`` lines, no tax, shipping or coupons."""
    net = sum((Decimal(sub) for _, _, sub in lines), Decimal(0))
    order = _order(total=str(net), total_tax="0.00", shipping_total="0.00", discount_total="0.00",
                   shipping_lines=[], fee_lines=[], coupon_lines=[])
    order["line_items"] = [{"name": sku, "sku": sku, "quantity": qty, "subtotal": sub,
                            "total": sub, "price": float(Decimal(sub) / qty)}
                           for sku, qty, sub in lines]
    return order


@pytest.mark.parametrize(("qty", "subtotal", "unit", "rounding"), [
    (1000, "3.33", 0.0033, "0.03"),   # issue 13 seen 1: was 3.3000 per unit = 3300.00
    (300, "1.00", 0.0033, "0.01"),    # was 0.9900 … (297.00 instead of 1.00)
    (3, "10.00", 3.3333, None),       # 9.9999 is off the cent grid: 3.33 per unit + 0.01
])
def test_bulk_odd_unit_prices_post_the_exact_line_total(qty: int, subtotal: str, unit: float,
                                                          rounding: str | None) -> None:
    plan = woo_order_to_ifs_order(_bulk(("BULK", qty, subtotal)), CTX)
    assert _net(plan) == Decimal(subtotal) == Decimal(plan["totals"]["posted"])
    line = plan["lines"][0]
    assert Decimal(str(line["BuyQtyDue"])) * Decimal(str(line["SaleUnitPrice"])) <= Decimal(
        subtotal)
    if rounding is None:
        assert line["SaleUnitPrice"] == 3.33
        rounding = "0.01"
    else:
        assert line["SaleUnitPrice"] == unit
    assert plan["charges"] == [{"ChargeType": "ROUNDING", "ChargeAmount": float(rounding),
                                "ChargedQty": 1, "Company": "10"}]


def test_more_price_decimals_need_no_rounding_charge() -> None:
    plan = woo_order_to_ifs_order(_bulk(("BULK", 1000, "3.33")), _ctx(price_decimals=5))
    assert plan["lines"][0]["SaleUnitPrice"] == 0.00333 and plan["charges"] == []
    assert _net(plan) == Decimal("3.33")


def test_a_plan_that_would_not_post_the_store_net_fails_naming_both_figures() -> None:
    order = _order()
    order["total"] = "54.57"  # one cent more than the lines, shipping and tax add up to
    with pytest.raises(MappingError) as exc:
        woo_order_to_ifs_order(order, CTX)
    text = _problems(exc)
    assert "45.83" in text and "45.84" in text and "nothing was sent to IFS" in text


def test_fee_lines_taxes_and_refunds_are_accounted_for() -> None:
    order = _order(total="60.55", total_tax="8.73")
    order["fee_lines"] = [{"name": "Express handling", "total": "5.99", "total_tax": "0.00"}]
    order["refunds"] = [{"id": 1, "reason": "broken", "total": "-5.00"}]
    plan = woo_order_to_ifs_order(order, CTX)
    assert _net(plan) == Decimal("51.82")
    how = {m["field"]: m["how"] for m in plan["totals"]["money"]}
    assert how["fee_lines (Express handling)"] == "charge FEE"
    assert how["shipping_total"] == "charge FREIGHT"
    assert how["total_tax"].startswith("not posted") and how["refunds"].startswith("not posted")


def test_shipping_lines_that_disagree_with_shipping_total_are_refused() -> None:
    order = _order()
    order["shipping_lines"] = [{"method_title": "Flat", "total": "3.90"}]
    with pytest.raises(MappingError) as exc:
        woo_order_to_ifs_order(order, CTX)
    assert "shipping lines add up to 3.90 but shipping_total is 4.90" in _problems(exc)


def test_every_valid_generated_order_maps_to_its_net_total(
    seeded: tuple[list[dict[str, Any]], dict[int, str]],
) -> None:
    orders, invalid = seeded
    modes = {"charges": _ctx(), "lines": _ctx(charges_mode="lines")}
    checked = discounted = with_fees = guests = 0
    for order in orders:
        if order["id"] in invalid:
            continue
        expected = Decimal(order["total"]) - Decimal(order["total_tax"])
        for mode, ctx in modes.items():
            plan = woo_order_to_ifs_order(order, ctx)
            rows = len(plan["lines"]) + len(plan["charges"])
            assert abs(_net(plan) - expected) <= Decimal("0.01") * rows, (mode, order["id"])
            assert Decimal(plan["totals"]["net"]) == expected
            assert plan["header"]["CurrencyCode"] == order["currency"]
            assert len(plan["lines"]) >= len(order["line_items"])
            assert all(x["SaleUnitPrice"] >= 0 and x["BuyQtyDue"] > 0 for x in plan["lines"])
        checked += 1
        discounted += Decimal(order["discount_total"]) > 0
        with_fees += bool(order["fee_lines"])
        guests += order["customer_id"] == 0
    # The sample really covers coupons, fees and guests (else the check proves little).
    assert checked == 391 and discounted > 20 and with_fees > 20 and guests > 40


def test_every_invalid_generated_order_is_refused_with_its_problem(
    seeded: tuple[list[dict[str, Any]], dict[int, str]],
) -> None:
    orders, invalid = seeded
    by_id = {o["id"]: o for o in orders}
    words = {"line_without_sku": "has no SKU", "negative_quantity": "it must be positive",
             "guest_missing_email": "billing e-mail is missing"}
    assert set(invalid.values()) == set(words)
    for order_id, problem in invalid.items():
        with pytest.raises(MappingError) as exc:
            woo_order_to_ifs_order(by_id[order_id], CTX)
        assert words[problem] in _problems(exc), (order_id, problem)


# --------------------------------------------------------------------------- refusals


def test_line_without_sku_is_refused_in_plain_words() -> None:
    order = _order()
    order["line_items"][1]["sku"] = "  "
    with pytest.raises(MappingError) as exc:
        woo_order_to_ifs_order(order, CTX)
    assert exc.value.problems == [
        f"order 5120 line 2 ({order['line_items'][1]['name']}) has no SKU, so it cannot be "
        "matched to an IFS sales part"]


def test_negative_quantity_is_refused_in_plain_words() -> None:
    order = _order()
    order["line_items"][0]["quantity"] = -2
    with pytest.raises(MappingError) as exc:
        woo_order_to_ifs_order(order, CTX)
    name = order["line_items"][0]["name"]
    assert exc.value.problems[0] == (
        f"order 5120 line 1 ({name}) has quantity -2; it must be positive")


def test_zero_quantity_and_negative_amount_are_refused() -> None:
    order = _order()
    order["line_items"][0]["quantity"] = 0
    with pytest.raises(MappingError, match="has quantity 0; it must be positive"):
        woo_order_to_ifs_order(order, CTX)
    order = _order()
    order["line_items"][0]["subtotal"] = "-1.00"
    with pytest.raises(MappingError, match=r"line 1 \(.*\) has a negative amount"):
        woo_order_to_ifs_order(order, CTX)


def test_unknown_currency_is_refused_naming_the_accepted_ones() -> None:
    with pytest.raises(MappingError) as exc:
        woo_order_to_ifs_order(_order(currency="jpy"), _ctx(allowed_currencies=("EUR", "USD")))
    assert exc.value.problems == [
        "order 5120: currency JPY is not one this tenant accepts (EUR, USD)"]
    with pytest.raises(MappingError, match=r"currency \(none\) is not one"):
        woo_order_to_ifs_order(_order(currency=""), CTX)
    plan = woo_order_to_ifs_order(_order(currency="usd"), CTX)
    assert plan["header"]["CurrencyCode"] == "USD"


def test_order_without_lines_or_site_or_date_is_refused() -> None:
    with pytest.raises(MappingError, match="order 5120 has no line items"):
        woo_order_to_ifs_order(_order(line_items=[]), CTX)
    with pytest.raises(MappingError, match="the tenant has no IFS site configured"):
        woo_order_to_ifs_order(_order(), _ctx(site=""))
    with pytest.raises(MappingError, match="has no valid creation date"):
        woo_order_to_ifs_order(_order(date_created_gmt=None), CTX)


def test_several_problems_are_reported_together() -> None:
    with pytest.raises(MappingError) as exc:
        woo_order_to_ifs_order(_guest_order(currency="JPY"), _ctx(walk_in_customer=None))
    assert len(exc.value.problems) == 2
    assert str(exc.value) == "; ".join(exc.value.problems)


def test_guest_order_goes_to_the_walk_in_customer() -> None:
    plan = woo_order_to_ifs_order(_guest_order(), CTX)
    assert plan["customer"] == {"customer_id": "WALKIN"}


def test_guest_without_walk_in_customer_is_refused_in_plain_words() -> None:
    with pytest.raises(MappingError) as exc:
        woo_order_to_ifs_order(_guest_order(), _ctx(walk_in_customer=None))
    assert exc.value.problems == [
        "order 5120 is a guest order and the tenant has no walk-in customer "
        "(set walk_in_customer, or guest_policy=create)"]


def test_walk_in_guest_needs_an_email_only_when_required() -> None:
    order = _guest_order()
    order["billing"]["email"] = ""
    with pytest.raises(MappingError, match="order 5120: billing e-mail is missing"):
        woo_order_to_ifs_order(order, CTX)
    plan = woo_order_to_ifs_order(order, _ctx(require_email=False))
    assert plan["customer"] == {"customer_id": "WALKIN"}


def test_guest_policy_create_inlines_a_customer_keyed_by_email() -> None:
    order = _guest_order()
    order["billing"]["email"] = " Ana.Silva@Example.PT "
    plan = woo_order_to_ifs_order(order, _ctx(guest_policy="create", walk_in_customer=None))
    inline = plan["customer"]["inline"]
    assert inline["customer_id"] == guest_customer_id("WOO", "ana.silva@example.pt")
    assert inline["email"] == "ana.silva@example.pt"
    again = _guest_order()
    again["billing"]["email"] = "ana.silva@example.pt"
    assert woo_guest_to_ifs_customer(again, CTX)["customer_id"] == inline["customer_id"]


def test_guest_policy_create_without_email_is_refused_in_plain_words() -> None:
    order = _guest_order()
    order["billing"]["email"] = ""
    with pytest.raises(MappingError) as exc:
        woo_order_to_ifs_order(order, _ctx(guest_policy="create", require_email=False))
    assert exc.value.problems == [
        "guest order 5120 has no billing e-mail, so no customer can be created for it"]


# --------------------------------------------------------------------------- customers


def _customer() -> dict[str, Any]:
    return dict(json.loads((FIXTURES / "woo_customer.json").read_text()))


def test_customer_plan() -> None:
    plan = woo_customer_to_ifs_customer(_customer(), CTX)
    assert plan["kind"] == "customer"
    assert plan["customer_id"] == "WOO-88"
    assert plan["email"] == "ana.silva@example.org"
    assert plan["create"] == {
        "CustomerId": "WOO-88", "Name": "Ana Silva", "CreationDate": "2024-11-02",
        "Country": "PT", "DefaultLanguage": "en", "PartyType": "Person",
        "DefaultDomain": True, "Company": "10",
    }
    assert plan["owned"] == {"Name": "Ana Silva", "Country": "PT"}
    assert plan["comm_methods"] == [
        {"MethodId": "E_MAIL", "Value": "ana.silva@example.org", "MethodDefault": True},
        {"MethodId": "PHONE", "Value": "+351 912 345 678", "MethodDefault": True},
    ]
    # Billing and shipping are the same place: one IFS address.
    assert plan["addresses"] == [{
        "AddressId": "1", "Name": "Ana Silva", "Address1": "Rua Augusta 100",
        "Address2": "2 Esq", "ZipCode": "1100-148", "City": "Lisboa", "State": "",
        "Country": "PT", "DefaultDomain": True,
    }]


def test_customer_email_is_normalised_and_method_ids_come_from_the_context() -> None:
    woo = _customer()
    woo["email"] = "  Ana.Silva@Example.ORG "
    plan = woo_customer_to_ifs_customer(woo, _ctx(email_method_id="MAIL", prefix="EU"))
    assert plan["customer_id"] == "EU-88"
    assert plan["comm_methods"][0] == {"MethodId": "MAIL", "Value": "ana.silva@example.org",
                                       "MethodDefault": True}


def test_customer_same_billing_and_shipping_gives_one_address() -> None:
    woo = _customer()
    woo["billing"].update(address_1="Rua A 1", city="Porto", postcode="4000", country="pt")
    woo["shipping"] = {k: woo["billing"].get(k, "") for k in (
        "first_name", "last_name", "company", "address_1", "address_2", "city", "state",
        "postcode", "country")}
    plan = woo_customer_to_ifs_customer(woo, CTX)
    assert len(plan["addresses"]) == 1 and plan["addresses"][0]["Country"] == "PT"
    woo["shipping"]["city"] = "Lisboa"
    assert [a["AddressId"] for a in woo_customer_to_ifs_customer(woo, CTX)["addresses"]] == [
        "1", "2"]


def test_customer_without_email_or_id_is_refused() -> None:
    woo = _customer()
    woo["email"] = ""
    woo["billing"]["email"] = ""
    with pytest.raises(MappingError, match=f"customer {woo['id']} has no e-mail address"):
        woo_customer_to_ifs_customer(woo, CTX)
    assert woo_customer_to_ifs_customer(woo, _ctx(require_email=False))["comm_methods"] == [
        {"MethodId": "PHONE", "Value": "+351 912 345 678", "MethodDefault": True}]
    with pytest.raises(MappingError, match="customer has no valid id"):
        woo_customer_to_ifs_customer({**_customer(), "id": 0}, CTX)


def test_customer_name_falls_back_to_company_then_id() -> None:
    woo = _customer()
    woo.update(first_name="", last_name="")
    woo["billing"].update(first_name="", last_name="", company="Lumière SARL")
    assert woo_customer_to_ifs_customer(woo, CTX)["create"]["Name"] == "Lumière SARL"
    woo["billing"]["company"] = ""
    assert woo_customer_to_ifs_customer(woo, CTX)["create"]["Name"] == f"Woo customer {woo['id']}"


def test_mapping_does_not_modify_its_input() -> None:
    order = _guest_order()
    before = copy.deepcopy(order)
    woo_order_to_ifs_order(order, _ctx(guest_policy="create"))
    assert order == before


# --------------------------------------------------------------------------- context


def test_context_build_precedence_source_over_tenant_over_ifs() -> None:
    ctx = MappingContext.build(
        company="20",
        ifs_settings={"site": "S-IFS", "order_type": "IFS", "walk_in_customer": "W-IFS",
                      "email_method_id": "EMAIL_IFS", "charges_mode": "lines",
                      "allowed_currencies": ["SEK"]},
        tenant_settings={"site": "S-TEN", "walk_in_customer": "W-TEN",
                         "sku_map": {"A": "B"}, "allowed_currencies": ["EUR", "USD"]},
        source_settings={"site": "S-SRC", "id_prefix": "EU1",
                         "allowed_currencies": ["GBP"]},
        default_prefix="WOO",
    )
    assert ctx.company == "20"
    assert ctx.site == "S-SRC"  # source beats tenant beats IFS
    assert ctx.walk_in_customer == "W-TEN"  # tenant beats IFS
    assert ctx.order_type == "IFS"  # only IFS sets it
    assert ctx.email_method_id == "EMAIL_IFS"
    assert ctx.charges_mode == "lines"
    assert ctx.allowed_currencies == ("GBP",)  # a tuple, from the source
    assert ctx.sku_map == {"A": "B"}
    assert ctx.prefix == "EU1"
    assert ctx.default_country == "US"  # nobody sets it: the dataclass default


def test_context_build_defaults() -> None:
    ctx = MappingContext.build(company="10", ifs_settings={}, tenant_settings={"site": "S1"},
                               source_settings={}, default_prefix="WOO")
    assert (ctx.site, ctx.order_type, ctx.prefix) == ("S1", "NO", "WOO")
    assert ctx.guest_policy == "walk_in" and ctx.walk_in_customer is None
    assert ctx.charges_mode == "charges"
    ctx = MappingContext.build(company="10", ifs_settings={}, tenant_settings={},
                               source_settings={"id_prefix": ""}, default_prefix="BC")
    assert ctx.site == "" and ctx.prefix == "BC"


def test_a_sales_part_longer_than_ifs_allows_is_refused_not_truncated() -> None:
    order = _order()
    long_sku = "SKU-" + "X" * 30
    order["line_items"][0]["sku"] = long_sku
    with pytest.raises(MappingError) as exc:
        woo_order_to_ifs_order(order, _ctx())
    assert "longer than IFS allows" in _problems(exc) and "sku_map" in _problems(exc)
    plan = woo_order_to_ifs_order(order, _ctx(sku_map={long_sku: "SHORT-1"}))
    assert plan["lines"][0]["CatalogNo"] == "SHORT-1"
