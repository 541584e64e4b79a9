"""BigCommerce simulator: v3 transactions, refunds and customers (§3, §4)."""

from __future__ import annotations

from datetime import datetime, timedelta

import requests

from tests.sandbox.bigcommerce.support import Sim

# --------------------------------------------------------------------------- v3 (§3, §4)


def test_v3_transactions_and_refunds(bc: Sim) -> None:
    sim = bc.sim
    order = sim.create_order(lines=[{"sku": "A", "price": "40"}], tax_rate="0.19")
    oid = order["id"]
    assert order["total_inc_tax"] == "47.6000"
    txns = bc.get(f"{bc.v3}/orders/{oid}/transactions").json()
    assert txns == {"data": [], "meta": {}}
    sim.capture_payment(oid)
    assert bc.get(f"{bc.v2}/orders/{oid}").json()["status_id"] == 11
    r1 = sim.refund_order(oid, "10.00", reason="Damaged")
    sim.state.clock.advance(120)
    r2 = sim.refund_order(oid, "5.00")
    txns = bc.get(f"{bc.v3}/orders/{oid}/transactions").json()["data"]
    capture = txns[0]
    assert capture["order_id"] == str(oid) and capture["event"] == "capture"
    assert capture["amount"] == 47.6 and isinstance(capture["amount"], float)
    assert capture["status"] == "ok" and capture["currency"] == "USD"
    assert datetime.fromisoformat(capture["date_created"]).tzinfo is not None
    assert {"id", "method", "gateway", "gateway_transaction_id", "test", "credit_card"} <= set(
        capture
    )
    assert [t["event"] for t in txns] == ["capture", "refund", "refund"]
    order = bc.get(f"{bc.v2}/orders/{oid}").json()
    assert order["status_id"] == 14 and order["refunded_amount"] == "15.0000"

    per_order = bc.get(f"{bc.v3}/orders/{oid}/payment_actions/refunds").json()
    assert [r["id"] for r in per_order["data"]] == [r1["id"], r2["id"]]
    refund = per_order["data"][0]
    assert refund["total_amount"] == 10.0 and refund["order_id"] == oid
    assert refund["reason"] == "Damaged" and refund["items"][0]["item_type"] == "ORDER"
    assert refund["payments"][0]["amount"] == 10.0 and refund["payments"][0]["is_declined"] is False

    other = sim.create_order(lines=[{"sku": "B", "price": "20"}], tax_rate="0", paid=True)
    r3 = sim.refund_order(other["id"], "20.00")
    url = f"{bc.v3}/orders/payment_actions/refunds"
    listed = bc.get(url).json()
    assert [r["id"] for r in listed["data"]] == [r1["id"], r2["id"], r3["id"]]
    assert listed["meta"]["pagination"]["total"] == 3
    only = bc.get(url, params={"order_id:in": str(other["id"])}).json()["data"]
    assert [r["id"] for r in only] == [r3["id"]]
    assert [
        r["id"] for r in bc.get(url, params={"id:in": f"{r1['id']},{r3['id']}"}).json()["data"]
    ] == [
        r1["id"],
        r3["id"],
    ]
    cut = r2["created"]
    assert [r["id"] for r in bc.get(url, params={"created:min": cut}).json()["data"]] == [
        r2["id"],
        r3["id"],
    ]
    assert [r["id"] for r in bc.get(url, params={"created:max": r1["created"]}).json()["data"]] == [
        r1["id"]
    ]
    page2 = bc.get(url, params={"limit": 2, "page": 2}).json()
    assert [r["id"] for r in page2["data"]] == [r3["id"]]
    assert page2["meta"]["pagination"]["total_pages"] == 2
    assert bc.get(f"{bc.v2}/orders/{other['id']}").json()["status_id"] == 4
    # Cannot refund more than was captured.
    r = requests.post(f"{bc.admin}/orders/{oid}/refund", json={"amount": "100"}, timeout=10)
    assert r.status_code == 422


def test_v3_customers_filters_include_and_pagination(bc: Sim) -> None:
    bc.sim.seed(customers=30, orders=0)
    url = f"{bc.v3}/customers"
    r = bc.get(url, params={"limit": 10, "page": 2}).json()
    assert [c["id"] for c in r["data"]] == list(range(11, 21))
    pag = r["meta"]["pagination"]
    assert (pag["total"], pag["count"], pag["per_page"], pag["current_page"]) == (30, 10, 10, 2)
    assert pag["total_pages"] == 3 and "next" in pag["links"] and "previous" in pag["links"]
    first = r["data"][0]
    assert "addresses" not in first and first["date_modified"].endswith("Z")
    with_addr = bc.get(url, params={"id:in": "3,5", "include": "addresses"}).json()["data"]
    assert [c["id"] for c in with_addr] == [3, 5]
    assert with_addr[0]["addresses"][0]["customer_id"] == 3
    email = with_addr[1]["email"]
    assert [c["id"] for c in bc.get(url, params={"email:in": email.upper()}).json()["data"]] == [5]
    bc.sim.state.clock.advance(10)
    bc.sim.update_customer(7, last_name="Zeta")
    since = (bc.sim.state.clock.now() - timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S")
    changed = bc.get(url, params={"date_modified:min": since}).json()["data"]
    assert [c["id"] for c in changed] == [7]
    ordered = bc.get(url, params={"sort": "date_modified:desc", "limit": 1}).json()["data"]
    assert ordered[0]["id"] == 7
    assert bc.get(url, params={"name:like": "zeta"}).json()["data"][0]["id"] == 7
    r = bc.get(url, params={"sort": "shoe_size"})
    assert r.status_code == 400 and r.json()["type"] == "/api-docs/getting-started/api-status-codes"
