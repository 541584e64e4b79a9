"""BigCommerce → IFS mapping (pure functions): orders, customers and balanced GL vouchers."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connector.errors import DataError
from connector.pipeline.vouchers import voucher_plan
from connector.stores.bigcommerce.address_schemas import parse_bc_shipping_address
from connector.stores.bigcommerce.customer_schemas import parse_bc_customer
from connector.stores.bigcommerce.mapping import (
    bc_buyer_to_ifs_customer,
    bc_customer_to_ifs_customer,
    bc_order_to_ifs_order,
)
from connector.stores.bigcommerce.order_schemas import parse_bc_order, parse_bc_order_products
from connector.stores.bigcommerce.voucher_mapping import (
    bc_payment_to_voucher,
    bc_refund_to_voucher,
    bc_shipment_to_voucher,
    shipment_value,
    voucher_text,
)
from connector.stores.bigcommerce.voucher_schemas import (
    parse_bc_refund,
    parse_bc_shipment,
    parse_bc_transaction,
)
from connector.stores.mapping import MappingContext, MappingError, guest_customer_id

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
RULES = {
    "payment": {"debit": "1930", "credit": "2990", "voucher_type": "M",
                "dimensions": {"CodeB": "100"}},
    "shipment": {"debit": "2990", "credit": "3010", "voucher_type": "M",
                 "dimensions": {"B": "100", "CodeC": "WEB"}},
    "refund": {"debit": "3010", "credit": "1930", "voucher_type": "M"},
}
LABELS = {"shipment": "bc:shipped", "refund": "bc:refunded"}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def ctx(**overrides: Any) -> MappingContext:
    base: dict[str, Any] = {"company": "10", "site": "S1", "order_type": "NO", "prefix": "B7"}
    return MappingContext(**{**base, **overrides})


def order_payload(**changes: Any) -> dict[str, Any]:
    order = fixture("bc_order.json")
    order.update(changes)
    return dict(order)


def products(payload: Any = None) -> Any:
    return parse_bc_order_products(payload if payload is not None
                                   else fixture("bc_order_products.json"))


def balanced(plan: dict[str, Any]) -> Decimal:
    debit = sum(Decimal(r.get("debit", "0")) for r in plan["rows"])
    credit = sum(Decimal(r.get("credit", "0")) for r in plan["rows"])
    assert debit == credit
    voucher_plan(plan).validate()  # the wizard's own check agrees
    return debit


# --- orders ---------------------------------------------------------------------------------


def test_order_plan_is_priced_ex_tax_in_the_transactional_currency() -> None:
    order = parse_bc_order(order_payload(currency_code="USD", default_currency_code="EUR",
                                         customer_message="ring twice"))
    plan = bc_order_to_ifs_order(order, products(), ctx(), customer={"customer_id": "C1"})
    assert plan["kind"] == "order"
    assert plan["customer_po_no"] == "B7-3105"
    header = plan["header"]
    assert header["CurrencyCode"] == "EUR"  # default_currency_code, not the display currency
    assert header["Contract"] == "S1" and header["OrderId"] == "NO"
    assert header["WantedDeliveryDate"] == "2025-03-17T09:02:11Z"
    assert header["NoteText"] == "ring twice"
    assert header["LabelNote"] == "bc:Awaiting Fulfillment"
    assert plan["customer"] == {"customer_id": "C1"}
    assert [(ln["CatalogNo"], ln["BuyQtyDue"], ln["SaleUnitPrice"]) for ln in plan["lines"]] == [
        ("MUG-01", 2, 16.4), ("COAST-4", 1, 7.2)]
    assert plan["charges"] == []
    assert plan["owned"] == {"LabelNote": "bc:Awaiting Fulfillment", "NoteText": "ring twice"}
    assert plan["totals"]["net"] == plan["totals"]["posted"] == "40.00"
    json.dumps(plan)  # plain JSON


def test_order_charges_make_the_net_equal_total_ex_tax() -> None:
    order = parse_bc_order(order_payload(shipping_cost_ex_tax="5.0000",
                                         handling_cost_ex_tax="1.5000",
                                         discount_amount="2.0000", coupon_discount="1.0000",
                                         total_ex_tax="43.5000"))
    plan = bc_order_to_ifs_order(order, products(), ctx(), customer={"customer_id": "C1"})
    charges = {c["ChargeType"]: c["ChargeAmount"] for c in plan["charges"]}
    assert charges == {"FREIGHT": 5, "FEE": 1.5, "DISCOUNT": -3}
    assert plan["totals"]["posted"] == plan["totals"]["net"] == "43.50"
    lines_mode = bc_order_to_ifs_order(order, products(), ctx(charges_mode="lines"),
                                       customer={"customer_id": "C1"})
    assert [ln["CatalogNo"] for ln in lines_mode["lines"]][-2:] == ["SHIPPING", "FEE"]
    # IFS refuses negative line prices: the discount stays a charge
    assert [c["ChargeType"] for c in lines_mode["charges"]] == ["DISCOUNT"]


def test_mapped_labels_belong_to_the_events() -> None:
    order = parse_bc_order(order_payload(items_shipped=3, status_id=2, status="Shipped"))
    plan = bc_order_to_ifs_order(order, products(), ctx(), customer={"customer_id": "C1"},
                                 labels=LABELS)
    assert plan["header"]["LabelNote"] == "bc:shipped"
    assert set(plan["owned"]) == {"NoteText"}
    refunded = parse_bc_order(order_payload(refunded_amount="5.0000", items_shipped=3))
    again = bc_order_to_ifs_order(refunded, products(), ctx(), customer={"customer_id": "C1"},
                                  labels=LABELS)
    assert again["header"]["LabelNote"] == "bc:refunded"


def test_order_problems_are_plain_words() -> None:
    order = parse_bc_order(order_payload(default_currency_code="JPY"))
    lines = fixture("bc_order_products.json")
    lines[1]["sku"] = ""
    with pytest.raises(MappingError) as caught:
        bc_order_to_ifs_order(order, products(lines), ctx(site=""),
                              customer={"customer_id": "C1"})
    text = "; ".join(caught.value.problems)
    assert "currency JPY is not one this tenant accepts" in text
    assert "line 2 (Coaster set) has no SKU" in text
    assert "no IFS site configured" in text
    with pytest.raises(MappingError, match="no product lines"):
        bc_order_to_ifs_order(order, (), ctx(allowed_currencies=("JPY",)),
                              customer={"customer_id": "C1"})


# --- customers ------------------------------------------------------------------------------


def test_customer_record_maps_to_a_prefixed_ifs_customer() -> None:
    customer = parse_bc_customer(fixture("bc_customers.json")["data"][0])
    plan = bc_customer_to_ifs_customer(customer, ctx())
    assert plan["kind"] == "customer"
    assert plan["customer_id"] == "B7-742"
    assert plan["email"] == "ana.silva@example.org"
    assert plan["create"]["Name"] == "Ana Silva" and plan["create"]["Country"] == "PT"
    assert plan["create"]["Company"] == "10"
    assert plan["addresses"][0]["Address1"] == "Rua Augusta 100"
    assert {m["MethodId"] for m in plan["comm_methods"]} == {"E_MAIL", "PHONE"}
    assert plan["owned"] == {"Name": "Ana Silva", "Country": "PT"}


def test_buyer_ids_are_deterministic() -> None:
    registered = parse_bc_order(order_payload())
    shipping = parse_bc_shipping_address(fixture("bc_shipping_addresses.json")[0])
    plan = bc_buyer_to_ifs_customer(registered, ctx(), shipping)
    assert plan["customer_id"] == "B7-742"
    assert len(plan["addresses"]) == 1  # billing and shipping are the same place
    guest_a = parse_bc_order(order_payload(customer_id=0, id=1))
    guest_b = parse_bc_order(order_payload(customer_id=0, id=2, billing_address={
        **fixture("bc_order.json")["billing_address"], "email": "ANA.Silva@example.org"}))
    a = bc_buyer_to_ifs_customer(guest_a, ctx())["customer_id"]
    b = bc_buyer_to_ifs_customer(guest_b, ctx())["customer_id"]
    assert a == b == guest_customer_id("B7", "ana.silva@example.org")
    nobody = parse_bc_order(order_payload(customer_id=0, billing_address={"email": ""}))
    with pytest.raises(MappingError, match="no billing e-mail"):
        bc_buyer_to_ifs_customer(nobody, ctx())


# --- vouchers -------------------------------------------------------------------------------


def test_payment_voucher_is_balanced_with_dimensions() -> None:
    txn = parse_bc_transaction(fixture("bc_transactions.json")["data"][0])
    plan = bc_payment_to_voucher(txn, order_currency="EUR", ctx=ctx(), rules=RULES,
                                 store_hash="k7p2r9")
    assert plan["kind"] == "voucher"
    assert plan["text"] == "bc:k7p2r9:payment:44" == voucher_text("k7p2r9", "payment", 44)
    assert plan["currency"] == "EUR" and plan["voucher_type"] == "M"
    assert plan["voucher_date"] == "2025-03-14"
    assert balanced(plan) == Decimal("47.60")
    assert [r["account"] for r in plan["rows"]] == ["1930", "2990"]
    assert all(r["codes"] == {"CodeB": "100"} for r in plan["rows"])
    assert plan["label"] is None
    json.dumps(plan)


def test_payment_in_another_currency_than_the_order_fails() -> None:
    raw = fixture("bc_transactions.json")["data"][0]
    txn = parse_bc_transaction({**raw, "currency": "USD"})
    with pytest.raises(MappingError, match="is in USD but the order's transactional currency "
                                           "is EUR"):
        bc_payment_to_voucher(txn, order_currency="EUR", ctx=ctx(), rules=RULES,
                              store_hash="k7p2r9")
    voided = parse_bc_transaction({**raw, "event": "void"})
    with pytest.raises(MappingError, match="only captured payments"):
        bc_payment_to_voucher(voided, order_currency="EUR", ctx=ctx(), rules=RULES,
                              store_hash="k7p2r9")


def test_shipment_voucher_values_the_shipped_items_ex_tax() -> None:
    shipment = parse_bc_shipment(fixture("bc_shipments.json")[0])
    lines = fixture("bc_order_products.json")
    assert shipment_value(shipment, products(lines)) == Decimal("40.0000")
    plan = bc_shipment_to_voucher(shipment, products(lines), order_currency="EUR", ctx=ctx(),
                                  rules=RULES, store_hash="k7p2r9", labels=LABELS)
    assert balanced(plan) == Decimal("40.00")
    assert plan["text"] == "bc:k7p2r9:shipment:5"
    assert plan["rows"][0]["codes"] == {"CodeB": "100", "CodeC": "WEB"}
    assert plan["label"] == {"order_external_id": "3105", "value": "bc:shipped",
                             "outranked_by": ["bc:refunded"]}
    # a line discount lowers the recognised revenue pro rata; partial shipments count only
    # what was shipped
    lines[0]["applied_discounts"] = [{"id": "d", "amount": "2.0000"}]
    partial = parse_bc_shipment({**fixture("bc_shipments.json")[0],
                                 "items": [{"order_product_id": 16, "quantity": 1}]})
    assert shipment_value(partial, products(lines)) == Decimal("15.4000")
    stray = parse_bc_shipment({**fixture("bc_shipments.json")[0],
                               "items": [{"order_product_id": 99, "quantity": 1}]})
    with pytest.raises(MappingError, match="order product 99, which is not on order 3105"):
        shipment_value(stray, products(lines))


def test_refund_voucher_reverses_the_refunded_amount() -> None:
    refund = parse_bc_refund(fixture("bc_refunds.json")["data"][0])
    plan = bc_refund_to_voucher(refund, order_currency="EUR", ctx=ctx(), rules=RULES,
                                store_hash="k7p2r9", labels=LABELS)
    assert balanced(plan) == Decimal("20.17")  # partial refund: what was refunded
    assert plan["rows"][0] == {"account": "3010", "debit": "20.17", "codes": {},
                               "text": "BigCommerce order 3105 refund 12"}
    assert plan["label"]["value"] == "bc:refunded" and plan["label"]["outranked_by"] == []
    assert plan["voucher_date"] == "2025-03-16"


def test_missing_or_broken_posting_rules_say_what_to_do() -> None:
    refund = parse_bc_refund(fixture("bc_refunds.json")["data"][0])
    with pytest.raises(MappingError) as caught:
        bc_refund_to_voucher(refund, order_currency="EUR", ctx=ctx(),
                             rules={"payment": RULES["payment"]}, store_hash="k7p2r9")
    message = caught.value.problems[0]
    assert message.startswith("the tenant has no posting rule for BigCommerce refunds")
    assert "--posting-rules" in message and "replay" in message
    broken = {"refund": {"debit": "3010", "credit": "3010", "dimensions": {"CodeZ": "1"}}}
    with pytest.raises(MappingError) as caught:
        bc_refund_to_voucher(refund, order_currency="EUR", ctx=ctx(), rules=broken,
                             store_hash="k7p2r9")
    text = "; ".join(caught.value.problems)
    assert "has no voucher type" in text
    assert "unknown dimension 'CodeZ'" in text
    assert "debits and credits the same account" in text


def test_voucher_currency_must_be_allowed_and_amounts_exact() -> None:
    refund = parse_bc_refund(fixture("bc_refunds.json")["data"][0])
    with pytest.raises(MappingError, match="currency JPY is not one this tenant accepts"):
        bc_refund_to_voucher(refund, order_currency="JPY", ctx=ctx(), rules=RULES,
                             store_hash="k7p2r9")
    plan = bc_refund_to_voucher(refund, order_currency="EUR", ctx=ctx(), rules=RULES,
                                store_hash="k7p2r9")
    unbalanced = copy.deepcopy(plan)
    unbalanced["rows"][1]["credit"] = "20.16"
    with pytest.raises(DataError, match="unbalanced"):
        voucher_plan(unbalanced).validate()
    with pytest.raises(MappingError, match="longer than IFS allows"):
        voucher_text("x" * 200, "refund", 1)


# --- money: fees, wrapping, handling, payment means (issue 13, seen 2) ---------------------


def _posted(plan: dict[str, Any]) -> Decimal:
    lines = sum((Decimal(str(x["BuyQtyDue"])) * Decimal(str(x["SaleUnitPrice"]))
                 for x in plan["lines"]), Decimal(0))
    return lines + sum((Decimal(str(c["ChargeAmount"])) for c in plan["charges"]), Decimal(0))


def test_fees_and_gift_wrapping_are_posted_so_the_net_is_total_ex_tax() -> None:
    # 40.00 of products + 5.99 fee + 2.50 wrapping = 48.49 (seen 2: fees and wrapping dropped).
    order = parse_bc_order(order_payload(
        total_ex_tax="48.4900", total_inc_tax="56.0900", wrapping_cost_ex_tax="2.5000",
        fees=[{"id": 1, "type": "custom_fee", "display_name": "Payment surcharge",
               "cost_ex_tax": "5.9900", "cost_inc_tax": "5.9900", "cost_tax": "0.0000"}]))
    plan = bc_order_to_ifs_order(order, products(), ctx(wrapping_charge_type="WRAP"),
                                 customer={"customer_id": "C1"})
    charges = sorted((c["ChargeType"], c["ChargeAmount"]) for c in plan["charges"])
    assert charges == [("FEE", 5.99), ("WRAP", 2.5)]
    assert _posted(plan) == Decimal("48.49") == Decimal(plan["totals"]["posted"])
    assert plan["totals"]["net"] == "48.49"


def test_an_order_whose_components_miss_total_ex_tax_fails_naming_both_figures() -> None:
    # A fee the mapping does not see (e.g. the fees sub-resource not read) must not vanish.
    order = parse_bc_order(order_payload(total_ex_tax="45.9900", total_inc_tax="53.5900"))
    with pytest.raises(MappingError) as exc:
        bc_order_to_ifs_order(order, products(), ctx(), customer={"customer_id": "C1"})
    text = str(exc.value)
    assert "would total 40.00 EUR" in text
    assert "store's net is 45.99 EUR" in text and "nothing was sent to IFS" in text


def test_fees_only_linked_and_not_read_are_refused() -> None:
    order = parse_bc_order(order_payload(fees={"url": "https://x/v2/orders/3105/fees",
                                               "resource": "/orders/3105/fees"}))
    assert order.fees is None
    with pytest.raises(MappingError, match="fees were not read"):
        bc_order_to_ifs_order(order, products(), ctx(), customer={"customer_id": "C1"})


def test_store_credit_and_gift_certificates_are_listed_as_not_posted() -> None:
    order = parse_bc_order(order_payload(store_credit_amount="10.0000",
                                         gift_certificate_amount="5.0000"))
    plan = bc_order_to_ifs_order(order, products(), ctx(), customer={"customer_id": "C1"})
    how = {m["field"]: m["how"] for m in plan["totals"]["money"]}
    assert "means of payment" in how["store_credit_amount"]
    assert "means of payment" in how["gift_certificate_amount"]
    assert _posted(plan) == Decimal(plan["totals"]["net"])


def test_bulk_line_with_an_odd_unit_price_posts_its_line_total() -> None:
    order = parse_bc_order(order_payload(total_ex_tax="3.3300", total_inc_tax="3.3300",
                                         subtotal_ex_tax="3.3300"))
    lines = products([{"id": 1, "order_id": 3105, "product_id": 9, "name": "Washers",
                       "sku": "WSH", "quantity": 1000, "price_ex_tax": "0.0033",
                       "total_ex_tax": "3.3300", "price_inc_tax": "0.0033",
                       "total_inc_tax": "3.3300"}])
    plan = bc_order_to_ifs_order(order, lines, ctx(), customer={"customer_id": "C1"})
    assert _posted(plan) == Decimal("3.33")
    assert plan["charges"] == [{"ChargeType": "ROUNDING", "ChargeAmount": 0.03,
                                "ChargedQty": 1, "Company": "10"}]
