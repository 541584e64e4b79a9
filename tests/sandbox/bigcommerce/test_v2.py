"""BigCommerce simulator: v2 orders, order products, shipments and shipping addresses (§2)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import requests

from tests.sandbox.bigcommerce.support import AUTH, MONEY, NOT_FOUND_V2, RFC2822, Sim, all_orders

# --------------------------------------------------------------------------- v2 (§2)


def test_v2_orders_paging_sort_and_204(bc: Sim) -> None:
    bc.sim.seed(customers=10, orders=120)
    r = bc.get(f"{bc.v2}/orders")
    ids = [o["id"] for o in r.json()]
    assert len(ids) == 50 and ids == sorted(ids) and ids[0] == 100
    assert len(bc.get(f"{bc.v2}/orders", params={"page": 3}).json()) == 20
    r = bc.get(f"{bc.v2}/orders", params={"page": 4})
    assert r.status_code == 204 and r.content == b""
    desc = [o["id"] for o in bc.get(f"{bc.v2}/orders", params={"sort": "id:desc"}).json()]
    assert desc[0] == 219 and desc == sorted(desc, reverse=True)
    orders = bc.get(f"{bc.v2}/orders", params={"sort": "date_modified:desc", "limit": 250}).json()
    stamps = [datetime.strptime(o["date_modified"], "%a, %d %b %Y %H:%M:%S %z") for o in orders]
    assert stamps == sorted(stamps, reverse=True)
    r = bc.get(f"{bc.v2}/orders", params={"sort": "total:asc"})
    assert r.status_code == 400 and r.json()[0]["status"] == 400
    count = bc.get(f"{bc.v2}/orders/count").json()
    assert count["count"] == 120 and sum(s["count"] for s in count["statuses"]) == 120


def test_v2_limit_above_250_is_413_with_exact_body(bc: Sim) -> None:
    r = bc.get(f"{bc.v2}/orders", params={"limit": 251})
    assert r.status_code == 413
    assert r.json() == [
        {
            "status": 413,
            "message": "The specified limit exceeds the maximum allowed.",
            "details": {"max_limit": 250},
        }
    ]
    assert bc.get(f"{bc.v2}/orders", params={"limit": 250}).status_code == 204  # empty store


def test_v2_order_filters_and_hidden_orders(bc: Sim) -> None:
    sim = bc.sim
    c = sim.create_customer(email="ana.silva@example.org", first_name="Ana", last_name="Silva")
    o1 = sim.create_order(customer_id=c["id"])
    sim.state.clock.advance(3600)
    o2 = sim.create_order(email="guest@example.org")
    o3 = sim.create_order(status_id=0)  # Incomplete: hidden by default
    o4 = sim.create_order()
    sim.archive_order(o4["id"])  # archived: hidden by default

    def ids(**params: Any) -> list[int]:
        r = bc.get(f"{bc.v2}/orders", params=params)
        return [] if r.status_code == 204 else [o["id"] for o in r.json()]

    assert ids() == [o1["id"], o2["id"]]
    assert ids(customer_id=c["id"]) == [o1["id"]]
    assert ids(customer_id=0) == [o2["id"]]
    assert ids(email="GUEST@example.org") == [o2["id"]]
    assert ids(min_id=o2["id"]) == [o2["id"]]
    assert ids(max_id=o1["id"]) == [o1["id"]]
    assert ids(status_id=0) == [o3["id"]]
    assert ids(status_id=7) == [o1["id"], o2["id"]]
    assert ids(is_deleted="true") == [o4["id"]]
    # RFC 2822 and ISO 8601 are both accepted; the bounds are inclusive.
    cutoff = o2["date_created"]
    assert ids(min_date_created=cutoff) == [o2["id"]]
    iso = datetime.strptime(cutoff, "%a, %d %b %Y %H:%M:%S %z").isoformat()
    assert ids(min_date_created=iso) == [o2["id"]]
    assert ids(max_date_created=iso) == [o1["id"], o2["id"]]
    assert ids(min_date_modified=cutoff, sort="date_modified:asc") == [o2["id"]]
    assert bc.get(f"{bc.v2}/orders", params={"min_date_created": "soon"}).status_code == 400
    assert bc.get(f"{bc.v2}/orders/count", params={"customer_id": 0}).json()["count"] == 1
    # Hidden orders stay readable by id.
    assert bc.get(f"{bc.v2}/orders/{o4['id']}").json()["is_deleted"] is True


def test_v2_order_fields_formats_and_totals_add_up(bc: Sim) -> None:
    bc.sim.seed(customers=15, orders=80, currencies=("USD", "EUR", "GBP"), refunds_ratio=0.3)
    orders = all_orders(bc)
    assert len(orders) == 80
    assert any(o["currency_code"] != o["default_currency_code"] for o in orders)
    assert {o["status_id"] for o in orders} >= {11, 2, 14}
    assert any(o["customer_id"] == 0 for o in orders) and any(o["customer_id"] for o in orders)
    for o in orders:
        assert RFC2822.match(o["date_created"]) and RFC2822.match(o["date_modified"])
        for key in (
            "subtotal_ex_tax", "subtotal_inc_tax", "subtotal_tax", "total_ex_tax",
            "total_inc_tax", "total_tax", "shipping_cost_inc_tax", "discount_amount",
        ):  # fmt: skip
            assert MONEY.match(o[key]), (key, o[key])
        d = {k: Decimal(v) for k, v in o.items() if isinstance(v, str) and MONEY.match(v)}
        assert d["total_inc_tax"] == d["total_ex_tax"] + d["total_tax"]
        assert d["subtotal_inc_tax"] == d["subtotal_ex_tax"] + d["subtotal_tax"]
        assert d["shipping_cost_inc_tax"] == d["shipping_cost_ex_tax"] + d["shipping_cost_tax"]
        assert d["total_ex_tax"] == (
            d["subtotal_ex_tax"] + d["shipping_cost_ex_tax"] - d["discount_amount"]
        )
        assert o["status"] and o["payment_method"] and o["channel_id"] == 1
        assert o["is_deleted"] is False
        assert set(o["billing_address"]) >= {
            "first_name", "last_name", "email", "country_iso2", "zip", "street_1", "city",
        }  # fmt: skip
        assert o["products"]["resource"] == f"/orders/{o['id']}/products"
        lines_resp = requests.get(o["products"]["url"], headers=AUTH, timeout=10)
        lines = lines_resp.json()
        assert sum(Decimal(ln["total_ex_tax"]) for ln in lines) == d["subtotal_ex_tax"]
        assert sum(Decimal(ln["total_tax"]) for ln in lines) == d["subtotal_tax"]
        discounts = [Decimal(a["amount"]) for ln in lines for a in ln["applied_discounts"]]
        assert sum(discounts, Decimal(0)) == d["discount_amount"]
        assert sum(ln["quantity"] for ln in lines) == o["items_total"]
        for ln in lines:
            assert Decimal(ln["total_ex_tax"]) == Decimal(ln["price_ex_tax"]) * ln["quantity"]
            assert Decimal(ln["total_inc_tax"]) == Decimal(ln["price_inc_tax"]) * ln["quantity"]
            assert Decimal(ln["total_inc_tax"]) == Decimal(ln["total_ex_tax"]) + Decimal(
                ln["total_tax"]
            )
            assert ln["sku"].startswith("SKU-") and MONEY.match(ln["base_price"])
            assert {"quantity_shipped", "quantity_refunded", "applied_discounts"} <= set(ln)


def test_v2_order_products_default_limit_50_and_paging(bc: Sim) -> None:
    lines = [{"sku": f"X-{i}", "name": f"Item {i}", "price": "1.50"} for i in range(60)]
    order = bc.sim.create_order(lines=lines, tax_rate="0.2")
    url = f"{bc.v2}/orders/{order['id']}/products"
    assert len(bc.get(url).json()) == 50
    assert [ln["sku"] for ln in bc.get(url, params={"page": 2}).json()] == [
        f"X-{i}" for i in range(50, 60)
    ]
    assert bc.get(url, params={"page": 3}).status_code == 204
    assert len(bc.get(url, params={"limit": 250}).json()) == 60
    assert bc.get(url, params={"limit": 300}).status_code == 413
    assert order["subtotal_ex_tax"] == "90.0000" and order["total_inc_tax"] == "108.0000"


def test_v2_shipments_and_shipping_addresses(bc: Sim) -> None:
    order = bc.sim.create_order(
        lines=[{"sku": "A", "quantity": 2, "price": "10"}, {"sku": "B", "price": "5"}], paid=True
    )
    oid = order["id"]
    assert order["status_id"] == 11
    assert bc.get(f"{bc.v2}/orders/{oid}/shipments").status_code == 204
    assert bc.get(f"{bc.v2}/orders/{oid}/shipments/count").json() == {"count": 0}
    lines = bc.get(f"{bc.v2}/orders/{oid}/products").json()
    first = bc.sim.ship_order(oid, items=[{"order_product_id": lines[0]["id"], "quantity": 1}])
    order = bc.get(f"{bc.v2}/orders/{oid}").json()
    assert order["status_id"] == 3 and order["status"] == "Partially Shipped"
    assert order["items_shipped"] == 1
    second = bc.sim.ship_order(oid)
    assert bc.get(f"{bc.v2}/orders/{oid}").json()["status_id"] == 2
    shipments = bc.get(f"{bc.v2}/orders/{oid}/shipments").json()
    assert [s["id"] for s in shipments] == [first["id"], second["id"]]
    assert bc.get(f"{bc.v2}/orders/{oid}/shipments/count").json() == {"count": 2}
    one = bc.get(f"{bc.v2}/orders/{oid}/shipments/{second['id']}").json()
    assert set(one) >= {
        "id", "order_id", "customer_id", "order_address_id", "date_created", "tracking_number",
        "shipping_method", "shipping_provider", "tracking_carrier", "tracking_link", "items",
        "billing_address", "shipping_address",
    }  # fmt: skip
    assert RFC2822.match(one["date_created"])
    assert sorted((i["order_product_id"], i["quantity"]) for i in one["items"]) == [
        (lines[0]["id"], 1),
        (lines[1]["id"], 1),
    ]
    shipped = {
        ln["id"]: ln["quantity_shipped"] for ln in bc.get(f"{bc.v2}/orders/{oid}/products").json()
    }
    assert shipped == {lines[0]["id"]: 2, lines[1]["id"]: 1}
    r = bc.get(f"{bc.v2}/orders/{oid}/shipments/424242")
    assert r.status_code == 404 and r.json() == NOT_FOUND_V2
    addresses = bc.get(f"{bc.v2}/orders/{oid}/shipping_addresses").json()
    assert addresses[0]["id"] == one["order_address_id"] and addresses[0]["order_id"] == oid
    assert MONEY.match(addresses[0]["cost_inc_tax"])
