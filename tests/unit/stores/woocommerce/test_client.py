"""WooCommerceClient and Woo schemas against ``responses`` (strict: every registered call fires).

The keyset tests use :class:`FakeWooOrders`, a tiny in-memory ``/orders`` that implements the
filters and sorting of woo §4 and really moves a record to the end when it is modified between
two requests — the situation that makes offset paging skip rows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
import requests
import responses
from responses import matchers

from connector.config import Secret
from connector.errors import AuthError, DataError, NotFound, RateLimited, Transient
from connector.stores.schemas import InvalidPayload
from connector.stores.woocommerce.auth import is_key_rejected
from connector.stores.woocommerce.client import MAX_PER_PAGE, WooCommerceClient
from connector.stores.woocommerce.paging import order_version_key
from connector.stores.woocommerce.schemas import parse_woo_customer, parse_woo_order
from connector.stores.woocommerce.validation import validate_woo_order

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
SHOP = "https://shop.example.org"
API = SHOP + "/wp-json/wc/v3"
CK = "ck_4b1d6c0e2f8a9b7c5d3e1f0a2b4c6d8e0f1a3b5c"
CS = "cs_9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6"
ORDERS_RE = re.compile(r"^https?://[^/]+/wp-json/wc/v3/orders(\?.*)?$")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def query(call: Any) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(call.request.url).query, keep_blank_values=True))


@pytest.fixture
def rsps() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def client(**kwargs: Any) -> WooCommerceClient:
    base = kwargs.pop("base_url", SHOP)
    return WooCommerceClient(base, CK, Secret(CS), **kwargs)


# --------------------------------------------------------------------------------------------
# auth


def test_https_uses_basic_auth(rsps: Any) -> None:
    token = base64.b64encode(f"{CK}:{CS}".encode()).decode()
    rsps.get(API + "/orders/5120", json=fixture("woo_order.json"),
             match=[matchers.header_matcher({"Authorization": f"Basic {token}"})])
    order = client().get_order(5120)
    assert order["id"] == 5120
    assert "oauth_signature" not in rsps.calls[0].request.url


def woo_oauth_signature(method: str, url: str, params: dict[str, str], secret: str,
                        algo: str = "sha256") -> str:
    """WooCommerce's own recipe (woo §1): METHOD&enc(url)&enc(sorted params), key secret&."""
    def enc(value: str) -> str:
        return quote(value, safe="~")

    pairs = sorted((enc(k), enc(v)) for k, v in params.items() if k != "oauth_signature")
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    base = "&".join([method.upper(), enc(url), enc(normalized)])
    digest = hmac.new(f"{secret}&".encode(), base.encode(), getattr(hashlib, algo)).digest()
    return base64.b64encode(digest).decode()


def test_plain_http_signs_with_oauth1_in_the_query(rsps: Any) -> None:
    rsps.get(re.compile(r"^http://shop\.local/wp-json/wc/v3/orders/5120\?.*"),
             json=fixture("woo_order.json"))
    woo = client(base_url="http://shop.local")
    assert woo.uses_oauth1
    woo.get_order(5120)
    request = rsps.calls[0].request
    params = query(rsps.calls[0])
    assert params["oauth_consumer_key"] == CK
    assert params["oauth_signature_method"] == "HMAC-SHA256"
    assert {"oauth_nonce", "oauth_timestamp", "oauth_signature"} <= set(params)
    assert "oauth_version" not in params  # woo §1: omit it
    assert "oauth_token" not in params  # one-legged
    assert "Authorization" not in request.headers
    assert CS not in request.url
    expected = woo_oauth_signature("GET", "http://shop.local/wp-json/wc/v3/orders/5120",
                                   params, CS)
    assert params["oauth_signature"] == expected


def test_oauth1_signature_covers_filters_and_sha1_option(rsps: Any) -> None:
    rsps.get(ORDERS_RE, json=[], headers={"X-WP-Total": "0", "X-WP-TotalPages": "0"})
    woo = client(base_url="http://shop.local", signature_method="HMAC-SHA1")
    woo.list_orders_modified_since(datetime(2025, 3, 14, 9, 0, tzinfo=UTC))
    params = query(rsps.calls[0])
    assert params["oauth_signature_method"] == "HMAC-SHA1"
    assert params["modified_after"] == "2025-03-14T09:00:00"
    expected = woo_oauth_signature("GET", "http://shop.local/wp-json/wc/v3/orders", params, CS,
                                   "sha1")
    assert params["oauth_signature"] == expected


def test_oauth1_post_keeps_the_json_body_unsigned(rsps: Any) -> None:
    rsps.post(re.compile(r"^http://shop\.local/wp-json/wc/v3/webhooks\?.*"),
              json=fixture("woo_webhook.json"), status=201,
              match=[matchers.json_params_matcher({
                  "name": "hook", "topic": "order.updated", "status": "active",
                  "delivery_url": "https://connector.example.net/hooks/woo/store-7",
                  "secret": "s3cret"})])
    woo = client(base_url="http://shop.local")
    woo.create_webhook("order.updated", "https://connector.example.net/hooks/woo/store-7",
                       "s3cret", name="hook")
    params = query(rsps.calls[0])
    assert "oauth_body_hash" not in params  # woo §1: the body is not signed
    expected = woo_oauth_signature("POST", "http://shop.local/wp-json/wc/v3/webhooks", params, CS)
    assert params["oauth_signature"] == expected


def test_use_oauth1_switch_overrides_the_scheme(rsps: Any) -> None:
    rsps.get(re.compile(r"^https://shop\.example\.org/wp-json/wc/v3/orders/1\?.*oauth_signature=.*"),
             json={"id": 1})
    rsps.get("http://shop.local/wp-json/wc/v3/orders/2", json={"id": 2},
             match=[matchers.header_matcher({"Authorization": re.compile(r"^Basic ")})])
    assert client(use_oauth1=True).get_order(1) == {"id": 1}
    assert client(base_url="http://shop.local", use_oauth1=False).get_order(2) == {"id": 2}


def test_base_url_may_already_contain_the_api_path(rsps: Any) -> None:
    rsps.get(API + "/customers/88", json=fixture("woo_customer.json"))
    woo = client(base_url=API + "/")
    assert woo.api_url == API
    assert woo.get_customer(88)["email"] == "ana.silva@example.org"


def test_secrets_never_show_in_repr() -> None:
    woo = client()
    assert CS not in repr(woo)
    assert CS not in repr(woo.__dict__.get("timeout"))


# --------------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize("fixture_name,code", [
    ("woo_error_cannot_view.json", "woocommerce_rest_cannot_view"),
    ("woo_error_authentication.json", "woocommerce_rest_authentication_error"),
])
def test_401_becomes_auth_error_with_the_woo_code(rsps: Any, fixture_name: str,
                                                  code: str) -> None:
    rsps.get(API + "/orders/5120", status=401, json=fixture(fixture_name),
             headers={"WWW-Authenticate": 'Basic realm="WooCommerce API. Use a consumer key"'})
    with pytest.raises(AuthError) as caught:
        client().get_order(5120)
    assert caught.value.code == code
    assert caught.value.status == 401
    assert is_key_rejected(caught.value)
    assert fixture(fixture_name)["message"] in str(caught.value)
    assert CS not in str(caught.value) and CK not in str(caught.value)


def test_error_url_never_carries_oauth_query(rsps: Any) -> None:
    rsps.get(re.compile(r"^http://shop\.local/wp-json/wc/v3/orders/5\?.*"), status=401,
             json=fixture("woo_error_authentication.json"))
    with pytest.raises(AuthError) as caught:
        client(base_url="http://shop.local").get_order(5)
    assert caught.value.url == "http://shop.local/wp-json/wc/v3/orders/5"
    assert "oauth" not in str(caught.value)


def test_403_is_auth_error_but_not_a_rejected_key(rsps: Any) -> None:
    body = {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot view this "
            "resource.", "data": {"status": 403}}
    rsps.get(API + "/orders/1", status=403, json=body)
    with pytest.raises(AuthError) as caught:
        client().get_order(1)
    assert not is_key_rejected(caught.value)


def test_503_without_retry_after_is_rate_limited(rsps: Any) -> None:
    rsps.get(API + "/orders/1", status=503, body="<html>Service Unavailable</html>",
             content_type="text/html")
    with pytest.raises(RateLimited) as caught:
        client().get_order(1)
    assert caught.value.retry_after is None
    assert caught.value.status == 503
    assert "throttling" in caught.value.message


def test_503_and_429_with_retry_after_carry_the_wait(rsps: Any) -> None:
    rsps.get(API + "/orders/1", status=503, headers={"Retry-After": "30"}, body="")
    rsps.get(API + "/orders/2", status=429, headers={"Retry-After": "7"},
             json={"error": "too many requests"})
    with pytest.raises(RateLimited) as first:
        client().get_order(1)
    with pytest.raises(RateLimited) as second:
        client().get_order(2)
    assert first.value.retry_after == 30.0
    assert second.value.retry_after == 7.0


def test_404_500_and_transport_errors(rsps: Any) -> None:
    rsps.get(API + "/orders/9", status=404, json=fixture("woo_error_invalid_id.json"))
    rsps.get(API + "/orders/10", status=500, json={"code": "internal_server_error",
                                                    "message": "Critical error",
                                                    "data": {"status": 500}})
    rsps.get(API + "/orders/11", body=requests.ConnectTimeout("timed out"))
    woo = client()
    with pytest.raises(NotFound) as missing:
        woo.get_order(9)
    assert missing.value.code == "woocommerce_rest_shop_order_invalid_id"
    with pytest.raises(Transient):
        woo.get_order(10)
    with pytest.raises(Transient):
        woo.get_order(11)


def test_redirects_are_not_followed(rsps: Any) -> None:
    rsps.get(API + "/orders/1", status=301,
             headers={"Location": "https://www.shop.example.org/wp-json/wc/v3/orders/1"})
    with pytest.raises(DataError) as caught:
        client().get_order(1)
    assert "https://www.shop.example.org" in caught.value.message
    assert len(rsps.calls) == 1


def test_200_html_page_is_transient(rsps: Any) -> None:
    rsps.get(API + "/orders/1", body="<html>cached</html>", content_type="text/html")
    with pytest.raises(Transient):
        client().get_order(1)


def test_every_call_has_a_timeout_and_uses_the_injected_session(rsps: Any) -> None:
    session = requests.Session()
    rsps.get(API + "/orders/1", json={"id": 1})
    woo = client(session=session, timeout=(2.0, 9.0))
    assert woo.session is session
    woo.get_order(1)
    assert rsps.calls[0].request.req_kwargs["timeout"] == (2.0, 9.0)


# --------------------------------------------------------------------------------------------
# listing


def test_list_orders_query(rsps: Any) -> None:
    rsps.get(ORDERS_RE, json=[fixture("woo_order.json")],
             headers={"X-WP-Total": "1", "X-WP-TotalPages": "1"})
    lisbon = timezone(timedelta(hours=1))
    page = client().list_orders_modified_since(datetime(2025, 3, 14, 10, 0, 5, 999, lisbon))
    params = query(rsps.calls[0])
    assert params == {
        "modified_after": "2025-03-14T09:00:05",  # naive UTC, no offset (woo §4)
        "dates_are_gmt": "true",
        "orderby": "modified",
        "order": "asc",
        "status": "any",
        "page": "1",
        "per_page": "100",
    }
    assert page.total == 1 and page.total_pages == 1 and page.items[0]["id"] == 5120


def test_per_page_is_never_above_100(rsps: Any) -> None:
    rsps.get(ORDERS_RE, json=[])
    woo = client(per_page=500)
    assert woo.per_page == MAX_PER_PAGE
    woo.list_orders_modified_since(None)
    assert query(rsps.calls[0])["per_page"] == "100"
    assert "modified_after" not in query(rsps.calls[0])


def test_orderby_date_switch(rsps: Any) -> None:
    rsps.get(ORDERS_RE, json=[])
    client(order_by_modified=False).list_orders_modified_since(None)
    assert query(rsps.calls[0])["orderby"] == "date"


def test_iter_customers_full_scan(rsps: Any) -> None:
    first = [{"id": i, "email": f"c{i}@example.org"} for i in range(1, 4)]
    second = [{"id": 4, "email": "c4@example.org"}]
    rsps.get(API + "/customers", json=first, headers={"X-WP-Total": "4", "X-WP-TotalPages": "2"},
             match=[matchers.query_param_matcher({"orderby": "id", "order": "asc", "role": "all",
                                                  "page": "1", "per_page": "3"})])
    rsps.get(API + "/customers", json=second,
             headers={"X-WP-Total": "4", "X-WP-TotalPages": "2"},
             match=[matchers.query_param_matcher({"orderby": "id", "order": "asc", "role": "all",
                                                  "page": "2", "per_page": "3"})])
    ids = [c["id"] for c in client(per_page=3).iter_customers()]
    assert ids == [1, 2, 3, 4]


def test_paging_detects_a_cache_that_ignores_the_page_parameter(rsps: Any) -> None:
    same = [{"id": i} for i in range(1, 4)]
    rsps.get(API + "/customers", json=same)
    with pytest.raises(Transient, match="same page twice"):
        list(client(per_page=3).iter_customers())


# --------------------------------------------------------------------------------------------
# webhooks CRUD


def test_webhook_crud(rsps: Any) -> None:
    hook = fixture("woo_webhook.json")
    rsps.post(API + "/webhooks", json=hook, status=201,
              match=[matchers.json_params_matcher({
                  "name": "ml-connector order.updated",
                  "topic": "order.updated",
                  "delivery_url": "https://connector.example.net/hooks/woo/store-7",
                  "secret": "whsec-woo-123",
                  "status": "active",
              })])
    rsps.get(API + "/webhooks", json=[hook],
             match=[matchers.query_param_matcher({"status": "all", "page": "1",
                                                  "per_page": "100"})])
    rsps.put(API + "/webhooks/41", json={**hook, "status": "active"},
             match=[matchers.json_params_matcher({"status": "active"})])
    rsps.delete(API + "/webhooks/41", json=hook,
                match=[matchers.query_param_matcher({"force": "true"})])
    woo = client()
    created = woo.create_webhook("order.updated", "https://connector.example.net/hooks/woo/store-7",
                                 Secret("whsec-woo-123"))
    assert created["id"] == 41
    assert [h["id"] for h in woo.list_webhooks()] == [41]
    assert woo.update_webhook(41, status="active")["status"] == "active"
    assert woo.delete_webhook(41)["id"] == 41


# --------------------------------------------------------------------------------------------
# keyset iteration over a moving set


T0 = datetime(2025, 3, 14, 9, 0, 0, tzinfo=UTC)


class FakeWooOrders:
    """``GET /orders`` over an in-memory set, implementing woo §4: ``modified_after`` /
    ``modified_before`` (exclusive, or inclusive when asked), ``orderby`` modified|date|id with
    ``ID`` tie-breaker, ``order=asc``, ``page``/``per_page`` offsets, ``X-WP-Total(Pages)``.
    ``before_request(n)`` runs before the n-th request (1-based) to change the store."""

    def __init__(self, inclusive: bool = False, send_totals: bool = True,
                 sort_override: str | None = None) -> None:
        self.send_totals = send_totals
        self.sort_override = sort_override
        self.modified: dict[int, datetime] = {}
        self.created: dict[int, datetime] = {}
        self.inclusive = inclusive
        self.requests: list[dict[str, str]] = []
        self.before_request: Callable[[int], None] = lambda n: None
        self.server_date = "Fri, 14 Mar 2025 12:00:00 GMT"

    def add(self, order_id: int, modified: datetime) -> None:
        self.modified[order_id] = modified
        self.created.setdefault(order_id, modified)

    def touch(self, order_id: int, modified: datetime) -> None:
        self.modified[order_id] = modified

    def row(self, order_id: int) -> dict[str, Any]:
        stamp = self.modified[order_id].replace(tzinfo=None).isoformat()
        return {"id": order_id, "date_modified_gmt": stamp,
                "date_created_gmt": self.created[order_id].replace(tzinfo=None).isoformat()}

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        params = dict(parse_qsl(urlsplit(request.url).query))
        self.requests.append(params)
        self.before_request(len(self.requests))
        assert params["dates_are_gmt"] == "true"
        assert int(params["per_page"]) <= 100
        rows = list(self.modified)
        if "modified_after" in params:
            after = datetime.fromisoformat(params["modified_after"]).replace(tzinfo=UTC)
            rows = [i for i in rows if self.modified[i] > after
                    or (self.inclusive and self.modified[i] == after)]
        if "modified_before" in params:
            before = datetime.fromisoformat(params["modified_before"]).replace(tzinfo=UTC)
            rows = [i for i in rows if self.modified[i] < before
                    or (self.inclusive and self.modified[i] == before)]
        orderby = params.get("orderby", "date")
        if self.sort_override == "date_desc":  # a store that ignores orderby/order
            rows.sort(key=lambda i: (self.created[i], i), reverse=True)
        elif orderby == "modified":
            rows.sort(key=lambda i: (self.modified[i], i))
        elif orderby == "date":
            rows.sort(key=lambda i: (self.created[i], i))
        else:
            rows.sort()
        per_page = int(params["per_page"])
        page = int(params.get("page", "1"))
        chunk = rows[(page - 1) * per_page: page * per_page]
        total_pages = (len(rows) + per_page - 1) // per_page
        headers = {"X-WP-Total": str(len(rows)), "X-WP-TotalPages": str(total_pages),
                   "Date": self.server_date}
        if not self.send_totals:  # some proxies/caching plugins strip them
            del headers["X-WP-Total"], headers["X-WP-TotalPages"]
        return 200, headers, json.dumps([self.row(i) for i in chunk])


def register(rsps: Any, store: FakeWooOrders) -> None:
    rsps.add_callback(responses.GET, ORDERS_RE, callback=store, content_type="application/json")


def assert_complete(rows: list[dict[str, Any]], store: FakeWooOrders) -> None:
    keys = [order_version_key(r) for r in rows]
    assert len(keys) == len(set(keys)), "a version was yielded twice"
    assert {r["id"] for r in rows} == set(store.modified), "an order was skipped"
    latest = {store.row(i)["date_modified_gmt"] for i in store.modified}
    assert latest <= {r["date_modified_gmt"] for r in rows}, "a final version was missed"


def test_naive_offset_paging_skips_a_record_in_this_store(rsps: Any) -> None:
    """Control: the fake reproduces the bug the keyset avoids (woo §4 pitfalls)."""
    store = FakeWooOrders()
    for i in range(1, 11):
        store.add(i, T0 + timedelta(seconds=i))
    store.before_request = lambda n: store.touch(2, T0 + timedelta(minutes=5)) if n == 2 else None
    register(rsps, store)
    woo = client(per_page=3)
    seen: list[int] = []
    page_no = 1
    while True:
        page = woo.list_orders_modified_since(T0, page_no)
        seen.extend(r["id"] for r in page.items)
        if len(page.items) < 3:
            break
        page_no += 1
    assert set(range(1, 11)) - set(seen) == {4}


@pytest.mark.parametrize("inclusive", [False, True])
def test_keyset_never_skips_when_records_move_during_paging(rsps: Any, inclusive: bool) -> None:
    store = FakeWooOrders(inclusive=inclusive)
    for i in range(1, 11):
        store.add(i, T0 + timedelta(seconds=i))

    def churn(n: int) -> None:
        if n == 2:
            store.touch(2, T0 + timedelta(minutes=5))  # already read: moves to the end
        if n == 3:
            store.touch(9, T0 + timedelta(minutes=6))  # not read yet: moves to the end

    store.before_request = churn
    register(rsps, store)
    scan = client(per_page=3).iter_orders_since(T0, overlap=timedelta(0))
    rows = list(scan)
    assert_complete(rows, store)
    assert scan.watermark == T0 + timedelta(minutes=6)
    assert scan.keys_at_watermark == {(9, "2025-03-14T09:06:00")}
    for params in store.requests:
        assert params["orderby"] == "modified" and params["page"] == "1"


@pytest.mark.parametrize("inclusive,send_totals", [(False, True), (True, True), (False, False)])
def test_keyset_drains_a_second_holding_more_than_a_page(rsps: Any, inclusive: bool,
                                                         send_totals: bool) -> None:
    store = FakeWooOrders(inclusive=inclusive, send_totals=send_totals)
    dense = T0 + timedelta(seconds=30)
    for i in range(1, 9):
        store.add(i, dense)  # 8 orders in one second, per_page 3
    store.add(20, dense + timedelta(seconds=1))
    store.add(21, dense + timedelta(seconds=2))

    def churn(n: int) -> None:
        # requests: 1 keyset, 2 keyset (no progress: dense), 3.. drain pages by id
        if n == 4:
            store.touch(2, dense + timedelta(minutes=1))  # leaves the window after drain page 1
        if n == 5:
            store.add(22, dense + timedelta(minutes=2))  # a brand-new change

    store.before_request = churn
    register(rsps, store)
    rows = list(client(per_page=3).iter_orders_since(T0, overlap=timedelta(0)))
    assert_complete(rows, store)
    drains = [p for p in store.requests if "modified_before" in p]
    assert drains, "the dense window was drained"
    assert [p["page"] for p in drains].count("1") >= 2, "the drain restarted after the shift"


@pytest.mark.parametrize("layout", ["dense", "unordered", "moving"])
def test_a_run_can_stop_after_any_row_and_resume_without_a_gap(rsps: Any, layout: str) -> None:
    """The fetch service stops after ``max_rows`` and stores (watermark, keys_at_watermark);
    resuming from them, with no overlap at all, must still read everything."""
    store = FakeWooOrders(sort_override="date_desc" if layout == "unordered" else None)
    dense = T0 + timedelta(seconds=30)
    for i in range(1, 9):
        store.add(i, dense if layout == "dense" else T0 + timedelta(seconds=i))
    store.add(20, dense + timedelta(seconds=5))

    def churn(n: int) -> None:
        if n == 4:
            store.touch(3, dense + timedelta(minutes=1))
        if n == 9:
            store.touch(6, dense + timedelta(minutes=2))

    store.before_request = churn
    register(rsps, store)
    woo = client(per_page=3)
    for stop_after in (1, 2, 3, 4, 5):
        collected: list[dict[str, Any]] = []
        watermark: datetime | None = T0 - timedelta(seconds=1)
        keys: frozenset[Any] = frozenset()
        for _ in range(60):
            scan = woo.iter_orders_since(watermark, seen=keys, overlap=timedelta(0))
            batch = []
            for row in scan:
                batch.append(row)
                if len(batch) >= stop_after:
                    break
            collected.extend(batch)
            assert scan.watermark is not None and scan.watermark >= watermark
            watermark, keys = scan.watermark, scan.keys_at_watermark
            if len(batch) < stop_after:
                break
        else:
            pytest.fail("resuming made no progress")
        assert {r["id"] for r in collected} == set(store.modified)
        latest = {store.row(i)["date_modified_gmt"] for i in store.modified}
        assert latest <= {r["date_modified_gmt"] for r in collected}


def test_keyset_respects_seen_keys_and_overlap(rsps: Any) -> None:
    store = FakeWooOrders()
    store.add(1, T0)
    store.add(2, T0 + timedelta(seconds=2))
    register(rsps, store)
    scan = client().iter_orders_since(T0, seen=[(1, "2025-03-14T09:00:00")],
                                      overlap=timedelta(seconds=10))
    rows = list(scan)
    assert [r["id"] for r in rows] == [2]
    # watermark - overlap - 1 s: a run that stopped mid-second resumes without a gap
    assert store.requests[0]["modified_after"] == "2025-03-14T08:59:49"
    assert scan.watermark == T0 + timedelta(seconds=2)


def test_keyset_with_nothing_new_keeps_the_previous_watermark(rsps: Any) -> None:
    store = FakeWooOrders()
    store.add(1, T0)
    register(rsps, store)
    scan = client().iter_orders_since(T0, seen=[(1, "2025-03-14T09:00:00")])
    assert list(scan) == []
    assert scan.watermark == T0
    assert scan.keys_at_watermark == {(1, "2025-03-14T09:00:00")}


def test_store_ignoring_orderby_modified_still_reads_everything(rsps: Any) -> None:
    """Out-of-order pages (ignored orderby, site-local sorting across DST) fall back to the
    order-independent drain of the window up to the newest record seen."""
    store = FakeWooOrders(sort_override="date_desc")
    for i in range(1, 11):
        store.add(i, T0 + timedelta(seconds=i))

    def churn(n: int) -> None:
        if n == 3:
            store.touch(4, T0 + timedelta(minutes=2))

    store.before_request = churn
    register(rsps, store)
    rows = list(client(per_page=3).iter_orders_since(T0, overlap=timedelta(0)))
    assert_complete(rows, store)


def test_filter_not_in_utc_is_refused(rsps: Any) -> None:
    rows = [{"id": 1, "date_modified_gmt": "2025-03-14T07:00:01"},
            {"id": 2, "date_modified_gmt": "2025-03-14T09:00:09"}]
    rsps.get(ORDERS_RE, json=rows)
    with pytest.raises(DataError, match="not in UTC"):
        list(client(per_page=2).iter_orders_since(T0, overlap=timedelta(0)))


def test_orderby_date_fallback_rereads_until_complete(rsps: Any) -> None:
    store = FakeWooOrders()
    for i in range(1, 8):
        store.add(i, T0 + timedelta(seconds=i))
    # order 50 was created long ago and is modified mid-run: it *enters* the set at page 1
    store.created[50] = T0 - timedelta(days=3)

    def churn(n: int) -> None:
        if n == 2:
            store.modified[50] = T0 + timedelta(minutes=1)

    store.before_request = churn
    store.server_date = "Fri, 14 Mar 2025 09:00:30 GMT"  # the server's clock at scan start
    register(rsps, store)
    scan = client(per_page=3, order_by_modified=False).iter_orders_since(T0, overlap=timedelta(0))
    rows = list(scan)
    assert_complete(rows, store)
    assert {p["orderby"] for p in store.requests} == {"date"}
    # Order 50 changed during the run: the watermark stays below the server's Date of the first
    # response, so next run re-reads from there instead of trusting a moving set.
    assert scan.watermark == datetime(2025, 3, 14, 9, 0, 29, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# schemas


def test_order_schema_reads_the_fixture() -> None:
    order = parse_woo_order(fixture("woo_order.json"))
    assert order.id == 5120 and order.number == "5120"
    assert order.currency == "EUR"
    assert order.total == Decimal("54.56")
    assert order.date_modified == datetime(2025, 3, 14, 9, 5, 40, tzinfo=UTC)
    assert order.date_created is not None and order.date_created.tzinfo is not None
    assert order.date_completed is None
    assert order.version == "2025-03-14T09:05:40"
    line = order.line_items[0]
    assert line.price == Decimal("16.4") and isinstance(line.price, Decimal)
    assert line.quantity == 2 and line.sku == "MUG-01-BLU"
    assert order.billing.email == "ana.silva@example.org"
    assert order.shipping_lines[0].total == Decimal("4.90")
    assert order.tax_lines[0].rate_code == "PT-IVA-1"
    assert not order.is_guest
    assert validate_woo_order(order, allowed_currencies=["EUR"], require_email=True) == []


def test_customer_schema_reads_the_fixture() -> None:
    customer = parse_woo_customer(fixture("woo_customer.json"))
    assert customer.id == 88 and customer.role == "customer"
    assert customer.date_modified == datetime(2025, 3, 14, 9, 2, 11, tzinfo=UTC)
    assert customer.billing.city == "Lisboa"


def test_schema_errors_are_plain_words() -> None:
    payload = fixture("woo_order.json")
    payload["line_items"][1]["quantity"] = "two"
    del payload["line_items"][0]["id"]
    payload["total"] = "abc"
    payload["date_modified_gmt"] = "last tuesday"
    with pytest.raises(InvalidPayload) as caught:
        parse_woo_order(payload)
    assert set(caught.value.problems) == {
        "id on line 1 (Mug - Blue) is missing",
        "quantity on line 2 (Tea sampler) is not a whole number",
        "order total is not an amount",
        "order modification date is not a date and time",
    }
    assert isinstance(caught.value, DataError)


def test_business_validation_messages() -> None:
    payload = fixture("woo_order.json")
    payload["customer_id"] = 0
    payload["currency"] = "USD"
    payload["billing"]["email"] = ""
    payload["line_items"][0]["quantity"] = -1
    payload["line_items"][1]["sku"] = ""
    payload["line_items"][1]["name"] = "Mug"
    order = parse_woo_order(payload)
    assert order.is_guest
    problems = validate_woo_order(order, allowed_currencies=["EUR", "GBP"], require_email=False)
    assert problems == [
        "currency USD is not one of the allowed currencies (EUR, GBP)",
        "billing e-mail is missing",
        "quantity -1 on line 1 (Mug - Blue) is negative",
        "line 2 (Mug) has no SKU",
    ]


def test_email_required_only_when_asked_for_registered_customers() -> None:
    payload = fixture("woo_order.json")
    payload["billing"]["email"] = ""
    order = parse_woo_order(payload)
    assert validate_woo_order(order, allowed_currencies=(), require_email=False) == []
    assert validate_woo_order(order, allowed_currencies=(), require_email=True) == [
        "billing e-mail is missing"]
    payload["billing"]["email"] = "not-an-address"
    assert validate_woo_order(parse_woo_order(payload), require_email=True) == [
        "billing e-mail 'not-an-address' is not a valid address"]


def test_naive_and_offset_gmt_dates_become_utc() -> None:
    payload = fixture("woo_order.json")
    payload["date_modified_gmt"] = "2025-03-14T10:05:40+01:00"
    assert parse_woo_order(payload).date_modified == datetime(2025, 3, 14, 9, 5, 40, tzinfo=UTC)


def test_customers_by_id_are_read_a_page_at_a_time(rsps: Any) -> None:
    seen: list[dict[str, str]] = []

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        query = dict(parse_qsl(urlsplit(request.url).query))
        seen.append(query)
        ids = [int(i) for i in query["include"].split(",")]
        rows = [{"id": i, "email": f"c{i}@example.org"} for i in ids if i != 7]  # 7 is gone
        return 200, {"X-WP-Total": str(len(rows)), "X-WP-TotalPages": "1"}, json.dumps(rows)

    rsps.add_callback(responses.GET, API + "/customers", callback=answer)
    woo = client()
    got = woo.get_customers([*range(1, 131), 5])
    assert [c["id"] for c in got] == [i for i in range(1, 131) if i != 7]
    assert len(seen) == 2  # 130 ids, 100 to a request
    assert seen[0]["include"] == ",".join(str(i) for i in range(1, 101))
    assert all(q["role"] == "all" and q["per_page"] == str(MAX_PER_PAGE) for q in seen)
