"""BigCommerce simulator over real HTTP (plain ``requests`` against ``ServerThread``), checked
against reference/bigcommerce.md. Webhooks go to tiny local Flask receivers."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

import pytest
import requests
from flask import Flask, request
from standardwebhooks import Webhook

from sandbox.bigcommerce import (
    DEFAULT_ACCESS_TOKEN,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_STORE_HASH,
    BcConfig,
    BcSimulator,
)
from sandbox.bigcommerce.webhooks import sign
from sandbox.common import ServerThread

logging.getLogger("werkzeug").setLevel(logging.ERROR)

AUTH = {"X-Auth-Token": DEFAULT_ACCESS_TOKEN, "Accept": "application/json"}
MONEY = re.compile(r"^-?\d+\.\d{4}$")
RFC2822 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$")
RATE_HEADERS = (
    "X-Rate-Limit-Time-Window-Ms",
    "X-Rate-Limit-Time-Reset-Ms",
    "X-Rate-Limit-Requests-Quota",
    "X-Rate-Limit-Requests-Left",
)
NOT_FOUND_V2 = [{"status": 404, "message": "The requested resource was not found."}]


class Sim:
    """A simulator served over HTTP, with URL helpers."""

    def __init__(self, config: BcConfig | None = None) -> None:
        self.sim = BcSimulator(config or BcConfig(quota=100_000))
        self.server = ServerThread(self.sim.app).start()
        self.url = self.server.url
        self.v2 = f"{self.url}/stores/{DEFAULT_STORE_HASH}/v2"
        self.v3 = f"{self.url}/stores/{DEFAULT_STORE_HASH}/v3"
        self.admin = f"{self.url}/_sandbox/bc"

    def get(self, url: str, **kw: Any) -> requests.Response:
        return requests.get(url, headers=kw.pop("headers", AUTH), timeout=10, **kw)

    def close(self) -> None:
        self.sim.close()
        self.server.stop()


class Receiver:
    """A webhook destination recording raw bodies and headers; ``respond`` picks the status."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.respond: Callable[[int], int] = lambda n: 200
        app = Flask("receiver")

        @app.post("/<path:name>")
        def hook(name: str) -> tuple[str, int]:
            with self.lock:
                n = len(self.calls)
                self.calls.append(
                    {
                        "path": name,
                        "headers": dict(request.headers),
                        "body": request.get_data(as_text=True),
                        "at": time.monotonic(),
                    }
                )
            return "", self.respond(n)

        self.server = ServerThread(app).start()

    def url(self, name: str = "hook") -> str:
        return f"{self.server.url}/{name}"

    def payloads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(c["body"]) for c in self.calls]


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[Sim]:
    s = Sim()
    yield s
    s.close()


@pytest.fixture(scope="module")
def shared_receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.stop()


@pytest.fixture
def bc(shared_sim: Sim) -> Sim:
    """The module's simulator, reset (data, config, hooks, faults, clock) for each test."""
    shared_sim.sim.reset()
    return shared_sim


@pytest.fixture
def receiver(shared_receiver: Receiver) -> Receiver:
    with shared_receiver.lock:
        shared_receiver.calls.clear()
    shared_receiver.respond = lambda n: 200
    return shared_receiver


def make_hook(s: Sim, scope: str, destination: str, **extra: Any) -> dict[str, Any]:
    r = requests.post(
        f"{s.v3}/hooks",
        headers=AUTH,
        json={"scope": scope, "destination": destination, **extra},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    hook: dict[str, Any] = r.json()["data"]
    return hook


def all_orders(s: Sim, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        r = s.get(f"{s.v2}/orders", params={"limit": 250, "page": page, **params})
        if r.status_code == 204:
            return out
        assert r.status_code == 200
        out += r.json()
        page += 1


# --------------------------------------------------------------------------- auth (§1)


def test_auth_token_store_hash_and_error_bodies(bc: Sim) -> None:
    r = requests.get(f"{bc.v2}/orders", timeout=10)
    assert r.status_code == 401
    body = r.json()
    assert isinstance(body, list) and body[0]["status"] == 401
    r = requests.get(f"{bc.v3}/customers", headers={"X-Auth-Token": "wrong"}, timeout=10)
    assert r.status_code == 401
    body = r.json()
    assert body["status"] == 401 and body["type"] == "/api-docs/getting-started/api-status-codes"
    assert "title" in body and "errors" in body
    r = bc.get(f"{bc.url}/stores/nosuchstore/v2/orders")
    assert r.status_code == 404 and r.json()[0]["status"] == 404
    r = bc.get(f"{bc.v2}/orders/999999")
    assert r.status_code == 404 and r.json() == NOT_FOUND_V2
    r = bc.get(f"{bc.v2}/no/such/route")
    assert r.status_code == 404 and r.json() == NOT_FOUND_V2
    r = bc.get(f"{bc.v3}/orders/999999/transactions")
    assert r.status_code == 404 and r.json()["status"] == 404 and "title" in r.json()


def test_missing_scope_is_403(bc: Sim) -> None:
    bc.sim.seed(customers=2, orders=2)
    acct = bc.sim.create_account(scopes=["store_v2_orders_read_only"])
    headers = {"X-Auth-Token": acct["access_token"]}
    assert bc.get(f"{bc.v2}/orders", headers=headers).status_code == 200
    r = bc.get(f"{bc.v3}/customers", headers=headers)
    assert r.status_code == 403 and r.json()["status"] == 403
    r = bc.get(f"{bc.v3}/orders/100/transactions", headers=headers)
    assert r.status_code == 403
    # The default account has every scope.
    assert bc.get(f"{bc.v3}/orders/100/transactions").status_code == 200


def test_delete_account_revokes_token_and_deletes_its_hooks(bc: Sim, receiver: Receiver) -> None:
    acct = bc.sim.create_account(client_id="other-app")
    headers = {"X-Auth-Token": acct["access_token"]}
    r = requests.post(
        f"{bc.v3}/hooks",
        headers=headers,
        json={"scope": "store/order/*", "destination": receiver.url()},
        timeout=10,
    )
    assert r.status_code == 200
    make_hook(bc, "store/order/*", receiver.url("mine"))
    # Each client sees only its own hooks.
    assert [h["client_id"] for h in bc.get(f"{bc.v3}/hooks").json()["data"]] == [DEFAULT_CLIENT_ID]
    r = requests.delete(f"{bc.admin}/accounts/other-app", timeout=10)
    assert r.json() == {"client_id": "other-app", "deleted": True, "hooks_deleted": 1}
    assert bc.get(f"{bc.v2}/orders", headers=headers).status_code == 401
    hooks = requests.get(f"{bc.admin}/hooks", timeout=10).json()["hooks"]
    assert [h["client_id"] for h in hooks] == [DEFAULT_CLIENT_ID]


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


# --------------------------------------------------------------------------- hooks (§5)


def test_hooks_crud_filters_admin_and_limits(bc: Sim, receiver: Receiver) -> None:
    hook = make_hook(bc, "store/order/*", receiver.url(), headers={"x-mlc-hook-secret": "s3"})
    assert hook["client_id"] == DEFAULT_CLIENT_ID and hook["store_hash"] == DEFAULT_STORE_HASH
    assert hook["is_active"] is True and isinstance(hook["created_at"], int)
    assert hook["headers"] == {"x-mlc-hook-secret": "s3"}
    make_hook(bc, "store/customer/*", receiver.url(), is_active=False)
    hooks = bc.get(f"{bc.v3}/hooks").json()
    assert len(hooks["data"]) == 2 and hooks["meta"]["pagination"]["total"] == 2
    active = bc.get(f"{bc.v3}/hooks", params={"is_active": "true"}).json()["data"]
    assert [h["id"] for h in active] == [hook["id"]]
    scoped = bc.get(f"{bc.v3}/hooks", params={"scope": "store/customer/*"}).json()["data"]
    assert [h["scope"] for h in scoped] == ["store/customer/*"]
    by_dest = bc.get(f"{bc.v3}/hooks", params={"destination": receiver.url()}).json()["data"]
    assert len(by_dest) == 2
    assert bc.get(f"{bc.v3}/hooks/{hook['id']}").json()["data"]["id"] == hook["id"]
    r = requests.put(
        f"{bc.v3}/hooks/{hook['id']}", headers=AUTH, json={"is_active": False}, timeout=10
    )
    assert r.status_code == 200 and r.json()["data"]["is_active"] is False
    admin = bc.get(f"{bc.v3}/hooks/admin").json()["data"]
    assert {h["status"] for h in admin["hooks_list"]} == {"inactive"}
    assert admin["blocked_domains"] == []

    # One hook per (client, scope, destination); at most 10 per (client, scope).
    r = requests.post(
        f"{bc.v3}/hooks",
        headers=AUTH,
        json={"scope": "store/order/*", "destination": receiver.url()},
        timeout=10,
    )
    assert r.status_code == 422 and r.json()["type"] == "/api-docs/getting-started/api-status-codes"
    for i in range(9):
        make_hook(bc, "store/order/*", receiver.url(f"d{i}"))
    r = requests.post(
        f"{bc.v3}/hooks",
        headers=AUTH,
        json={"scope": "store/order/*", "destination": receiver.url("d10")},
        timeout=10,
    )
    assert r.status_code == 422 and "10" in r.json()["title"]
    make_hook(bc, "store/order/created", receiver.url("d10"))  # another scope is fine
    for bad in ({"scope": "store/nope", "destination": receiver.url()}, {"scope": "store/order/*"}):
        r = requests.post(f"{bc.v3}/hooks", headers=AUTH, json=bad, timeout=10)
        assert r.status_code == 422 and r.json()["errors"]

    r = requests.delete(f"{bc.v3}/hooks/{hook['id']}", headers=AUTH, timeout=10)
    assert r.status_code == 200 and r.json()["data"]["id"] == hook["id"]
    r = bc.get(f"{bc.v3}/hooks/{hook['id']}")
    assert r.status_code == 404 and r.json()["status"] == 404


def test_https_destination_switch(bc: Sim, receiver: Receiver) -> None:
    bc.sim.configure(require_https_destination=True)
    r = requests.post(
        f"{bc.v3}/hooks",
        headers=AUTH,
        json={"scope": "store/order/*", "destination": receiver.url()},
        timeout=10,
    )
    assert r.status_code == 422 and "destination" in r.json()["errors"]
    ok = make_hook(bc, "store/order/*", "https://hooks.example.com/bc")
    assert ok["destination"] == "https://hooks.example.com/bc"


def test_webhooks_thin_signed_payloads_for_every_event(bc: Sim, receiver: Receiver) -> None:
    sim = bc.sim
    for scope in ("store/order/*", "store/shipment/*", "store/customer/*"):
        make_hook(bc, scope, receiver.url(), headers={"x-mlc-hook-secret": "8e0f"})
    customer = sim.create_customer(email="c@example.org")
    order = sim.create_order(customer_id=customer["id"], lines=[{"sku": "A", "quantity": 2}])
    oid = order["id"]
    txn = sim.capture_payment(oid)
    lines = bc.get(f"{bc.v2}/orders/{oid}/products").json()
    shipment = sim.ship_order(oid)
    refund = sim.refund_order(oid, items=[{"order_product_id": lines[0]["id"], "quantity": 1}])
    sim.update_order(oid, staff_notes="checked")
    sim.flush_webhooks()

    lib = Webhook(base64.b64encode(DEFAULT_CLIENT_SECRET.encode()).decode())
    seen: dict[str, list[dict[str, Any]]] = {}
    for call in receiver.calls:
        headers = call["headers"]
        assert lib.verify(call["body"], headers) == json.loads(call["body"])
        assert headers["X-Mlc-Hook-Secret"] == "8e0f"
        assert headers["Webhook-Signature"].startswith("v1,")
        assert abs(int(headers["Webhook-Timestamp"]) - time.time()) < 60
        payload = json.loads(call["body"])
        assert set(payload) == {"scope", "store_id", "data", "hash", "created_at", "producer"}
        assert payload["store_id"] == "1001234" and payload["producer"] == "stores/sbx1"
        canonical = json.dumps(payload["data"], sort_keys=True, separators=(",", ":"))
        assert payload["hash"] == hashlib.sha1(canonical.encode()).hexdigest()
        seen.setdefault(payload["scope"], []).append(payload["data"])
        # Tampering breaks the signature.
        with pytest.raises(Exception):
            lib.verify(call["body"].replace('"store_id"', '"store_Id"'), headers)

    assert seen["store/customer/created"] == [{"type": "customer", "id": customer["id"]}]
    assert seen["store/order/created"] == [{"type": "order", "id": oid}]
    assert seen["store/order/transaction/created"] == [
        {
            "type": "transaction",
            "order_id": oid,
            "transaction_id": txn["id"],
            "transaction_type": "capture",
        }
    ]
    assert seen["store/shipment/created"] == [
        {"type": "shipment", "id": shipment["id"], "orderId": oid}
    ]
    assert seen["store/order/refund/created"] == [
        {"type": "order", "id": oid, "refund": {"refund_id": refund["id"]}}
    ]
    # Delivery order is not guaranteed (as on BigCommerce): compare sorted.
    transitions = sorted(
        (d["status"]["previous_status_id"], d["status"]["new_status_id"])
        for d in seen["store/order/statusUpdated"]
    )
    assert transitions == [(2, 14), (7, 11), (11, 2)]
    assert all(d["type"] == "order" and d["id"] == oid for d in seen["store/order/statusUpdated"])
    assert len(seen["store/order/updated"]) == 4  # capture, ship, refund, staff notes
    payloads = [p for p in receiver.payloads() if p["scope"] == "store/order/updated"]
    assert len({p["hash"] for p in payloads}) == 1  # identical data -> identical hash
    log = sim.deliveries()
    assert len(log) == len(receiver.calls) and {d["outcome"] for d in log} == {"success"}
    r = requests.get(
        f"{bc.admin}/deliveries", params={"scope": "store/shipment/created"}, timeout=10
    )
    assert r.json()["count"] == 1 and r.json()["deliveries"][0]["status_code"] == 200


def test_signature_matches_reference_example() -> None:
    body = (
        '{"scope":"store/order/statusUpdated","store_id":"1001234","data":{"type":"order",'
        '"id":3105,"status":{"previous_status_id":11,"new_status_id":2}},'
        '"hash":"6b1f0c2e9a7d4e3b8c5a1f0e2d3c4b5a69788796","created_at":1741943000,'
        '"producer":"stores/k7p2r9"}'
    )
    expected = "v1,N9vZ+nrqMq2jQw20RRn+Qp6fsw8qRfmPWKqQpA39z6U="
    assert (
        base64.b64encode(b"demo_client_secret_4f1a").decode() == "ZGVtb19jbGllbnRfc2VjcmV0XzRmMWE="
    )
    assert sign("demo_client_secret_4f1a", "4c1e8b2a-msg", 1741943002, body) == expected
    lib = Webhook("ZGVtb19jbGllbnRfc2VjcmV0XzRmMWE=")
    ts = datetime.fromtimestamp(1741943002, tz=UTC)
    assert lib.sign("4c1e8b2a-msg", ts, body) == expected


def test_retries_keep_webhook_id_then_success(bc: Sim, receiver: Receiver) -> None:
    bc.sim.configure(retry_compression=0.0005)  # 60 s -> 30 ms
    receiver.respond = lambda n: 503 if n < 2 else 204
    make_hook(bc, "store/order/*", receiver.url())
    bc.sim.create_order()
    bc.sim.flush_webhooks(include_retries=True)
    assert len(receiver.calls) == 3
    ids = {c["headers"]["Webhook-Id"] for c in receiver.calls}
    assert len(ids) == 1 and len({c["body"] for c in receiver.calls}) == 1
    gap = receiver.calls[1]["at"] - receiver.calls[0]["at"]
    assert gap >= 0.025  # first retry after 60 s * 0.0005
    log = bc.sim.deliveries()
    assert [d["outcome"] for d in log] == ["failed", "failed", "success"]
    assert [d["attempt"] for d in log] == [1, 2, 3] and log[0]["status_code"] == 503
    assert bc.get(f"{bc.v3}/hooks").json()["data"][0]["is_active"] is True


def test_last_retry_failure_deactivates_hook_then_put_reactivates(
    bc: Sim, receiver: Receiver
) -> None:
    bc.sim.configure(retry_compression=0.00001)  # the whole ~48 h schedule in ~1.7 s
    receiver.respond = lambda n: 500
    hook = make_hook(bc, "store/order/*", receiver.url())
    bc.sim.create_order()
    bc.sim.flush_webhooks(timeout=20, include_retries=True)
    assert len(receiver.calls) == 12  # first try + 11 retries
    assert len({c["headers"]["Webhook-Id"] for c in receiver.calls}) == 1
    log = bc.sim.deliveries()
    assert log[-1]["hook_deactivated"] is True and log[-1]["next_retry_at"] is None
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(log)]
    assert gaps[-1] > gaps[0]  # the schedule grows
    data = bc.get(f"{bc.v3}/hooks/{hook['id']}").json()["data"]
    assert data["is_active"] is False
    admin = bc.get(f"{bc.v3}/hooks/admin").json()["data"]
    assert admin["hooks_list"][0]["status"] == "deactivated"
    # Events while deactivated are not sent.
    bc.sim.create_order()
    bc.sim.flush_webhooks()
    assert len(receiver.calls) == 12
    receiver.respond = lambda n: 200
    r = requests.put(
        f"{bc.v3}/hooks/{hook['id']}", headers=AUTH, json={"is_active": True}, timeout=10
    )
    assert r.json()["data"]["is_active"] is True
    assert bc.get(f"{bc.v3}/hooks/admin").json()["data"]["hooks_list"][0]["status"] == "active"
    bc.sim.create_order()
    bc.sim.flush_webhooks()
    assert len(receiver.calls) == 13


def test_domain_blocklist_below_90_percent(bc: Sim, receiver: Receiver) -> None:
    bc.sim.configure(retry_compression=0.01, block_min_requests=10)  # window 1.2 s, block 1.8 s
    receiver.respond = lambda n: 500
    make_hook(bc, "store/order/*", receiver.url())
    for _ in range(10):
        bc.sim.create_order()
    bc.sim.flush_webhooks()
    assert len(receiver.calls) == 10
    blocked = bc.get(f"{bc.v3}/hooks/admin").json()["data"]["blocked_domains"]
    assert len(blocked) == 1
    assert blocked[0]["destination"] == f"127.0.0.1:{receiver.server.port}"
    assert 0 < blocked[0]["time_left"] <= 2
    assert blocked[0]["reasons"][0]["failure_description"] == "HTTP 500"
    assert blocked[0]["reasons"][0]["count"] == 10
    # While blocked, events go to the retry queue without being sent; not deactivation.
    bc.sim.create_order()
    bc.sim.flush_webhooks()
    assert len(receiver.calls) == 10
    assert bc.sim.deliveries()[-1]["outcome"] == "blocked"
    assert bc.get(f"{bc.v3}/hooks").json()["data"][0]["is_active"] is True
    # After the block the retries go out again.
    receiver.respond = lambda n: 200
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and not any(
        d["outcome"] == "success" for d in bc.sim.deliveries()
    ):
        time.sleep(0.05)
    assert any(d["outcome"] == "success" for d in bc.sim.deliveries())


def test_pause_resume_and_off(bc: Sim, receiver: Receiver) -> None:
    make_hook(bc, "store/order/*", receiver.url())
    r = requests.post(f"{bc.admin}/webhooks", json={"mode": "paused"}, timeout=10)
    assert r.json()["mode"] == "paused"
    bc.sim.create_order()
    bc.sim.flush_webhooks()
    time.sleep(0.1)
    assert receiver.calls == [] and r.status_code == 200
    assert requests.get(f"{bc.admin}/webhooks", timeout=10).json()["queued"] == 1
    requests.post(f"{bc.admin}/webhooks", json={"mode": "on"}, timeout=10)
    r = requests.post(f"{bc.admin}/webhooks/flush", json={"timeout": 5}, timeout=10)
    assert r.status_code == 200 and len(receiver.calls) == 1
    bc.sim.set_webhook_mode("off")
    bc.sim.create_order()
    bc.sim.set_webhook_mode("on")
    bc.sim.flush_webhooks()
    assert len(receiver.calls) == 1
    assert requests.get(f"{bc.admin}/webhooks", timeout=10).json()["suppressed_events"] == 1
    # Admin deactivation behaves like the system's.
    hook_id = bc.get(f"{bc.v3}/hooks").json()["data"][0]["id"]
    requests.post(f"{bc.admin}/hooks/{hook_id}/deactivate", timeout=10)
    assert bc.get(f"{bc.v3}/hooks/admin").json()["data"]["hooks_list"][0]["status"] == "deactivated"


# --------------------------------------------------------------------------- rate limits (§6)


def test_rate_limit_headers_quota_and_429(bc: Sim) -> None:
    bc.sim.configure(quota=5, window_ms=2000)
    lefts = []
    for _ in range(5):
        r = bc.get(f"{bc.v2}/orders")
        assert r.status_code == 204
        assert all(h in r.headers for h in RATE_HEADERS)
        assert r.headers["X-Rate-Limit-Requests-Quota"] == "5"
        assert r.headers["X-Rate-Limit-Time-Window-Ms"] == "2000"
        lefts.append(int(r.headers["X-Rate-Limit-Requests-Left"]))
    assert lefts == [4, 3, 2, 1, 0]
    r = bc.get(f"{bc.v3}/customers")
    assert r.status_code == 429
    assert r.headers["X-Rate-Limit-Requests-Left"] == "0"
    assert 0 < int(r.headers["X-Rate-Limit-Time-Reset-Ms"]) <= 2000
    assert r.headers["X-Retry-After"] in ("1", "2")
    assert "Retry-After" not in r.headers
    bc.sim.state.clock.advance(2.1)
    r = bc.get(f"{bc.v2}/orders")
    assert r.status_code == 204 and r.headers["X-Rate-Limit-Requests-Left"] == "4"
    # Sliding window: units come back as they age out of the last window.
    bc.sim.configure(rate_limit_mode="sliding", quota=2, window_ms=1000)
    bc.sim.limiter.reset()
    assert bc.get(f"{bc.v2}/orders").status_code == 204
    bc.sim.state.clock.advance(0.6)
    assert bc.get(f"{bc.v2}/orders").status_code == 204
    assert bc.get(f"{bc.v2}/orders").status_code == 429
    bc.sim.state.clock.advance(0.5)
    assert bc.get(f"{bc.v2}/orders").status_code == 204


def test_injected_429_with_and_without_headers(bc: Sim) -> None:
    r = requests.post(
        f"{bc.url}/_sandbox/faults", json={"rate_limit_ratio": 1.0, "retry_after_s": 3}, timeout=10
    )
    assert r.status_code == 200
    r = bc.get(f"{bc.v2}/orders")
    assert r.status_code == 429 and r.headers["X-Retry-After"] == "3"
    assert r.headers["X-Rate-Limit-Time-Reset-Ms"] == "3000"
    assert all(h in r.headers for h in RATE_HEADERS)
    requests.delete(f"{bc.url}/_sandbox/faults", timeout=10)
    requests.post(f"{bc.admin}/config", json={"overload_429_ratio": 1.0}, timeout=10)
    r = bc.get(f"{bc.v2}/orders")
    assert r.status_code == 429 and not any(h in r.headers for h in RATE_HEADERS)
    requests.post(f"{bc.admin}/config", json={"overload_429_ratio": 0.0}, timeout=10)
    assert bc.get(f"{bc.v2}/orders").status_code == 204


# --------------------------------------------------------------------------- admin (§7 of brief)


def test_admin_seed_is_deterministic_and_reset_clears(bc: Sim) -> None:
    params = {"customers": 5, "orders": 20, "seed": 9, "currencies": ["USD", "EUR"]}

    def strip(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        drop = {"date_created", "date_modified", "date_shipped"}
        return [{k: v for k, v in o.items() if k not in drop} for o in orders]

    first = requests.post(f"{bc.admin}/seed", json=params, timeout=10).json()
    assert first["orders"] == 20 and len(first["order_ids"]) == 20
    snapshot = strip(all_orders(bc))
    state = requests.get(f"{bc.admin}/state", timeout=10).json()
    assert state["customers"] == 5 and state["orders"] == 20
    assert state["transactions"] >= 20
    assert requests.post(f"{bc.url}/_sandbox/reset", timeout=10).json() == {"reset": True}
    state = requests.get(f"{bc.admin}/state", timeout=10).json()
    assert state["customers"] == 0 and state["orders"] == 0 and state["hooks"] == 0
    assert bc.get(f"{bc.v2}/orders").status_code == 204
    requests.post(f"{bc.admin}/seed", json=params, timeout=10)
    assert strip(all_orders(bc)) == snapshot
    requests.post(f"{bc.url}/_sandbox/reset", timeout=10)
    requests.post(f"{bc.admin}/seed", json={**params, "seed": 10}, timeout=10)
    assert strip(all_orders(bc)) != snapshot


def test_admin_order_lifecycle_fires_events(bc: Sim, receiver: Receiver) -> None:
    make_hook(bc, "store/order/*", receiver.url())
    order = requests.post(
        f"{bc.admin}/orders",
        json={"lines": [{"sku": "A", "price": "25.00", "quantity": 2}], "tax_rate": "0.1"},
        timeout=10,
    ).json()
    oid = order["id"]
    assert order["total_inc_tax"] == "55.0000" and order["status_id"] == 7
    bc.sim.state.clock.advance(5)
    r = requests.patch(f"{bc.admin}/orders/{oid}", json={"status_id": 9}, timeout=10)
    assert r.status_code == 200
    updated = bc.get(f"{bc.v2}/orders/{oid}").json()
    before = datetime.strptime(order["date_modified"], "%a, %d %b %Y %H:%M:%S %z")
    after = datetime.strptime(updated["date_modified"], "%a, %d %b %Y %H:%M:%S %z")
    assert after - before >= timedelta(seconds=5) and updated["status"] == "Awaiting Shipment"
    since = format_datetime(after)
    assert [
        o["id"] for o in bc.get(f"{bc.v2}/orders", params={"min_date_modified": since}).json()
    ] == [oid]
    assert requests.post(f"{bc.admin}/orders/{oid}/capture", json={}, timeout=10).status_code == 201
    assert requests.post(f"{bc.admin}/orders/{oid}/ship", json={}, timeout=10).status_code == 201
    r = requests.post(f"{bc.admin}/orders/{oid}/refund", json={"amount": "5"}, timeout=10)
    assert r.status_code == 201 and r.json()["total_amount"] == 5.0
    assert requests.post(f"{bc.admin}/orders/999/capture", json={}, timeout=10).status_code == 404
    bc.sim.flush_webhooks()
    scopes = sorted(p["scope"] for p in receiver.payloads())  # delivery order is not guaranteed
    assert scopes == sorted(
        ["store/order/created"]
        + ["store/order/updated"] * 4  # patch, capture, ship, refund
        + ["store/order/statusUpdated"] * 3  # 7 -> 9 (patch), 9 -> 2 (ship), 2 -> 14 (refund)
        + ["store/order/transaction/created", "store/order/refund/created"]
    )
    r = requests.get(f"{bc.admin}/deliveries", params={"outcome": "success"}, timeout=10)
    assert r.json()["count"] == len(scopes)


def test_concurrent_reads_and_writes(bc: Sim) -> None:
    bc.sim.seed(customers=5, orders=50)
    errors: list[str] = []

    def writer() -> None:
        for _ in range(20):
            r = requests.post(f"{bc.admin}/orders", json={"paid": True}, timeout=10)
            if r.status_code != 201:
                errors.append(r.text)

    def reader() -> None:
        for _ in range(20):
            r = bc.get(f"{bc.v2}/orders", params={"limit": 250, "sort": "id:desc"})
            if r.status_code != 200:
                errors.append(str(r.status_code))

    threads = [threading.Thread(target=fn) for fn in (writer, writer, reader, reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ids = [o["id"] for o in all_orders(bc)]
    assert len(ids) == 90 and len(set(ids)) == 90
