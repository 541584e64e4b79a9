"""WooCommerce simulator over real HTTP (``ServerThread`` + plain ``requests``), checked against
``reference/woocommerce.md``: auth (§1, §2), shapes and money (§3), paging and filters (§4),
hosting 429s (§5), webhooks (§6), and the moving-records paging bug of Decision 2."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from flask import Flask, Response, request
from requests_oauthlib import OAuth1

from sandbox.common import ServerThread
from sandbox.woocommerce import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_KEY_OWNER,
    WooConfig,
    WooSimulator,
)

logging.getLogger("werkzeug").setLevel(logging.ERROR)

CK, CS = DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET
API = "/wp-json/wc/v3"
MONEY = re.compile(r"^-?\d+\.\d{2}$")
NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
ANCHOR = datetime.fromisoformat("2025-03-14T12:00:00+00:00")


@dataclass
class Shop:
    sim: WooSimulator
    url: str
    session: requests.Session

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.session.get(self.url + API + path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.session.post(self.url + API + path, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.session.put(self.url + API + path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.session.delete(self.url + API + path, **kw)

    def admin(self, method: str, path: str, **kw: Any) -> requests.Response:
        return requests.request(method, f"{self.url}/_sandbox{path}", timeout=10, **kw)


class _Switch:
    """One WSGI server for the whole module; each test plugs its own simulator in (stopping a
    ``ServerThread`` costs its 0.5 s poll interval, which adds up over many tests)."""

    def __init__(self) -> None:
        self.app: Any = Flask("idle")

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[_Switch, str]]:
    switch = _Switch()
    thread = ServerThread(switch).start()  # type: ignore[arg-type]
    yield switch, thread.url
    thread.stop()


def _start(server: tuple[_Switch, str], config: WooConfig | None = None) -> Iterator[Shop]:
    switch, url = server
    sim = WooSimulator(config)
    switch.app = sim.app
    session = requests.Session()
    session.auth = (CK, CS)
    try:
        yield Shop(sim, url, session)
    finally:
        session.close()
        sim.close()


@pytest.fixture()
def shop(server: tuple[_Switch, str]) -> Iterator[Shop]:
    yield from _start(server)


@pytest.fixture()
def seeded(shop: Shop) -> Shop:
    shop.sim.seed(customers=12, orders=40, seed=7, invalid=3, currencies=("EUR", "USD"))
    return shop


@pytest.fixture()
def http_shop(server: tuple[_Switch, str]) -> Iterator[Shop]:
    """A plain-HTTP store: OAuth 1.0a only."""
    yield from _start(server, WooConfig(assume_https=False))


@dataclass
class Receiver:
    """A tiny webhook endpoint recording raw bodies and headers."""

    url: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200


@pytest.fixture(scope="module")
def _receiver_server() -> Iterator[tuple[dict[str, Receiver], str]]:
    app = Flask("receiver")
    holder: dict[str, Receiver] = {}
    lock = threading.Lock()

    @app.post("/hook")
    def hook() -> Response:
        rec = holder["r"]
        with lock:
            rec.calls.append(
                {
                    "headers": dict(request.headers),
                    "body": request.get_data(),
                    "form": dict(request.form),
                }
            )
        return Response("ok", status=rec.status)

    thread = ServerThread(app).start()
    yield holder, thread.url
    thread.stop()


@pytest.fixture()
def receiver(_receiver_server: tuple[dict[str, Receiver], str]) -> Receiver:
    holder, url = _receiver_server
    holder["r"] = Receiver(url=url + "/hook")
    return holder["r"]


def assert_error(
    resp: requests.Response, status: int, code: str, message: str | None = None
) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"code", "message", "data"}
    assert body["code"] == code
    assert body["data"]["status"] == status
    if message is not None:
        assert body["message"] == message


def cents(value: str) -> int:
    return int(Decimal(value) * 100)


def all_orders(shop: Shop, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        r = shop.get("/orders", params={"per_page": 100, "page": page, **params})
        assert r.status_code == 200
        out.extend(r.json())
        if page >= int(r.headers["X-WP-TotalPages"]):
            return out
        page += 1


# ============================================================================ §1/§2 auth


def test_basic_and_query_credentials_query_checked_first(seeded: Shop) -> None:
    url = seeded.url + API + "/orders"
    assert requests.get(url, auth=(CK, CS)).status_code == 200
    assert requests.get(url, params={"consumer_key": CK, "consumer_secret": CS}).status_code == 200
    # Query credentials win over the Authorization header, both ways round.
    assert (
        requests.get(
            url, params={"consumer_key": CK, "consumer_secret": CS}, auth=(CK, "x")
        ).status_code
        == 200
    )
    r = requests.get(url, params={"consumer_key": CK, "consumer_secret": "nope"}, auth=(CK, CS))
    assert_error(r, 401, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")


def test_unknown_key_is_anonymous_and_wrong_secret_is_an_auth_error(seeded: Shop) -> None:
    url = seeded.url + API
    r = requests.get(url + "/orders", auth=("ck_unknown", "cs_whatever"))
    assert_error(r, 401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    assert "WWW-Authenticate" not in r.headers
    r = requests.get(url + "/orders", auth=(CK, "cs_wrong"))
    assert_error(r, 401, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")
    assert r.headers["WWW-Authenticate"].startswith('Basic realm="WooCommerce API')
    # No credentials at all: anonymous too; writes get the controller's own code.
    assert_error(requests.get(url + "/customers"), 401, "woocommerce_rest_cannot_view")
    r = requests.post(url + "/customers", json={"email": "a@b.example"})
    assert_error(r, 401, "woocommerce_rest_cannot_create")


def test_key_permissions_read_only_and_write_only(seeded: Shop) -> None:
    seeded.sim.add_key("ck_ro", "cs_ro", permissions="read")
    seeded.sim.add_key("ck_wo", "cs_wo", permissions="write")
    url = seeded.url + API + "/orders"
    assert requests.get(url, auth=("ck_ro", "cs_ro")).status_code == 200
    r = requests.post(url, auth=("ck_ro", "cs_ro"), json={"line_items": [{"sku": "SKU-0001"}]})
    assert_error(
        r,
        401,
        "woocommerce_rest_authentication_error",
        "The API key provided does not have write permissions.",
    )
    r = requests.get(url, auth=("ck_wo", "cs_wo"))
    assert_error(
        r,
        401,
        "woocommerce_rest_authentication_error",
        "The API key provided does not have read permissions.",
    )
    assert len(seeded.sim.orders()) == 40  # nothing was created


def test_deleting_the_owner_deletes_their_keys(seeded: Shop) -> None:
    seeded.sim.add_key("ck_ops", "cs_ops", user="ops")
    url = seeded.url + API + "/orders"
    assert requests.get(url, auth=("ck_ops", "cs_ops")).status_code == 200
    r = seeded.admin("DELETE", "/woo/users/ops")
    assert r.status_code == 200
    r = requests.get(url, auth=("ck_ops", "cs_ops"))
    assert_error(r, 401, "woocommerce_rest_cannot_view")
    keys = seeded.admin("GET", "/woo/keys").json()["keys"]
    assert [k["consumer_key"] for k in keys] == [CK]  # the default key's owner is untouched
    assert requests.get(url, auth=(CK, CS)).status_code == 200
    # Public API form of the same thing: the default owner goes, and with it the default key.
    seeded.sim.delete_user(DEFAULT_KEY_OWNER)
    assert_error(requests.get(url, auth=(CK, CS)), 401, "woocommerce_rest_cannot_view")


def test_demoted_owner_gets_403(seeded: Shop) -> None:
    seeded.sim.set_user_role(DEFAULT_KEY_OWNER, "customer")
    assert_error(
        seeded.get("/orders"),
        403,
        "woocommerce_rest_cannot_view",
        "Sorry, you cannot list resources.",
    )
    r = seeded.post("/customers", json={"email": "x@y.example"})
    assert_error(r, 403, "woocommerce_rest_cannot_create")
    seeded.admin("POST", f"/woo/users/{DEFAULT_KEY_OWNER}/role", json={"role": "shop_manager"})
    assert seeded.get("/orders").status_code == 200


def test_plain_http_ignores_basic_and_query_credentials(http_shop: Shop) -> None:
    url = http_shop.url + API + "/orders"
    assert_error(requests.get(url, auth=(CK, CS)), 401, "woocommerce_rest_cannot_view")
    r = requests.get(url, params={"consumer_key": CK, "consumer_secret": CS})
    assert_error(r, 401, "woocommerce_rest_cannot_view")


@pytest.mark.parametrize("signature_type", ["query", "auth_header"])
@pytest.mark.parametrize("method", ["HMAC-SHA1", "HMAC-SHA256"])
def test_oauth1_interop_with_requests_oauthlib(
    http_shop: Shop, signature_type: str, method: str
) -> None:
    http_shop.sim.seed(customers=3, orders=15, seed=1)
    auth = OAuth1(CK, CS, signature_type=signature_type, signature_method=method)
    r = requests.get(
        http_shop.url + API + "/orders",
        params={"per_page": 5, "page": 2, "status": "any"},
        auth=auth,
    )
    assert r.status_code == 200, r.text
    assert len(r.json()) == 5
    # Writes: the JSON body is not signed.
    r = requests.post(
        http_shop.url + API + "/customers", json={"email": "oauth.user@example.org"}, auth=auth
    )
    assert r.status_code == 201, r.text


def test_oauth1_errors(http_shop: Shop) -> None:
    url = http_shop.url + API + "/orders"
    r = requests.get(url, auth=OAuth1(CK, "cs_wrong"))
    assert_error(
        r,
        401,
        "woocommerce_rest_authentication_error",
        "Invalid signature - provided signature does not match.",
    )
    r = requests.get(url, auth=OAuth1("ck_nobody", CS))
    assert_error(r, 401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
    r = requests.get(url, auth=OAuth1(CK, CS, signature_method="PLAINTEXT"))
    assert_error(
        r,
        401,
        "woocommerce_rest_authentication_error",
        "Invalid signature - signature method is invalid.",
    )
    r = requests.get(url, params={"oauth_consumer_key": CK, "oauth_nonce": "abc"})
    assert_error(
        r,
        401,
        "woocommerce_rest_authentication_missing_parameter",
        "Missing OAuth parameters oauth_timestamp, oauth_signature, oauth_signature_method",
    )
    # The ±15 minute window is judged by the simulator clock.
    stale = OAuth1(CK, CS, timestamp=str(int(time.time()) - 16 * 60))
    assert_error(
        requests.get(url, auth=stale),
        401,
        "woocommerce_rest_authentication_error",
        "Invalid timestamp.",
    )
    http_shop.admin("POST", "/clock", json={"advance_s": -16 * 60})
    assert requests.get(url, auth=stale).status_code == 200
    http_shop.admin("POST", "/clock", json={"advance_s": 16 * 60})
    # A replayed request (same nonce) is refused.
    prepared = requests.Request("GET", url, auth=OAuth1(CK, CS)).prepare()
    with requests.Session() as s:
        assert s.send(prepared).status_code == 200
        assert_error(
            s.send(prepared),
            401,
            "woocommerce_rest_authentication_error",
            "Invalid nonce - nonce has already been used.",
        )
    # Owner deleted: OAuth says the key is invalid.
    http_shop.sim.delete_user(DEFAULT_KEY_OWNER)
    r = requests.get(url, auth=OAuth1(CK, CS))
    assert_error(r, 401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")


def test_keys_do_not_authenticate_wordpress_routes(shop: Shop) -> None:
    r = requests.get(shop.url + "/wp-json/wp/v2/users/me", auth=(CK, CS))
    assert_error(
        r,
        401,
        "woocommerce_rest_authentication_error",
        "The provided API key cannot be used to access this endpoint.",
    )
    r = requests.get(shop.url + "/wp-json/wp/v2/users/me")
    assert_error(r, 401, "rest_not_logged_in")
    assert_error(shop.get("/nothing-here"), 404, "rest_no_route")
    assert_error(shop.session.patch(shop.url + API + "/orders"), 404, "rest_no_route")


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


# ============================================================================ §4 paging


def test_paging_headers_links_and_limits(seeded: Shop) -> None:
    r = seeded.get("/orders")
    assert len(r.json()) == 10  # default per_page
    assert r.headers["X-WP-Total"] == "40" and r.headers["X-WP-TotalPages"] == "4"
    assert set(r.links) == {"next"}
    r = seeded.get(
        "/orders",
        params={
            "per_page": 15,
            "page": 2,
            "status": "any",
            "consumer_key": CK,
            "consumer_secret": CS,
        },
    )
    assert r.headers["X-WP-TotalPages"] == "3"
    assert set(r.links) == {"prev", "next"}  # never first/last
    nxt = r.links["next"]["url"]
    assert (
        "status=any" in nxt
        and "per_page=15" in nxt
        and f"consumer_key={CK}" in nxt
        and "page=3" in nxt
    )
    assert "page=1" in r.links["prev"]["url"]
    followed = requests.get(nxt)  # the link carries the query credentials: followable as is
    assert (
        followed.status_code == 200
        and set(followed.links) == {"prev"}
        and len(followed.json()) == 10
    )
    r = seeded.get("/orders", params={"page": 99})
    assert r.status_code == 200 and r.json() == [] and r.headers["X-WP-Total"] == "40"
    by_offset = seeded.get(
        "/orders", params={"offset": 35, "per_page": 10, "orderby": "id", "order": "asc"}
    )
    all_ids = [
        o["id"]
        for o in seeded.get(
            "/orders", params={"per_page": 100, "orderby": "id", "order": "asc"}
        ).json()
    ]
    assert [o["id"] for o in by_offset.json()] == all_ids[35:]
    r = seeded.get("/orders", params={"per_page": 101})
    assert_error(r, 400, "rest_invalid_param")
    assert "per_page" in r.json()["data"]["params"]
    assert_error(seeded.get("/orders", params={"per_page": 0}), 400, "rest_invalid_param")
    assert_error(seeded.get("/orders", params={"orderby": "total"}), 400, "rest_invalid_param")
    assert_error(
        seeded.get("/orders", params={"modified_after": "yesterday"}), 400, "rest_invalid_param"
    )
    # Plain permalinks reach the same API.
    r = seeded.session.get(seeded.url + "/", params={"rest_route": "/wc/v3/orders", "per_page": 3})
    assert r.status_code == 200 and len(r.json()) == 3


def test_date_filters_time_zone_and_exclusive_bounds(seeded: Shop) -> None:
    orders = seeded.sim.orders()
    target = orders[len(orders) // 2]
    gmt = datetime.fromisoformat(target["date_modified_gmt"])
    local = datetime.fromisoformat(target["date_modified"])
    second = timedelta(seconds=1)

    def ids(**params: Any) -> set[int]:
        return {o["id"] for o in all_orders(seeded, **params)}

    expected_after = {
        o["id"]
        for o in orders
        if datetime.fromisoformat(o["date_modified_gmt"]) > gmt and o["status"] != "trash"
    }
    assert ids(modified_after=gmt.isoformat(), dates_are_gmt="true") == expected_after  # exclusive
    assert target["id"] in ids(modified_after=(gmt - second).isoformat(), dates_are_gmt="true")
    assert target["id"] not in ids(modified_before=gmt.isoformat(), dates_are_gmt="true")
    # Default: the value is site-local. The same naive UTC value reads one hour too early.
    assert ids(modified_after=local.isoformat()) == expected_after
    read_as_local = ids(modified_after=gmt.isoformat())
    assert read_as_local >= expected_after and target["id"] in read_as_local
    # An explicit offset or Z is ignored: "Z" does not make the value UTC.
    assert ids(modified_after=gmt.isoformat() + "Z") == ids(modified_after=gmt.isoformat())
    assert ids(modified_after=local.isoformat() + "+05:00") == expected_after
    created = datetime.fromisoformat(target["date_created_gmt"])
    expected_created = {
        o["id"] for o in orders if datetime.fromisoformat(o["date_created_gmt"]) > created
    }
    assert ids(after=created.isoformat(), dates_are_gmt="true") == expected_created
    assert target["id"] not in ids(before=created.isoformat(), dates_are_gmt="true")


def test_order_sorting_status_and_other_filters(seeded: Shop) -> None:
    made = [
        seeded.post("/orders", json={"line_items": [{"sku": "SKU-0002"}]}).json()["id"]
        for _ in range(3)
    ]
    newest = seeded.get("/orders", params={"per_page": 3}).json()
    assert [o["id"] for o in newest] == sorted(made, reverse=True)
    # Force a tie (same second) on both dates: the sorts break it on the id, same direction.
    with seeded.sim.state.lock:
        tie = seeded.sim.state.orders[made[0]].created
        for oid in made:
            seeded.sim.state.orders[oid].created = seeded.sim.state.orders[oid].modified = tie
        seeded.sim.state.bump()
    newest = seeded.get("/orders", params={"per_page": 3}).json()
    assert [o["id"] for o in newest] == sorted(made, reverse=True)
    latest = seeded.get("/orders", params={"per_page": 3, "orderby": "modified"}).json()
    assert [o["id"] for o in latest] == sorted(made, reverse=True)
    oldest_first = all_orders(seeded, orderby="date", order="asc")
    keys = [(o["date_created_gmt"], o["id"]) for o in oldest_first]
    assert keys == sorted(keys)
    by_modified = all_orders(seeded, orderby="modified", order="asc")
    keys = [(o["date_modified_gmt"], o["id"]) for o in by_modified]
    assert keys == sorted(keys)
    by_id = seeded.get("/orders", params={"orderby": "id", "per_page": 100}).json()
    assert [o["id"] for o in by_id] == sorted((o["id"] for o in by_id), reverse=True)

    victim = made[0]
    assert seeded.delete(f"/orders/{victim}").json()["status"] == "trash"
    assert victim not in {o["id"] for o in all_orders(seeded)}  # any excludes trash
    assert [o["id"] for o in all_orders(seeded, status="trash")] == [victim]
    assert_error(seeded.delete(f"/orders/{victim}"), 410, "woocommerce_rest_already_trashed")
    two = all_orders(seeded, status="completed,refunded")
    assert two and {o["status"] for o in two} <= {"completed", "refunded"}
    customer = next(o["customer_id"] for o in seeded.sim.orders() if o["customer_id"])
    mine = all_orders(seeded, customer=customer)
    assert mine and {o["customer_id"] for o in mine} == {customer}
    some = [o["id"] for o in seeded.sim.orders()[:3]]
    assert {o["id"] for o in all_orders(seeded, include=",".join(map(str, some)))} == set(some)
    assert not set(some) & {o["id"] for o in all_orders(seeded, exclude=",".join(map(str, some)))}
    in_order = seeded.get(
        "/orders", params={"include": f"{some[2]},{some[0]},{some[1]}", "orderby": "include"}
    )
    assert [o["id"] for o in in_order.json()] == [some[2], some[0], some[1]]
    name = seeded.sim.orders()[0]["billing"]["last_name"]
    found = all_orders(seeded, search=name.lower())
    assert found and all(name in json.dumps(o, ensure_ascii=False) for o in found)


def test_customer_filters_have_no_dates(seeded: Shop) -> None:
    default = seeded.get("/customers", params={"per_page": 100}).json()
    assert {c["role"] for c in default} == {"customer"} and len(default) == 12
    names = [(f"{c['first_name']} {c['last_name']}".lower(), c["id"]) for c in default]
    assert names == sorted(names)  # orderby=name, order=asc by default
    everyone = seeded.get(
        "/customers", params={"per_page": 100, "role": "all", "orderby": "id"}
    ).json()
    assert DEFAULT_KEY_OWNER in {c["username"] for c in everyone}
    assert [c["id"] for c in everyone] == sorted(c["id"] for c in everyone)
    # modified_after is silently ignored: same answer as without it.
    future = (datetime.now() + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%S")
    assert (
        seeded.get("/customers", params={"per_page": 100, "modified_after": future}).json()
        == default
    )
    email = default[3]["email"]
    assert [c["email"] for c in seeded.get("/customers", params={"email": email}).json()] == [email]
    assert_error(seeded.get("/customers", params={"role": "wizard"}), 400, "rest_invalid_param")
    r = seeded.get("/customers", params={"per_page": 5, "page": 2})
    assert r.headers["X-WP-Total"] == "12" and set(r.links) == {"prev", "next"}


# ====================================================================== Decision 2: moving records


def test_offset_paging_skips_moving_orders_but_keyset_requery_misses_nothing(shop: Shop) -> None:
    shop.sim.seed(customers=10, orders=60, seed=3)
    all_ids = {o["id"] for o in shop.sim.orders()}
    base = {"orderby": "modified", "order": "asc", "dates_are_gmt": "true", "per_page": 10}

    # Naive: offset paging while two random orders change after every request.
    r = shop.admin("POST", "/woo/mutating", json={"every_n_requests": 1, "count": 2, "seed": 11})
    assert r.json()["active"]
    naive: list[int] = []
    page = 1
    while True:
        rows = shop.get("/orders", params={**base, "page": page}).json()
        naive.extend(o["id"] for o in rows)
        if len(rows) < 10:
            break
        page += 1
    assert shop.admin("GET", "/woo/mutating").json()["done"] > 0
    skipped = all_ids - set(naive)
    assert skipped, "offset paging over a moving set must lose rows"
    assert len(naive) > len(set(naive))  # the moved rows come round again at the end

    # Keyset: re-query from the last seen date_modified_gmt minus an overlap, dedupe on
    # (id, date_modified_gmt); page numbers only while a full page shares the window.
    shop.admin(
        "POST", "/woo/mutating", json={"every_n_requests": 1, "count": 2, "seed": 11, "limit": 30}
    )
    seen: set[tuple[int, str]] = set()
    watermark = "1970-01-01T00:00:00"
    overlap = timedelta(seconds=1)

    def poll() -> None:
        nonlocal watermark
        page = 1
        for _ in range(500):
            since = (datetime.fromisoformat(watermark) - overlap).isoformat()
            rows = shop.get(
                "/orders", params={**base, "modified_after": since, "page": page}
            ).json()
            new = {(o["id"], o["date_modified_gmt"]) for o in rows} - seen
            seen.update(new)
            if len(rows) < 10 and not new:
                return
            top = max((o["date_modified_gmt"] for o in rows), default=watermark)
            if top > watermark:
                watermark, page = top, 1
            else:
                page += 1
        raise AssertionError("keyset polling did not settle")

    poll()
    assert {i for i, _ in seen} == all_ids  # no order missed, even while they moved
    shop.admin("DELETE", "/woo/mutating")
    poll()  # the next poll cycle picks up whatever changed during the last request
    current = {(o["id"], o["date_modified_gmt"]) for o in shop.sim.orders()}
    assert current <= seen


def test_mutate_order_bumps_date_modified_and_can_be_silent(seeded: Shop) -> None:
    order = seeded.sim.orders()[0]
    seeded.sim.state.clock.advance(3600)
    after = seeded.sim.mutate_order(order["id"], status="completed")
    assert (
        after["date_modified_gmt"] > order["date_modified_gmt"] and after["status"] == "completed"
    )
    r = seeded.admin(
        "POST",
        f"/woo/orders/{order['id']}/mutate",
        json={"customer_note": "x", "bump_modified": False},
    )
    assert r.status_code == 200
    same = seeded.get(f"/orders/{order['id']}").json()
    assert same["customer_note"] == "x" and same["date_modified_gmt"] == after["date_modified_gmt"]


# ============================================================================ §6 webhooks


def _create_hook(
    shop: Shop, receiver: Receiver, topic: str, secret: str = "s3cret"
) -> dict[str, Any]:
    r = shop.post(
        "/webhooks",
        json={"name": topic, "topic": topic, "delivery_url": receiver.url, "secret": secret},
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_webhook_ping_then_signed_deliveries(seeded: Shop, receiver: Receiver) -> None:
    hook = _create_hook(seeded, receiver, "order.updated")
    assert hook["status"] == "active" and "secret" not in hook
    ping = receiver.calls[0]  # synchronous, before the 201 came back
    assert ping["form"] == {"webhook_id": str(hook["id"])}
    assert ping["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert not any(h.startswith("X-Wc-Webhook") for h in ping["headers"])

    order = seeded.sim.orders()[0]
    seeded.sim.state.clock.advance(60)
    changed = seeded.sim.mutate_order(order["id"], customer_note="Ring twice — thanks/obrigado")
    assert seeded.sim.flush_webhooks(5)
    call = receiver.calls[1]
    h, raw = call["headers"], call["body"]
    expected = base64.b64encode(hmac.new(b"s3cret", raw, hashlib.sha256).digest()).decode()
    assert h["X-Wc-Webhook-Signature"] == expected
    assert h["X-Wc-Webhook-Source"] == seeded.sim.config.site_url + "/"
    assert (h["X-Wc-Webhook-Topic"], h["X-Wc-Webhook-Resource"], h["X-Wc-Webhook-Event"]) == (
        "order.updated", "order", "updated",
    )  # fmt: skip
    assert h["X-Wc-Webhook-Id"] == str(hook["id"])
    assert re.fullmatch(r"[0-9a-f]{32}", h["X-Wc-Webhook-Delivery-Id"])
    assert h["Content-Type"] == "application/json"
    payload = json.loads(raw)
    assert (
        payload["id"] == order["id"]
        and payload["date_modified_gmt"] == changed["date_modified_gmt"]
    )
    assert payload["customer_note"] == "Ring twice — thanks/obrigado"
    # PHP-style JSON: "/" escaped and non-ASCII as \u escapes; re-serialising breaks the signature.
    assert b"\\/" in raw and b"\\u2014" in raw
    assert json.dumps(payload).encode() != raw

    # API writes fire too; other topics do not reach this hook.
    seeded.put(f"/orders/{order['id']}", json={"status": "on-hold"})
    seeded.post("/customers", json={"email": "new.person@example.org"})
    assert seeded.sim.flush_webhooks(5)
    assert [c["headers"]["X-Wc-Webhook-Topic"] for c in receiver.calls[1:]] == ["order.updated"] * 2
    deliveries = seeded.admin("GET", "/woo/deliveries", params={"webhook_id": hook["id"]}).json()
    assert [d["kind"] for d in deliveries["deliveries"]] == ["ping", "event", "event"]
    assert all(d["ok"] for d in deliveries["deliveries"])


def test_webhook_disabled_after_consecutive_failures_and_reenabled(
    seeded: Shop, receiver: Receiver
) -> None:
    hook = _create_hook(seeded, receiver, "order.updated")
    receiver.status = 500
    order_id = seeded.sim.orders()[0]["id"]
    limit = seeded.sim.config.webhook_failures_to_disable  # 5: the 7th failure disables (core)
    for n in range(limit + 1):
        seeded.sim.mutate_order(order_id)
        assert seeded.sim.flush_webhooks(5)
        state = next(w for w in seeded.sim.webhooks() if w["id"] == hook["id"])
        assert (state["status"], state["failure_count"]) == ("active", n + 1)
    seeded.sim.mutate_order(order_id)
    assert seeded.sim.flush_webhooks(5)
    assert seeded.get(f"/webhooks/{hook['id']}").json()["status"] == "disabled"
    calls = len(receiver.calls)
    seeded.sim.mutate_order(order_id)
    assert seeded.sim.flush_webhooks(5)
    assert len(receiver.calls) == calls  # disabled: nothing sent, no retries either

    receiver.status = 200
    r = seeded.put(f"/webhooks/{hook['id']}", json={"status": "active"})
    assert r.status_code == 200 and r.json()["status"] == "active"
    seeded.sim.mutate_order(order_id)
    assert seeded.sim.flush_webhooks(5)
    assert len(receiver.calls) == calls + 1
    state = next(w for w in seeded.sim.webhooks() if w["id"] == hook["id"])
    assert state["failure_count"] == 0 and state["status"] == "active"


def test_webhook_connection_errors_count_as_failures(seeded: Shop) -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/gone"
    r = seeded.post(
        "/webhooks", json={"topic": "order.updated", "delivery_url": url, "secret": "x"}
    )
    assert r.status_code == 201  # a failed ping does not stop creation
    seeded.sim.mutate_order(seeded.sim.orders()[0]["id"])
    assert seeded.sim.flush_webhooks(5)
    hook = seeded.sim.webhooks()[0]
    assert hook["failure_count"] == 1
    events = [d for d in seeded.sim.deliveries() if d["kind"] == "event"]
    assert events[0]["error"] and events[0]["ok"] is False


def test_webhook_topics_crud_and_deleted_payloads(shop: Shop, receiver: Receiver) -> None:
    r = shop.post("/webhooks", json={"topic": "order.exploded", "delivery_url": receiver.url})
    assert_error(r, 400, "woocommerce_rest_shop_webhook_invalid_topic")
    r = shop.post("/webhooks", json={"topic": "order.created", "delivery_url": "ftp://x"})
    assert_error(r, 400, "woocommerce_rest_shop_webhook_invalid_delivery_url")
    hooks = {
        t: _create_hook(shop, receiver, t)
        for t in ("order.created", "order.deleted", "customer.created", "customer.deleted")
    }
    listed = shop.get("/webhooks").json()
    assert {w["topic"] for w in listed} == set(hooks)
    receiver.calls.clear()
    shop.sim.seed(customers=2, orders=2, seed=9)
    assert shop.sim.flush_webhooks(5)
    topics = sorted(c["headers"]["X-Wc-Webhook-Topic"] for c in receiver.calls)
    assert topics == ["customer.created"] * 2 + ["order.created"] * 2
    receiver.calls.clear()
    shop.sim.seed(customers=1, orders=1, seed=10, silent=True)
    order_id = shop.sim.orders()[0]["id"]
    customer_id = shop.sim.customers()[0]["id"]
    shop.delete(f"/orders/{order_id}")
    shop.delete(f"/customers/{customer_id}", params={"force": "true"})
    assert shop.sim.flush_webhooks(5)
    bodies = {c["headers"]["X-Wc-Webhook-Topic"]: json.loads(c["body"]) for c in receiver.calls}
    assert bodies == {"order.deleted": {"id": order_id}, "customer.deleted": {"id": customer_id}}
    hid = hooks["order.created"]["id"]
    assert_error(shop.delete(f"/webhooks/{hid}"), 501, "woocommerce_rest_trash_not_supported")
    assert shop.delete(f"/webhooks/{hid}", params={"force": "true"}).status_code == 200
    assert_error(shop.get(f"/webhooks/{hid}"), 404, "woocommerce_rest_shop_webhook_invalid_id")


# ============================================================================ §5 hosting 429


def test_waf_429_with_and_without_retry_after(seeded: Shop) -> None:
    r = seeded.admin("POST", "/faults", json={"extra": {"storm_s": 30, "omit_retry_after": True}})
    assert r.status_code == 200
    r = seeded.get("/orders")
    assert r.status_code == 429 and "Retry-After" not in r.headers
    assert r.headers["Content-Type"].startswith("text/html")  # a WAF page, not a WP error
    assert seeded.admin("GET", "/woo/config").status_code == 200  # admin is never faulted
    seeded.admin(
        "POST",
        "/faults",
        json={"retry_after_s": 7, "extra": {"storm_s": 30, "rate_limit_body": "json"}},
    )
    r = seeded.get("/orders")
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    seeded.admin("DELETE", "/faults")
    assert seeded.get("/orders").status_code == 200


# ============================================================================ admin


def test_admin_routes(shop: Shop) -> None:
    summary = shop.admin(
        "POST", "/woo/seed", json={"customers": 4, "orders": 9, "seed": 2, "invalid": 1}
    ).json()
    assert summary["orders"] == 9 and len(summary["invalid"]) == 1
    listed = shop.admin("GET", "/woo/orders", params={"summary": 1}).json()
    assert listed["count"] == 9 and {"id", "status", "date_modified_gmt"} <= set(
        listed["orders"][0]
    )
    assert shop.admin("GET", "/woo/customers").json()["count"] == 4
    assert shop.admin("GET", "/woo/products").json()["products"][0]["sku"] == "SKU-0001"
    oid = listed["orders"][0]["id"]
    r = shop.admin("POST", f"/woo/orders/{oid}/mutate", json={"status": "cancelled"})
    assert r.json()["status"] == "cancelled"
    assert (
        shop.admin("POST", f"/woo/orders/{oid}/mutate", json={"status": "bogus"}).status_code == 400
    )
    assert shop.admin("POST", "/woo/orders/1/mutate", json={}).status_code == 404
    cid = summary["customer_ids"][0]
    assert (
        shop.admin("POST", f"/woo/customers/{cid}/mutate", json={"first_name": "Zed"}).json()[
            "first_name"
        ]
        == "Zed"
    )
    assert (
        shop.admin(
            "POST",
            "/woo/keys",
            json={
                "consumer_key": "ck_2",
                "consumer_secret": "cs_2",
                "permissions": "read",
                "user": "auditor",
            },
        ).status_code
        == 201
    )
    assert requests.get(shop.url + API + "/orders", auth=("ck_2", "cs_2")).status_code == 200
    users = shop.admin("GET", "/woo/users").json()["users"]
    assert {u["login"] for u in users} == {DEFAULT_KEY_OWNER, "auditor"}
    assert shop.admin("DELETE", "/woo/keys/ck_2").status_code == 200
    assert_error(
        requests.get(shop.url + API + "/orders", auth=("ck_2", "cs_2")),
        401,
        "woocommerce_rest_cannot_view",
    )
    r = shop.admin("POST", "/woo/config", json={"assume_https": "false", "utc_offset_hours": 2})
    assert r.json()["assume_https"] is False and r.json()["utc_offset_hours"] == 2
    assert_error(shop.get("/orders"), 401, "woocommerce_rest_cannot_view")  # Basic over plain HTTP
    assert requests.get(shop.url + API + f"/orders/{oid}", auth=OAuth1(CK, CS)).json()["id"] == oid
    assert shop.admin("POST", "/woo/config", json={"nope": 1}).status_code == 400
    assert (
        shop.admin("POST", "/woo/deliveries/flush", json={"timeout_s": 1}).json()["flushed"] is True
    )
    assert shop.admin("POST", "/reset").status_code == 200
    assert shop.admin("GET", "/woo/orders").json()["count"] == 0
