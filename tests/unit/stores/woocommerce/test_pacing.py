"""The WooCommerce client's flow control (woo §5, decision 4; issue 10): a host's 429/503 wait
hint is a floor and holds the client (and, through a FleetHold, the fleet) back; a host's
rate-limit headers are read before the next request; every request takes a grant of the
source's fleet budget. ``responses`` is strict: a request the client must not send has no
registered answer, and sending it would fail the test."""

from __future__ import annotations

import email.utils
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import requests
import responses

from connector.config import Secret
from connector.errors import RateLimited
from connector.patience import patience
from connector.stores.pacing import FleetHold
from connector.stores.woocommerce.client import WooCommerceClient
from connector.stores.woocommerce.pacing import wait_hint

SHOP = "https://shop.example.org"
API = SHOP + "/wp-json/wc/v3"
REDIS_URL = "redis://127.0.0.1:6379/15"


class CountingBudget:
    """A stand-in for the fleet budget: counts grants, waits at most ``max_wait_s``."""

    def __init__(self, max_wait_s: float = 5.0) -> None:
        self.max_wait_s = max_wait_s
        self.grants = 0

    def acquire_waiting(self, n: int = 1) -> None:
        self.grants += n


class MemoryHold:
    """A FleetHold without Redis (the real one is tested below against Redis)."""

    def __init__(self) -> None:
        self.until = 0.0

    def hold(self, seconds: float) -> None:
        self.until = max(self.until, time.monotonic() + seconds)

    def remaining(self) -> float:
        return max(0.0, self.until - time.monotonic())


@pytest.fixture
def rsps() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The client's flow-control sleeps, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr("connector.stores.pacing.time.sleep", waits.append)
    return waits


def client(**kwargs: Any) -> WooCommerceClient:
    return WooCommerceClient(SHOP, "ck_test", Secret("cs_test"), **kwargs)


def test_a_429_retry_after_holds_the_client_back_until_it_passes(rsps: Any) -> None:
    rsps.get(API + "/orders/1", status=429, headers={"Retry-After": "30"}, body="<html/>",
             content_type="text/html")
    shop = client(budget=CountingBudget())
    with pytest.raises(RateLimited) as first:
        shop.get_order(1)
    assert first.value.retry_after == 30.0 and first.value.status == 429
    # The next request is not sent: the host said 30 s, longer than the client may wait.
    with pytest.raises(RateLimited) as second:
        shop.get_order(2)
    assert second.value.code == "BUDGET_EXHAUSTED"
    assert 29.0 < float(second.value.retry_after or 0) <= 30.0
    assert len(rsps.calls) == 1


def test_a_short_retry_after_is_waited_out_then_the_request_goes(rsps: Any,
                                                                 slept: list[float]) -> None:
    rsps.get(API + "/orders/1", status=503, headers={"Retry-After": "2"}, body="")
    rsps.get(API + "/orders/1", json={"id": 1})
    budget = CountingBudget(max_wait_s=5.0)
    shop = client(budget=budget)
    with pytest.raises(RateLimited) as caught:
        shop.get_order(1)
    assert caught.value.retry_after == 2.0
    assert shop.get_order(1) == {"id": 1}
    assert len(slept) == 1 and 1.0 < slept[0] <= 2.0  # the hint is a floor: never sooner
    assert budget.grants == 2  # every request drew from the fleet budget


def test_an_http_date_retry_after_is_understood(rsps: Any) -> None:
    when = email.utils.formatdate(time.time() + 40, usegmt=True)
    rsps.get(API + "/orders/1", status=429, headers={"Retry-After": when}, body="")
    with pytest.raises(RateLimited) as caught:
        client().get_order(1)
    assert 35.0 < float(caught.value.retry_after or 0) <= 40.0


def test_ratelimit_retry_after_alone_is_the_hint(rsps: Any) -> None:
    rsps.get(API + "/orders/1", status=429, body="", headers={
        "RateLimit-Limit": "25", "RateLimit-Remaining": "0",
        "RateLimit-Reset": str(int(time.time()) + 9), "RateLimit-Retry-After": "9"})
    with pytest.raises(RateLimited) as caught:
        client().get_order(1)
    assert 8.0 <= float(caught.value.retry_after or 0) <= 9.0


def test_a_503_without_a_hint_holds_nothing(rsps: Any) -> None:
    rsps.get(API + "/orders/1", status=503, body="")
    rsps.get(API + "/orders/1", json={"id": 1})
    hold = MemoryHold()
    shop = client(hold=hold)
    with pytest.raises(RateLimited) as caught:
        shop.get_order(1)
    assert caught.value.retry_after is None  # the task backs off on its own
    assert hold.remaining() == 0.0
    assert shop.get_order(1) == {"id": 1}


def test_a_spent_window_in_the_headers_is_waited_for_before_sending(
        rsps: Any, slept: list[float]) -> None:
    reset = int(time.time()) + 3  # WooCommerce's Store API: Reset is a Unix time
    rsps.get(API + "/orders/1", json={"id": 1}, headers={
        "RateLimit-Limit": "25", "RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)})
    rsps.get(API + "/orders/2", json={"id": 2})
    shop = client(budget=CountingBudget())
    shop.get_order(1)
    state = shop.rate_state
    assert state is not None and (state.requests_left, state.requests_quota) == (0, 25)
    shop.get_order(2)
    assert len(slept) == 1 and 1.0 < slept[0] <= 3.0


def test_a_spent_window_raises_when_there_is_no_budget_to_wait_in(rsps: Any) -> None:
    rsps.get(API + "/orders/1", json={"id": 1}, headers={
        "X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "20"})
    shop = client()
    shop.get_order(1)
    with pytest.raises(RateLimited) as caught:  # seconds form of Reset; 1 left is the reserve
        shop.get_order(2)
    assert caught.value.code == "BUDGET_EXHAUSTED"
    assert 19.0 < float(caught.value.retry_after or 0) <= 20.0


def test_room_in_the_window_sends_at_once(rsps: Any, slept: list[float]) -> None:
    rsps.get(API + "/orders/1", json={"id": 1}, headers={
        "X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "40", "X-RateLimit-Reset": "20"})
    rsps.get(API + "/orders/2", json={"id": 2})
    shop = client()
    shop.get_order(1)
    shop.get_order(2)
    assert slept == []


def test_a_resend_inside_an_operators_patience_takes_its_own_budget_grant(
        rsps: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Within ``patience`` (reconcile, the demo) ``http.send`` resends after a 429: the resend
    goes through the client's flow control too, so the fleet budget is charged per request
    actually sent (it used to be charged once for both)."""
    monkeypatch.setattr("connector.patience.time.sleep", lambda seconds: None)
    rsps.get(API + "/orders/1", status=429, headers={"Retry-After": "1"}, body="")
    rsps.get(API + "/orders/1", json={"id": 1})
    budget = CountingBudget()
    with patience(60):
        assert client(budget=budget).get_order(1).get("id") == 1
    assert len(rsps.calls) == 2
    assert budget.grants == 2


def test_one_clients_429_holds_the_other_clients_of_the_source(rsps: Any) -> None:
    rsps.get(API + "/orders/1", status=429, headers={"Retry-After": "20"}, body="")
    hold = MemoryHold()
    first, second = client(hold=hold), client(hold=hold)
    with pytest.raises(RateLimited):
        first.get_order(1)
    with pytest.raises(RateLimited) as caught:  # never sent: the fleet waits as one
        second.get_order(2)
    assert caught.value.code == "BUDGET_EXHAUSTED"
    assert 19.0 < float(caught.value.retry_after or 0) <= 20.0
    assert len(rsps.calls) == 1


def test_wait_hint_forms() -> None:
    def answer(headers: dict[str, str]) -> requests.Response:
        resp = requests.Response()
        resp.status_code = 429
        resp.headers.update(headers)
        return resp

    now = 1_750_000_000.0
    assert wait_hint(answer({"Retry-After": "12"}), now) == 12.0
    assert wait_hint(answer({"Retry-After": str(int(now) + 30)}), now) == 30.0
    assert wait_hint(answer({"X-RateLimit-Retry-After": "4"}), now) == 4.0
    assert wait_hint(answer({"Retry-After": "soon"}), now) is None
    assert wait_hint(answer({}), now) is None


# --------------------------------------------------------------------------------------------
# FleetHold against a real Redis (db 15, like the fleet budget's tests)


@pytest.fixture
def r() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    yield client
    client.close()


def test_a_fleet_hold_is_shared_lengthened_never_shortened_and_capped(r: redis.Redis) -> None:
    name = f"test-hold-{uuid.uuid4().hex}"
    one, other = FleetHold(r, name), FleetHold(redis.Redis.from_url(REDIS_URL), name)
    try:
        assert one.key == f"mlc:hold:{name}" and one.remaining() == 0.0
        one.hold(20)
        assert 19.0 < other.remaining() <= 20.0  # another process sees it
        other.hold(5)
        assert one.remaining() > 19.0  # a shorter hint does not shorten it
        other.hold(86_400)
        assert 590.0 < one.remaining() <= 600.0  # a day-long hint holds ten minutes
    finally:
        r.delete(one.key)
