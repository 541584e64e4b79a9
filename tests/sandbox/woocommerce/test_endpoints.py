"""WooCommerce simulator: order, refund and customer endpoints."""

from __future__ import annotations

from tests.sandbox.woocommerce.support import API, NAIVE, Shop, assert_error, cents

# ============================================================================ endpoints


def test_order_create_read_update_and_invalid_ids(seeded: Shop) -> None:
    customer_id = seeded.sim.customers()[0]["id"]
    r = seeded.post(
        "/orders",
        json={
            "customer_id": customer_id,
            "billing": {"first_name": "Ana", "email": "ana@example.org", "country": "PT"},
            "line_items": [{"sku": "SKU-0003", "quantity": 2}, {"product_id": 105, "quantity": 1}],
            "shipping_lines": [
                {"method_id": "flat_rate", "method_title": "Flat rate", "total": "4.95"}
            ],
            "coupon_lines": [{"code": "save10"}],
            "set_paid": True,
        },
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert r.headers["Location"].endswith(f"{API}/orders/{created['id']}")
    assert created["status"] == "processing" and created["date_paid_gmt"]
    assert [li["sku"] for li in created["line_items"]] == ["SKU-0003", "SKU-0005"]
    assert cents(created["discount_total"]) > 0
    assert cents(created["total_tax"]) > 0  # PT: 23 %
    assert seeded.get(f"/orders/{created['id']}").json() == created

    seeded.admin("POST", "/clock", json={"advance_s": 5})
    r = seeded.put(f"/orders/{created['id']}", json={"status": "completed", "customer_note": "Hi"})
    assert r.status_code == 200
    updated = r.json()
    assert updated["status"] == "completed" and updated["date_completed_gmt"]
    assert updated["date_modified_gmt"] > created["date_modified_gmt"]

    assert_error(
        seeded.get("/orders/999999"), 404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID."
    )
    assert_error(
        seeded.put("/orders/999999", json={}), 400, "woocommerce_rest_shop_order_invalid_id"
    )
    assert_error(seeded.get("/customers/999999"), 404, "woocommerce_rest_invalid_id")
    r = seeded.post("/orders", json={"line_items": [{"sku": "NOPE"}]})
    assert_error(r, 400, "woocommerce_rest_invalid_product_id")
    r = seeded.post(
        "/orders", json={"line_items": [{"sku": "SKU-0001"}], "coupon_lines": [{"code": "free"}]}
    )
    assert_error(r, 400, "woocommerce_rest_invalid_coupon")
    r = seeded.session.put(
        seeded.url + API + f"/orders/{created['id']}",
        data="{not json",
        headers={"Content-Type": "application/json"},
    )
    assert_error(r, 400, "rest_invalid_json")


def test_refunds(seeded: Shop) -> None:
    order = next(
        o for o in seeded.sim.orders() if o["status"] == "processing" and cents(o["total"]) > 500
    )
    assert seeded.get(f"/orders/{order['id']}/refunds").json() == []
    r = seeded.post(
        f"/orders/{order['id']}/refunds", json={"amount": "5.00", "reason": "Scratched"}
    )
    assert r.status_code == 201, r.text
    refund = r.json()
    assert refund["amount"] == "5.00" and NAIVE.match(refund["date_created_gmt"])
    listed = seeded.get(f"/orders/{order['id']}/refunds").json()
    assert [x["id"] for x in listed] == [refund["id"]]
    again = seeded.get(f"/orders/{order['id']}").json()
    assert again["refunds"] == [{"id": refund["id"], "reason": "Scratched", "total": "-5.00"}]
    assert again["total"] == order["total"]  # refunds never rewrite the order total
    r = seeded.post(f"/orders/{order['id']}/refunds", json={"amount": "99999.00"})
    assert_error(r, 500, "woocommerce_rest_cannot_create_order_refund")


def test_customer_create_update_errors(shop: Shop) -> None:
    r = shop.post("/customers", json={"first_name": "No", "last_name": "Mail"})
    assert_error(r, 400, "rest_missing_callback_param")
    assert r.json()["data"]["params"] == ["email"]
    r = shop.post(
        "/customers",
        json={
            "email": "lena@example.org",
            "first_name": "Lena",
            "billing": {"city": "Berlin", "country": "DE"},
        },
    )
    assert r.status_code == 201
    c = r.json()
    assert c["role"] == "customer" and c["username"] == "lena" and c["billing"]["city"] == "Berlin"
    assert_error(
        shop.post("/customers", json={"email": "lena@example.org"}),
        400,
        "registration-error-email-exists",
    )
    r = shop.put(
        f"/customers/{c['id']}", json={"last_name": "Schmidt", "billing": {"postcode": "10115"}}
    )
    assert r.status_code == 200
    assert r.json()["last_name"] == "Schmidt" and r.json()["billing"]["city"] == "Berlin"
    assert_error(
        shop.put(f"/customers/{c['id']}", json={"username": "other"}),
        400,
        "woocommerce_rest_customer_invalid_argument",
    )
    assert_error(shop.delete(f"/customers/{c['id']}"), 501, "woocommerce_rest_trash_not_supported")
    assert shop.delete(f"/customers/{c['id']}", params={"force": "true"}).status_code == 200
    assert_error(shop.get(f"/customers/{c['id']}"), 404, "woocommerce_rest_invalid_id")
