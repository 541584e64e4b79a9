"""WooCommerce simulator: order and customer shapes, dates and exact money; seeding (§3)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sandbox.woocommerce import WooSimulator
from tests.sandbox.woocommerce.support import ANCHOR, MONEY, NAIVE, Shop, all_orders, cents

# ============================================================================ §3 shapes, money


ORDER_FIELDS = {
    "id", "parent_id", "number", "order_key", "status", "currency", "date_created",
    "date_created_gmt", "date_modified", "date_modified_gmt", "discount_total", "shipping_total",
    "total", "total_tax", "prices_include_tax", "customer_id", "customer_note", "billing",
    "shipping", "payment_method", "payment_method_title", "transaction_id", "date_paid",
    "date_paid_gmt", "date_completed", "date_completed_gmt", "meta_data", "line_items",
    "tax_lines", "shipping_lines", "fee_lines", "coupon_lines", "refunds",
}  # fmt: skip
ADDRESS = {
    "first_name",
    "last_name",
    "company",
    "address_1",
    "address_2",
    "city",
    "state",
    "postcode",
    "country",
}
LINE_FIELDS = {
    "id", "name", "product_id", "variation_id", "quantity", "tax_class", "subtotal",
    "subtotal_tax", "total", "total_tax", "sku", "price",
}  # fmt: skip


def test_order_shape_dates_and_money_add_up(seeded: Shop) -> None:
    orders = all_orders(seeded)
    assert len(orders) == 40
    offset = timedelta(hours=seeded.sim.config.utc_offset_hours)
    for o in orders:
        assert set(o) >= ORDER_FIELDS
        assert set(o["billing"]) == ADDRESS | {"email", "phone"}
        assert set(o["shipping"]) >= ADDRESS
        assert o["number"] == str(o["id"]) and isinstance(o["id"], int)
        for name in ("date_created", "date_modified", "date_created_gmt", "date_modified_gmt"):
            assert NAIVE.match(o[name]), o[name]
        local = datetime.fromisoformat(o["date_modified"])
        assert local - datetime.fromisoformat(o["date_modified_gmt"]) == offset
        if o["date_paid"]:
            assert (
                datetime.fromisoformat(o["date_paid"]) - datetime.fromisoformat(o["date_paid_gmt"])
                == offset
            )
        for name in ("discount_total", "shipping_total", "total", "total_tax"):
            assert MONEY.match(o[name]), (name, o[name])
        lines = o["line_items"]
        assert 1 <= len(lines) <= 10
        for li in lines:
            assert set(li) >= LINE_FIELDS
            assert isinstance(li["price"], (int, float)) and not isinstance(li["price"], bool)
            assert all(
                MONEY.match(li[k]) for k in ("subtotal", "subtotal_tax", "total", "total_tax")
            )
        subtotal = sum(cents(li["subtotal"]) for li in lines)
        line_total = sum(cents(li["total"]) for li in lines)
        fees = sum(cents(f["total"]) for f in o["fee_lines"])
        shipping = sum(cents(s["total"]) for s in o["shipping_lines"])
        tax = (
            sum(cents(li["total_tax"]) for li in lines)
            + sum(cents(f["total_tax"]) for f in o["fee_lines"])
            + sum(cents(s["total_tax"]) for s in o["shipping_lines"])
        )
        total = cents(o["total"])
        assert shipping == cents(o["shipping_total"])
        assert tax == cents(o["total_tax"])
        assert total == subtotal - cents(o["discount_total"]) + fees + shipping + tax
        assert total == line_total + fees + shipping + tax
        assert cents(o["discount_total"]) == sum(cents(c["discount"]) for c in o["coupon_lines"])
        if o["tax_lines"]:
            t = o["tax_lines"][0]
            assert cents(t["tax_total"]) + cents(t["shipping_tax_total"]) == tax
        for s in o["shipping_lines"]:
            assert {"id", "method_title", "method_id", "total", "total_tax"} <= set(s)
        for r in o["refunds"]:
            assert MONEY.match(r["total"]) and r["total"].startswith("-")
    assert {o["currency"] for o in orders} == {"EUR", "USD"}
    assert any(o["shipping_lines"] for o in orders)
    assert any(o["customer_id"] == 0 for o in orders)


def test_guests_never_appear_in_customers(seeded: Shop) -> None:
    orders = all_orders(seeded)
    customers = seeded.get("/customers", params={"role": "all", "per_page": 100}).json()
    emails = {c["email"] for c in customers}
    ids = {c["id"] for c in customers}
    guests = [o for o in orders if o["customer_id"] == 0]
    assert guests
    assert not {o["billing"]["email"] for o in guests} & emails
    assert {o["customer_id"] for o in orders if o["customer_id"]} <= ids
    c = customers[0]
    assert {
        "id", "date_created", "date_created_gmt", "date_modified", "date_modified_gmt", "email",
        "first_name", "last_name", "role", "username", "billing", "shipping",
        "is_paying_customer", "meta_data",
    } <= set(c)  # fmt: skip


def test_seed_is_deterministic_and_marks_invalid_orders() -> None:
    def build(seed: int) -> tuple[dict[str, Any], WooSimulator]:
        sim = WooSimulator()
        return sim.seed(customers=8, orders=30, seed=seed, invalid=3, anchor=ANCHOR), sim

    s1, a = build(5)
    s2, b = build(5)
    _, c = build(6)
    assert s1 == s2 and a.orders() == b.orders() and a.customers() == b.customers()
    assert a.orders() != c.orders()
    problems = {i["id"]: i["problem"] for i in s1["invalid"]}
    assert sorted(problems.values()) == [
        "guest_missing_email",
        "line_without_sku",
        "negative_quantity",
    ]
    for o in a.orders():
        no_sku = any(li["sku"] == "" for li in o["line_items"])
        negative = any(li["quantity"] < 0 for li in o["line_items"])
        guest_no_email = o["customer_id"] == 0 and not o["billing"]["email"]
        found = [p for p, bad in (("line_without_sku", no_sku), ("negative_quantity", negative),
                                  ("guest_missing_email", guest_no_email)) if bad]  # fmt: skip
        assert found == ([problems[o["id"]]] if o["id"] in problems else [])
        if o["id"] not in problems:
            assert all(re.match(r"^SKU-\d{4}$", li["sku"]) for li in o["line_items"])
    assert {p["sku"] for p in a.products()} >= {"SKU-0001", "SKU-0060"}
