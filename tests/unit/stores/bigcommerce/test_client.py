"""BigCommerceClient and BigCommerce schemas against ``responses`` (strict mode)."""

from __future__ import annotations

import email.utils
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses
from responses import matchers

from connector.config import Secret
from connector.errors import AuthError, DataError, NotFound, RateLimited, Transient
from connector.stores.bigcommerce.address_schemas import parse_bc_shipping_address
from connector.stores.bigcommerce.client import BigCommerceClient
from connector.stores.bigcommerce.customer_schemas import parse_bc_customer
from connector.stores.bigcommerce.order_schemas import parse_bc_order, parse_bc_order_products
from connector.stores.bigcommerce.transport import MAX_LIMIT
from connector.stores.bigcommerce.validation import validate_bc_order
from connector.stores.bigcommerce.versions import order_version_key
from connector.stores.bigcommerce.voucher_schemas import (
    parse_bc_refund,
    parse_bc_shipment,
    parse_bc_transaction,
)
from connector.stores.schemas import InvalidPayload

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
BASE = "https://api.bigcommerce.com"
V2 = BASE + "/stores/k7p2r9/v2"
V3 = BASE + "/stores/k7p2r9/v3"
TOKEN = "tok_5m2x9q7w1e3r6t8y0u4i"
AUTH = matchers.header_matcher({"X-Auth-Token": TOKEN})
ORDERS_RE = re.compile(r"^https://api\.bigcommerce\.com/stores/k7p2r9/v2/orders(\?.*)?$")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def query(call: Any) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(call.request.url).query, keep_blank_values=True))


@pytest.fixture
def rsps() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def client(**kwargs: Any) -> BigCommerceClient:
    return BigCommerceClient(BASE, "k7p2r9", Secret(TOKEN), **kwargs)


# --------------------------------------------------------------------------------------------
# basics


def test_token_on_every_call_and_base_paths(rsps: Any) -> None:
    rsps.get(V2 + "/orders/3105", json=fixture("bc_order.json"), match=[AUTH])
    rsps.get(V3 + "/orders/3105/transactions", json=fixture("bc_transactions.json"),
             match=[AUTH])
    bc = client()
    assert bc.get_order(3105)["id"] == 3105
    assert bc.get_transactions(3105)[0]["event"] == "purchase"
    assert TOKEN not in repr(bc)


def test_every_call_has_a_timeout_and_uses_the_injected_session(rsps: Any) -> None:
    session = requests.Session()
    rsps.get(V2 + "/orders/1", json={"id": 1})
    bc = client(session=session, timeout=3.0)
    bc.get_order(1)
    assert bc.session is session
    assert rsps.calls[0].request.req_kwargs["timeout"] == 3.0
    assert "X-Auth-Token" not in session.headers  # the token is per request, not per session


def test_v2_products_page_with_limit_250_until_204(rsps: Any) -> None:
    full = [{"id": i, "order_id": 3105, "sku": f"S{i}", "quantity": 1} for i in range(250)]
    rsps.get(V2 + "/orders/3105/products", json=full, match=[
        AUTH, matchers.query_param_matcher({"limit": "250", "page": "1"})])
    rsps.get(V2 + "/orders/3105/products", status=204, body="", match=[
        AUTH, matchers.query_param_matcher({"limit": "250", "page": "2"})])
    assert len(client().get_order_products(3105)) == 250
    assert client().limit == MAX_LIMIT


def test_v2_short_page_stops(rsps: Any) -> None:
    rsps.get(V2 + "/orders/3105/products", json=fixture("bc_order_products.json"),
             match=[matchers.query_param_matcher({"limit": "250", "page": "1"})])
    assert [p["sku"] for p in client().get_order_products(3105)] == ["MUG-01", "COAST-4"]


def test_empty_v2_list_is_204(rsps: Any) -> None:
    rsps.get(V2 + "/orders/3105/shipments", status=204, body="")
    assert client().get_shipments(3105) == []


def test_shipments_addresses_and_single_shipment(rsps: Any) -> None:
    rsps.get(V2 + "/orders/3105/shipping_addresses", json=fixture("bc_shipping_addresses.json"))
    rsps.get(V2 + "/orders/3105/shipments", json=fixture("bc_shipments.json"))
    rsps.get(V2 + "/orders/3105/shipments/5", json=fixture("bc_shipments.json")[0])
    bc = client()
    assert bc.get_shipping_addresses(3105)[0]["id"] == 9
    assert bc.get_shipments(3105)[0]["tracking_number"] == "RR123456785PT"
    assert bc.get_shipment(3105, 5)["id"] == 5


# --------------------------------------------------------------------------------------------
# rate limits and errors


def test_429_with_reset_header_is_rate_limited_with_the_wait(rsps: Any) -> None:
    rsps.get(V2 + "/orders/1", status=429, body="", headers={
        "X-Rate-Limit-Time-Reset-Ms": "1500", "X-Rate-Limit-Requests-Left": "0",
        "X-Rate-Limit-Requests-Quota": "150", "X-Rate-Limit-Time-Window-Ms": "30000"})
    bc = client()
    with pytest.raises(RateLimited) as caught:
        bc.get_order(1)
    assert caught.value.retry_after == 1.5
    state = bc.rate_state
    assert state is not None
    assert (state.requests_left, state.requests_quota, state.window_ms, state.reset_ms) == (
        0, 150, 30000, 1500)
    assert 0 < state.suggested_wait() <= 1.5


def test_429_without_headers_means_platform_overload(rsps: Any) -> None:
    rsps.get(V2 + "/orders/1", status=429, body="")
    with pytest.raises(RateLimited) as caught:
        client().get_order(1)
    assert caught.value.retry_after is None
    assert "overloaded" in caught.value.message


def test_rate_state_tracks_successful_responses(rsps: Any) -> None:
    rsps.get(V2 + "/orders/1", json={"id": 1}, headers={
        "X-Rate-Limit-Requests-Left": "148", "X-Rate-Limit-Requests-Quota": "150",
        "X-Rate-Limit-Time-Reset-Ms": "29000", "X-Rate-Limit-Time-Window-Ms": "30000"})
    bc = client()
    assert bc.rate_state is None
    bc.get_order(1)
    assert bc.rate_state is not None
    assert bc.rate_state.requests_left == 148
    assert bc.rate_state.reset_s == 29.0
    assert bc.rate_state.suggested_wait(reserve=10) == 0.0
    assert bc.rate_state.suggested_wait(reserve=200) > 28.0


def test_v2_array_errors_are_parsed(rsps: Any) -> None:
    rsps.get(V2 + "/orders/404", status=404, json=fixture("bc_error_v2_404.json"))
    rsps.get(V2 + "/orders/1/products", status=413, json=fixture("bc_error_v2_413.json"))
    bc = client()
    with pytest.raises(NotFound) as missing:
        bc.get_order(404)
    assert missing.value.message == "The requested resource was not found."
    with pytest.raises(DataError) as too_big:
        bc.get_order_products(1)
    assert too_big.value.message == ("The specified limit exceeds the maximum allowed. "
                                     "(max_limit: 250)")
    assert too_big.value.status == 413


def test_v3_errors_are_parsed(rsps: Any) -> None:
    rsps.post(V3 + "/hooks", status=422, json=fixture("bc_error_v3_422.json"))
    with pytest.raises(DataError) as caught:
        client().create_hook("store/order/*", "http://insecure.example.net/hook")
    assert caught.value.message == ("JSON data is missing or invalid; destination: destination "
                                    "must use https on port 443")


def test_401_and_500(rsps: Any) -> None:
    rsps.get(V2 + "/orders/1", status=401, body="")
    rsps.get(V2 + "/orders/2", status=500, json=[{"status": 500, "message": "Internal error"}])
    bc = client()
    with pytest.raises(AuthError):
        bc.get_order(1)
    with pytest.raises(Transient) as caught:
        bc.get_order(2)
    assert caught.value.message == "Internal error"


def test_redirects_are_not_followed(rsps: Any) -> None:
    rsps.get("http://api.bigcommerce.com/stores/k7p2r9/v2/orders/1", status=301,
             headers={"Location": "https://api.bigcommerce.com/stores/k7p2r9/v2/orders/1"})
    bc = BigCommerceClient("http://api.bigcommerce.com", "k7p2r9", Secret(TOKEN))
    with pytest.raises(DataError, match="redirects"):
        bc.get_order(1)
    assert len(rsps.calls) == 1


# --------------------------------------------------------------------------------------------
# refunds, customers


def test_refunds_and_refund_by_id(rsps: Any) -> None:
    rsps.get(V3 + "/orders/3105/payment_actions/refunds", json=fixture("bc_refunds.json"),
             match=[matchers.query_param_matcher({"page": "1", "limit": "250"})])
    rsps.get(V3 + "/orders/payment_actions/refunds", json=fixture("bc_refunds.json"),
             match=[matchers.query_param_matcher({"id:in": "12", "page": "1", "limit": "250"})])
    rsps.get(V3 + "/orders/payment_actions/refunds", json={"data": [], "meta": {}},
             match=[matchers.query_param_matcher({"id:in": "99", "page": "1", "limit": "250"})])
    bc = client()
    assert bc.get_refunds(3105)[0]["id"] == 12
    assert bc.get_refund(12)["total_amount"] == 20.17
    with pytest.raises(NotFound):
        bc.get_refund(99)


def test_customers(rsps: Any) -> None:
    body = fixture("bc_customers.json")
    rsps.get(V3 + "/customers", json=body, match=[matchers.query_param_matcher(
        {"id:in": "742", "include": "addresses", "page": "1", "limit": "250"})])
    rsps.get(V3 + "/customers", json=body, match=[matchers.query_param_matcher(
        {"email:in": "ana.silva@example.org,bo@example.org", "include": "addresses",
         "page": "1", "limit": "250"})])
    bc = client()
    assert bc.get_customer(742)["email"] == "ana.silva@example.org"
    found = bc.find_customers_by_email(["Ana.Silva@example.org ", "bo@example.org", "",
                                        "ana.silva@example.org"])
    assert [c["id"] for c in found] == [742]


def test_iter_customers_modified_since(rsps: Any) -> None:
    rsps.get(V3 + "/customers", json=fixture("bc_customers.json"), match=[
        matchers.query_param_matcher({"date_modified:min": "2025-03-14T08:59:49",
                                      "sort": "date_modified:asc", "page": "1",
                                      "limit": "250"})])
    scan = client().iter_customers(datetime(2025, 3, 14, 9, 0, tzinfo=UTC))
    assert [c["id"] for c in scan] == [742]
    assert scan.watermark == datetime(2025, 3, 14, 9, 2, 11, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# hooks


def test_hook_management(rsps: Any) -> None:
    hook = fixture("bc_hook.json")
    rsps.get(V3 + "/hooks", json={"data": [hook["data"]], "meta": {}},
             match=[AUTH, matchers.query_param_matcher({"is_active": "false",
                                                        "scope": "store/order/*"})])
    rsps.post(V3 + "/hooks", json=hook, match=[AUTH, matchers.json_params_matcher({
        "scope": "store/order/*",
        "destination": "https://connector.example.net/hooks/bc/k7p2r9",
        "is_active": True,
        "headers": {"x-mlc-hook-secret": "8e0f2b7c9a1d4e6f"},
    })])
    rsps.put(V3 + "/hooks/25900001", json=hook,
             match=[AUTH, matchers.json_params_matcher({"is_active": True})])
    rsps.delete(V3 + "/hooks/25900001", json=hook, match=[AUTH])
    rsps.get(V3 + "/hooks/admin", json=fixture("bc_hooks_admin.json"), match=[AUTH])
    bc = client()
    assert bc.list_hooks(is_active=False, scope="store/order/*")[0]["id"] == 25900001
    created = bc.create_hook("store/order/*", "https://connector.example.net/hooks/bc/k7p2r9",
                             headers={"x-mlc-hook-secret": "8e0f2b7c9a1d4e6f"})
    assert created["scope"] == "store/order/*"
    assert bc.update_hook(25900001, is_active=True)["is_active"] is True
    assert bc.delete_hook(25900001) is not None
    admin = bc.hooks_admin()
    assert admin["blocked_domains"][0]["time_left"] == 120


# --------------------------------------------------------------------------------------------
# keyset polling over a moving set


T0 = datetime(2025, 3, 14, 9, 0, 0, tzinfo=UTC)


class FakeBcOrders:
    """``GET /v2/orders`` over an in-memory set (bc §2): ``min/max_date_modified`` (RFC 2822,
    inclusive unless told otherwise), ``min_id``, ``sort`` ``date_modified:asc`` | ``id:asc``,
    ``limit``/``page`` offsets, 204 for an empty page."""

    def __init__(self, inclusive: bool = True) -> None:
        self.modified: dict[int, datetime] = {}
        self.inclusive = inclusive
        self.requests: list[dict[str, str]] = []
        self.before_request: Callable[[int], None] = lambda n: None

    def row(self, order_id: int) -> dict[str, Any]:
        return {"id": order_id, "date_modified": email.utils.format_datetime(
            self.modified[order_id])}

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        params = dict(parse_qsl(urlsplit(request.url).query))
        self.requests.append(params)
        self.before_request(len(self.requests))
        assert int(params["limit"]) <= 250
        rows = list(self.modified)
        if "min_date_modified" in params:
            lo = email.utils.parsedate_to_datetime(params["min_date_modified"])
            rows = [i for i in rows if self.modified[i] > lo
                    or (self.inclusive and self.modified[i] == lo)]
        if "max_date_modified" in params:
            hi = email.utils.parsedate_to_datetime(params["max_date_modified"])
            rows = [i for i in rows if self.modified[i] < hi
                    or (self.inclusive and self.modified[i] == hi)]
        if "min_id" in params:
            rows = [i for i in rows if i >= int(params["min_id"])]
        if params.get("sort") == "date_modified:asc":
            rows.sort(key=lambda i: (self.modified[i], i))
        else:
            rows.sort()
        limit, page = int(params["limit"]), int(params.get("page", "1"))
        chunk = rows[(page - 1) * limit: page * limit]
        if not chunk:
            return 204, {}, ""
        return 200, {"Content-Type": "application/json"}, json.dumps([self.row(i) for i in chunk])


def assert_complete(rows: list[dict[str, Any]], store: FakeBcOrders) -> None:
    keys = [order_version_key(r) for r in rows]
    assert len(keys) == len(set(keys)), "a version was yielded twice"
    assert {r["id"] for r in rows} == set(store.modified), "an order was skipped"
    latest = {store.row(i)["date_modified"] for i in store.modified}
    assert latest <= {r["date_modified"] for r in rows}, "a final version was missed"


def test_order_polling_query(rsps: Any) -> None:
    rsps.get(V2 + "/orders", json=[fixture("bc_order.json")], match=[
        AUTH, matchers.query_param_matcher({
            "min_date_modified": "Fri, 14 Mar 2025 08:59:49 +0000",
            "sort": "date_modified:asc", "limit": "250", "page": "1",
            # each order with its consignments (line items, shipping address) and fee lines
            "include": "consignments.line_items,fees", "consignment_structure": "object"})])
    scan = client().iter_orders_modified_since(T0)
    assert [o["id"] for o in scan] == [3105]
    assert scan.watermark == datetime(2025, 3, 14, 9, 5, 40, tzinfo=UTC)
    assert scan.keys_at_watermark == {(3105, "Fri, 14 Mar 2025 09:05:40 +0000")}


def test_order_polling_204_ends(rsps: Any) -> None:
    rsps.get(ORDERS_RE, status=204, body="")
    assert list(client().iter_orders_modified_since(None)) == []


@pytest.mark.parametrize("inclusive", [True, False])
def test_keyset_never_skips_when_orders_move_during_paging(rsps: Any, inclusive: bool) -> None:
    store = FakeBcOrders(inclusive=inclusive)
    for i in range(1, 11):
        store.modified[i] = T0 + timedelta(seconds=i)

    def churn(n: int) -> None:
        if n == 2:
            store.modified[2] = T0 + timedelta(minutes=5)
        if n == 3:
            store.modified[8] = T0 + timedelta(minutes=6)

    store.before_request = churn
    rsps.add_callback(responses.GET, ORDERS_RE, callback=store)
    rows = list(client(limit=3).iter_orders_modified_since(T0, overlap=timedelta(0)))
    assert_complete(rows, store)


@pytest.mark.parametrize("inclusive", [True, False])
def test_dense_second_is_read_with_an_id_keyset(rsps: Any, inclusive: bool) -> None:
    store = FakeBcOrders(inclusive=inclusive)
    dense = T0 + timedelta(seconds=30)
    for i in range(1, 9):
        store.modified[i] = dense
    store.modified[20] = dense + timedelta(seconds=1)

    def churn(n: int) -> None:
        if n == 4:
            store.modified[2] = dense + timedelta(minutes=1)

    store.before_request = churn
    rsps.add_callback(responses.GET, ORDERS_RE, callback=store)
    rows = list(client(limit=3).iter_orders_modified_since(T0, overlap=timedelta(0)))
    assert_complete(rows, store)
    assert any(p.get("sort") == "id:asc" and "min_id" in p for p in store.requests)


# --------------------------------------------------------------------------------------------
# schemas


def test_order_schema() -> None:
    order = parse_bc_order(fixture("bc_order.json"))
    assert order.id == 3105 and order.status_id == 11
    assert order.currency == "EUR"  # default_currency_code: the transactional currency
    assert order.total_inc_tax == Decimal("47.6000")
    assert order.date_modified == datetime(2025, 3, 14, 9, 5, 40, tzinfo=UTC)
    assert order.date_shipped is None
    assert order.billing_address.email == "ana.silva@example.org"
    assert order.version == "Fri, 14 Mar 2025 09:05:40 +0000"
    lines = parse_bc_order_products(fixture("bc_order_products.json"))
    assert lines[0].price_inc_tax == Decimal("20.1720") and lines[0].variant_id == 120
    assert lines[1].applied_discounts[0].code == "SPRING"
    assert validate_bc_order(order, lines, allowed_currencies=["EUR"]) == []


def test_transactional_currency_differs_from_display_currency() -> None:
    payload = fixture("bc_order.json")
    payload["currency_code"] = "USD"
    order = parse_bc_order(payload)
    assert (order.currency, order.display_currency) == ("EUR", "USD")


def test_other_schemas() -> None:
    address = parse_bc_shipping_address(fixture("bc_shipping_addresses.json")[0])
    assert address.country_iso2 == "PT" and address.cost_inc_tax == Decimal("0.0000")
    shipment = parse_bc_shipment(fixture("bc_shipments.json")[0])
    assert shipment.items[0].order_product_id == 16
    assert shipment.date_created == datetime(2025, 3, 15, 8, 12, tzinfo=UTC)
    txn = parse_bc_transaction(fixture("bc_transactions.json")["data"][0])
    assert txn.order_id == 3105 and txn.amount == Decimal("47.6")
    assert txn.date_created == datetime(2025, 3, 14, 9, 2, 14, tzinfo=UTC)
    refund = parse_bc_refund(fixture("bc_refunds.json")["data"][0])
    assert refund.total_amount == Decimal("20.17")
    assert refund.items[0].requested_amount is None
    assert refund.payments[0].amount == Decimal("20.17")
    customer = parse_bc_customer(fixture("bc_customers.json")["data"][0])
    assert customer.date_modified == datetime(2025, 3, 14, 9, 2, 11, tzinfo=UTC)
    assert customer.addresses[0].postal_code == "1100-148"
    assert customer.channel_ids == (1,)


def test_schema_errors_are_plain_words() -> None:
    payload = fixture("bc_order.json")
    del payload["default_currency_code"]
    payload["date_modified"] = "soon"
    payload["total_inc_tax"] = "a lot"
    with pytest.raises(InvalidPayload) as caught:
        parse_bc_order(payload)
    assert set(caught.value.problems) == {
        "order currency is missing",
        "order modification date is not a date and time",
        "order total inc tax is not an amount",
    }
    lines = fixture("bc_order_products.json")
    lines[1]["quantity"] = 1.5
    with pytest.raises(InvalidPayload) as bad_lines:
        parse_bc_order_products(lines)
    assert bad_lines.value.problems == ["quantity on line 2 (Coaster set) is not a whole number"]


def test_business_validation_messages() -> None:
    payload = fixture("bc_order.json")
    payload["status_id"] = 0
    payload["default_currency_code"] = "USD"
    payload["billing_address"]["email"] = ""
    order = parse_bc_order(payload)
    lines_payload = fixture("bc_order_products.json")
    lines_payload[0]["sku"] = ""
    lines_payload[1]["quantity"] = -1
    lines = parse_bc_order_products(lines_payload)
    assert validate_bc_order(order, lines, allowed_currencies=["EUR"]) == [
        "the order is Incomplete (status 0): the shopper never finished checkout",
        "currency USD is not one of the allowed currencies (EUR)",
        "billing e-mail is missing",
        "line 1 (Mug) has no SKU",
        "quantity -1 on line 2 (Coaster set) is negative",
    ]
