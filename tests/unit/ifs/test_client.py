"""IFS client pieces: OData helpers, token manager (local and Redis caches), OData client,
voucher wizard. HTTP is mocked with ``responses`` (strict); the Redis caches use a real Redis."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
import requests
import responses
from responses import matchers

from connector.config import Secret
from connector.crypto import Vault, generate_key
from connector.errors import AuthError, Conflict, DataError, NotFound, RateLimited, Transient
from connector.ifs.auth import (
    CachedToken,
    IfsTokenManager,
    LocalTokenCache,
    RedisTokenCache,
)
from connector.ifs.batch import BatchRequest
from connector.ifs.client import IfsODataClient
from connector.ifs.odata import ODataEnum, filter_eq, odata_key, odata_literal
from connector.ifs.vouchers import VoucherPlan, VoucherRow, VoucherWizard
from connector.ratelimit import RedisBudget

BASE = "http://ifs.test"
TOKEN_URL = f"{BASE}/auth/realms/northwind/protocol/openid-connect/token"
SVC = f"{BASE}/main/ifsapplications/projection/v1"
CUSTOMERS = f"{SVC}/CustomerHandling.svc/CustomerInfoSet"
SECRET = "s3cr3t-client-secret"
REDIS_URL = "redis://127.0.0.1:6379/15"
ETAG = 'W/"Vy8iQUFCN1FYQUFLQUFBZDVoQUFDOjIwMjUwMzE0MDkxNTIyIg=="'


def odata_error(code: str, message: str, *details: tuple[str, str]) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = [{"code": c, "message": m} for c, m in details]
    return {"error": error}


def bearer(token: str) -> Any:
    return matchers.header_matcher({"Authorization": f"Bearer {token}"})


def token_reply(rsps: responses.RequestsMock, token: str, expires_in: int = 180) -> None:
    rsps.post(TOKEN_URL, json={"access_token": token, "expires_in": expires_in,
                               "token_type": "Bearer", "refresh_token": "r", "id_token": "i"})


class FakeClock:
    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class StaticTokens:
    """A token provider that never calls IAM."""

    def __init__(self) -> None:
        self.invalidated: list[str] = []

    def get_token(self) -> str:
        return "tok-static"

    def invalidate(self, token: str) -> None:
        self.invalidated.append(token)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def r() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    yield client
    client.close()


@pytest.fixture
def tenant(r: redis.Redis) -> Iterator[str]:
    name = f"test-ifs-{uuid.uuid4().hex}"
    yield name
    for pattern in (f"mlc:ifs-token:{name}*", f"mlc:budget:{name}*"):
        for k in r.scan_iter(pattern):
            r.delete(k)


@pytest.fixture
def vault() -> Vault:
    return Vault([Secret(generate_key())])


def manager(cache: Any = None, clock: FakeClock | None = None, **kw: Any) -> IfsTokenManager:
    clock = clock or FakeClock()
    return IfsTokenManager(TOKEN_URL, "MLCONN_SYNC", Secret(SECRET), session=requests.Session(),
                           cache=cache if cache is not None else LocalTokenCache(clock),
                           clock=clock, sleep=clock.sleep, **kw)


def client(tokens: Any = None, **kw: Any) -> IfsODataClient:
    return IfsODataClient(BASE, tokens or StaticTokens(), session=requests.Session(), **kw)


# ---------------------------------------------------------------------------------------------
# OData helpers


def test_literals() -> None:
    assert odata_literal("O'Brien") == "'O''Brien'"
    assert odata_literal("") == "''"
    assert odata_literal(42) == "42"
    assert odata_literal(True) == "true"
    assert odata_literal(None) == "null"
    assert odata_literal(Decimal("84.50")) == "84.50"
    assert odata_literal(date(2025, 3, 14)) == "2025-03-14"
    assert odata_literal(datetime(2025, 3, 14, 9, 15, tzinfo=UTC)) == "2025-03-14T09:15:00Z"
    assert (odata_literal(ODataEnum("IfsApp.CustomerOrderHandling.CustomerOrderState", "Released"))
            == "IfsApp.CustomerOrderHandling.CustomerOrderState'Released'")
    with pytest.raises(ValueError):
        odata_literal(datetime(2025, 3, 14))  # naive


def test_key_formatting_and_escaping() -> None:
    assert odata_key(CustomerId="WC7-1042") == "(CustomerId='WC7-1042')"
    assert (odata_key(CustomerId="WC7-1042", AddressId="1")
            == "(CustomerId='WC7-1042',AddressId='1')")
    assert odata_key(OrderNo="C1", LineItemNo=0) == "(OrderNo='C1',LineItemNo=0)"
    assert odata_key(CustomerId="O'Brien") == "(CustomerId='O''Brien')"
    # characters that would change the path are percent-encoded
    assert odata_key(CustomerId="A/B #1?") == "(CustomerId='A%2FB%20%231%3F')"
    assert IfsODataClient.key(CustomerId="X") == "(CustomerId='X')"
    with pytest.raises(TypeError):
        odata_key(Flag=True)  # bools are not keys
    with pytest.raises(ValueError):
        odata_key()


def test_filter_eq() -> None:
    assert (filter_eq(Company="20", VoucherText2="bc:txn-88412")
            == "Company eq '20' and VoucherText2 eq 'bc:txn-88412'")
    assert filter_eq(Name="it's", Qty=3) == "Name eq 'it''s' and Qty eq 3"


# ---------------------------------------------------------------------------------------------
# Token manager


def test_token_request_is_a_client_credentials_form_post(rsps: responses.RequestsMock) -> None:
    rsps.post(TOKEN_URL, json={"access_token": "tok-1", "expires_in": 180},
              match=[matchers.urlencoded_params_matcher({
                  "grant_type": "client_credentials", "client_id": "MLCONN_SYNC",
                  "client_secret": SECRET, "scope": "openid microprofile-jwt"})])
    tm = manager()
    assert tm.get_token() == "tok-1"
    assert tm.get_token() == "tok-1"  # cached: one request
    assert len(rsps.calls) == 1


def test_token_refreshed_before_expiry_margin(rsps: responses.RequestsMock) -> None:
    token_reply(rsps, "tok-1", expires_in=180)
    token_reply(rsps, "tok-2", expires_in=180)
    clock = FakeClock()
    tm = manager(clock=clock, refresh_margin_s=45)
    assert tm.get_token() == "tok-1"
    clock.now += 134  # 46 s left: still fresh
    assert tm.get_token() == "tok-1"
    clock.now += 2  # 44 s left: inside the margin, renewed although still valid
    assert tm.get_token() == "tok-2"
    assert len(rsps.calls) == 2


def test_short_lived_token_margin_is_capped(rsps: responses.RequestsMock) -> None:
    token_reply(rsps, "tok-1", expires_in=30)  # shorter than the margin
    clock = FakeClock()
    tm = manager(clock=clock, refresh_margin_s=45)
    assert tm.get_token() == "tok-1"
    clock.now += 10
    assert tm.get_token() == "tok-1"  # not renewed on every call


@pytest.mark.parametrize("status", [400, 401])
def test_token_endpoint_rejection_is_auth_error_without_secret(
    rsps: responses.RequestsMock, status: int
) -> None:
    rsps.post(TOKEN_URL, status=status, json={
        "error": "invalid_client",
        "error_description": f"Invalid client secret {SECRET}"})  # even if IAM echoes it
    with pytest.raises(AuthError) as caught:
        manager().get_token()
    text = str(caught.value) + repr(caught.value.args)
    assert SECRET not in text
    assert "invalid_client" in text and "MLCONN_SYNC" in text
    assert caught.value.status == status
    assert not caught.value.retryable


def test_token_endpoint_5xx_is_transient(rsps: responses.RequestsMock) -> None:
    rsps.post(TOKEN_URL, status=503, body="upstream down")
    with pytest.raises(Transient) as caught:
        manager().get_token()
    assert caught.value.status == 503


def test_token_endpoint_unreachable_is_transient(rsps: responses.RequestsMock) -> None:
    rsps.post(TOKEN_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(Transient):
        manager().get_token()


def test_token_in_redis_is_encrypted_and_shared(
    rsps: responses.RequestsMock, r: redis.Redis, vault: Vault, tenant: str
) -> None:
    token_reply(rsps, "eyJ-very-secret-access-token")
    clock = FakeClock(time.time())
    worker_a = manager(RedisTokenCache(r, vault, tenant, clock=clock), clock=clock)
    other_process = redis.Redis.from_url(REDIS_URL)
    worker_b = manager(RedisTokenCache(other_process, vault, tenant, clock=clock), clock=clock)
    assert worker_a.get_token() == "eyJ-very-secret-access-token"
    assert worker_b.get_token() == "eyJ-very-secret-access-token"
    assert len(rsps.calls) == 1  # one IAM request for two workers

    raw = r.get(f"mlc:ifs-token:{tenant}")
    assert isinstance(raw, bytes) and b"eyJ-very-secret-access-token" not in raw
    assert "eyJ-very-secret-access-token" in vault.decrypt(raw.decode())
    assert 0 < r.pttl(f"mlc:ifs-token:{tenant}") <= 180_000  # expires with the token
    assert not r.exists(f"mlc:ifs-token:{tenant}:lock")  # lock released


def test_redis_invalidate_drops_only_the_current_token(
    rsps: responses.RequestsMock, r: redis.Redis, vault: Vault, tenant: str
) -> None:
    token_reply(rsps, "tok-1")
    token_reply(rsps, "tok-2")
    clock = FakeClock()
    worker_a = manager(RedisTokenCache(r, vault, tenant, clock=clock), clock=clock)
    worker_b = manager(RedisTokenCache(r, vault, tenant, clock=clock), clock=clock)
    assert worker_a.get_token() == "tok-1"
    worker_b.invalidate("tok-0")  # an older token: the current one stays
    assert worker_b.get_token() == "tok-1"
    worker_a.invalidate("tok-1")  # IFS rejected it
    assert worker_a.get_token() == "tok-2"
    # b still holds tok-1 in memory until IFS rejects it too; its late invalidation of the old
    # token keeps the new one, which it then picks up without asking IAM.
    worker_b.invalidate("tok-1")
    assert worker_b.get_token() == "tok-2"
    worker_c = manager(RedisTokenCache(r, vault, tenant, clock=clock), clock=clock)
    assert worker_c.get_token() == "tok-2"
    assert len(rsps.calls) == 2


def test_waits_for_the_process_holding_the_lock(
    rsps: responses.RequestsMock, r: redis.Redis, vault: Vault, tenant: str
) -> None:
    clock = FakeClock()
    cache = RedisTokenCache(r, vault, tenant, clock=clock)
    assert cache.try_lock(10) is not None  # another worker is renewing

    def other_worker_finishes(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now > 1_750_000_000.2:
            cache.store(CachedToken("tok-other", clock.now + 180, clock.now + 135))

    tm = IfsTokenManager(TOKEN_URL, "MLCONN_SYNC", Secret(SECRET), session=requests.Session(),
                         cache=cache, clock=clock, sleep=other_worker_finishes)
    assert tm.get_token() == "tok-other"
    assert len(rsps.calls) == 0  # no IAM request of our own


def test_uses_still_valid_token_while_another_renews(
    rsps: responses.RequestsMock, r: redis.Redis, vault: Vault, tenant: str
) -> None:
    clock = FakeClock()
    cache = RedisTokenCache(r, vault, tenant, clock=clock)
    cache.store(CachedToken("tok-old", clock.now + 30, clock.now - 1))  # due, still valid
    assert cache.try_lock(10) is not None
    tm = manager(cache, clock=clock)
    assert tm.get_token() == "tok-old"  # no wait, no request


def test_fetches_itself_when_the_lock_holder_is_gone(
    rsps: responses.RequestsMock, r: redis.Redis, vault: Vault, tenant: str
) -> None:
    token_reply(rsps, "tok-mine")
    clock = FakeClock()
    cache = RedisTokenCache(r, vault, tenant, clock=clock)
    assert cache.try_lock(10) is not None  # a worker that died mid-renewal
    tm = manager(cache, clock=clock, lock_wait_s=1.0)
    assert tm.get_token() == "tok-mine"
    assert clock.now - 1_750_000_000.0 >= 1.0  # waited (bounded) first


def test_unreadable_cached_token_is_renewed(
    rsps: responses.RequestsMock, r: redis.Redis, vault: Vault, tenant: str
) -> None:
    token_reply(rsps, "tok-new")
    r.set(f"mlc:ifs-token:{tenant}", "not-a-fernet-token", px=60_000)
    clock = FakeClock()
    tm = manager(RedisTokenCache(r, vault, tenant, clock=clock), clock=clock)
    assert tm.get_token() == "tok-new"
    assert b"tok-new" not in (r.get(f"mlc:ifs-token:{tenant}") or b"")  # overwritten, encrypted


# ---------------------------------------------------------------------------------------------
# OData client


def test_get_sends_bearer_and_json_headers_and_returns_etag(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{CUSTOMERS}(CustomerId='WC7-1042')",
             json={"@odata.etag": ETAG, "CustomerId": "WC7-1042", "Name": "Lena Ortiz"},
             match=[matchers.header_matcher({"Authorization": "Bearer tok-static",
                                             "Accept": "application/json"})])
    found = client().get("CustomerHandling", "CustomerInfoSet", {"CustomerId": "WC7-1042"})
    assert found == ({"@odata.etag": ETAG, "CustomerId": "WC7-1042", "Name": "Lena Ortiz"}, ETAG)
    assert "Content-Type" not in rsps.calls[0].request.headers


def test_get_404_is_none(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{CUSTOMERS}(CustomerId='NOPE')", status=404,
             json=odata_error("ODP_RESOURCE_NOTFOUND", "Not found"))
    assert client().get("CustomerHandling.svc", "CustomerInfoSet", "(CustomerId='NOPE')") is None


def test_401_reauthenticates_once_then_succeeds(rsps: responses.RequestsMock) -> None:
    token_reply(rsps, "tok-1")
    token_reply(rsps, "tok-2")
    rsps.get(f"{CUSTOMERS}(CustomerId='A')", status=401, match=[bearer("tok-1")])
    rsps.get(f"{CUSTOMERS}(CustomerId='A')", json={"CustomerId": "A"}, match=[bearer("tok-2")])
    c = client(manager())
    assert c.get("CustomerHandling", "CustomerInfoSet", c.key(CustomerId="A")) == (
        {"CustomerId": "A"}, None)
    assert [call.request.url for call in rsps.calls].count(TOKEN_URL) == 2


def test_second_401_is_auth_error(rsps: responses.RequestsMock) -> None:
    token_reply(rsps, "tok-1")
    token_reply(rsps, "tok-2")
    rsps.get(f"{CUSTOMERS}(CustomerId='A')", status=401, match=[bearer("tok-1")])
    rsps.get(f"{CUSTOMERS}(CustomerId='A')", status=401, match=[bearer("tok-2")])
    with pytest.raises(AuthError) as caught:
        client(manager()).get("CustomerHandling", "CustomerInfoSet", "(CustomerId='A')")
    assert caught.value.status == 401
    assert len(rsps.calls) == 4  # token, GET, token, GET — and no third try


def test_403_is_not_retried(rsps: responses.RequestsMock) -> None:
    tokens = StaticTokens()
    rsps.get(CUSTOMERS, status=403, json=odata_error("FORBIDDEN", "No access to company 30"))
    with pytest.raises(AuthError) as caught:
        list(client(tokens).query("CustomerHandling", "CustomerInfoSet"))
    assert caught.value.status == 403 and tokens.invalidated == []


def test_mi_modified_error_is_retried_once(rsps: responses.RequestsMock) -> None:
    mi = odata_error("MI_MODIFIED_ERROR", "The metadata has been modified.",
                     ("MI_MODIFIED_ERROR", "Reload"))
    rsps.post(CUSTOMERS, status=500, json=mi)
    rsps.post(CUSTOMERS, status=201, json={"@odata.etag": ETAG, "CustomerId": "WC7-1"})
    entity, etag = client().create("CustomerHandling", "CustomerInfoSet", {"Name": "Lena"})
    assert entity["CustomerId"] == "WC7-1" and etag == ETAG
    assert len(rsps.calls) == 2


def test_mi_modified_error_twice_is_transient(rsps: responses.RequestsMock) -> None:
    mi = odata_error("MI_MODIFIED_ERROR", "The metadata has been modified.")
    rsps.get(CUSTOMERS, status=500, json=mi)
    rsps.get(CUSTOMERS, status=500, json=mi)
    with pytest.raises(Transient) as caught:
        list(client().query("CustomerHandling", "CustomerInfoSet"))
    assert caught.value.code == "MI_MODIFIED_ERROR" and caught.value.status == 500
    assert len(rsps.calls) == 2


def test_business_500_is_data_error_with_detail_message(rsps: responses.RequestsMock) -> None:
    rsps.post(f"{SVC}/CustomerOrderHandling.svc/CustomerOrderSet", status=500, json=odata_error(
        "DATABASE_ERROR", "Database error", ("CUSTNOTEXIST", "Customer WC7-9 does not exist.")))
    with pytest.raises(DataError) as caught:
        client().create("CustomerOrderHandling", "CustomerOrderSet", {"CustomerNo": "WC7-9"})
    assert "Customer WC7-9 does not exist." in str(caught.value)
    assert caught.value.status == 500 and caught.value.code == "CUSTNOTEXIST"
    assert not caught.value.retryable
    assert len(rsps.calls) == 1


def test_plain_500_is_transient_and_not_retried(rsps: responses.RequestsMock) -> None:
    rsps.get(CUSTOMERS, status=500, body="<html>Internal error</html>")
    with pytest.raises(Transient) as caught:
        list(client().query("CustomerHandling", "CustomerInfoSet"))
    assert caught.value.status == 500 and caught.value.retryable
    assert len(rsps.calls) == 1


def test_400_is_data_error(rsps: responses.RequestsMock) -> None:
    rsps.post(CUSTOMERS, status=400, json=odata_error(
        "ODP_DESERIALIZATION_ERROR", "Could not read the request body"))
    with pytest.raises(DataError) as caught:
        client().create("CustomerHandling", "CustomerInfoSet", {"Name": "x"})
    assert caught.value.code == "ODP_DESERIALIZATION_ERROR"
    assert not isinstance(caught.value, NotFound)


def test_429_is_rate_limited_with_retry_after(rsps: responses.RequestsMock) -> None:
    rsps.get(CUSTOMERS, status=429, headers={"Retry-After": "7"},
             json={"message": "Too Many Requests"})
    with pytest.raises(RateLimited) as caught:
        list(client().query("CustomerHandling", "CustomerInfoSet"))
    assert caught.value.retry_after == 7.0 and caught.value.status == 429


def test_transport_failure_is_transient(rsps: responses.RequestsMock) -> None:
    rsps.get(CUSTOMERS, body=requests.ReadTimeout("slow"))
    with pytest.raises(Transient):
        list(client().query("CustomerHandling", "CustomerInfoSet"))


def test_patch_always_sends_if_match(rsps: responses.RequestsMock) -> None:
    new_etag = 'W/"bmV3"'
    rsps.patch(f"{CUSTOMERS}(CustomerId='WC7-1')",
               json={"@odata.etag": new_etag, "CustomerId": "WC7-1", "Name": "New"},
               match=[matchers.header_matcher({"If-Match": ETAG,
                                               "Content-Type": "application/json"}),
                      matchers.json_params_matcher({"Name": "New"})])
    c = client()
    entity, etag = c.patch("CustomerHandling", f"CustomerInfoSet{c.key(CustomerId='WC7-1')}",
                           {"Name": "New"}, ETAG)
    assert etag == new_etag and entity["Name"] == "New"
    with pytest.raises(ValueError):
        c.patch("CustomerHandling", "CustomerInfoSet(CustomerId='WC7-1')", {"Name": "x"}, "")


def test_patch_204_takes_etag_from_header(rsps: responses.RequestsMock) -> None:
    rsps.patch(f"{CUSTOMERS}(CustomerId='WC7-1')", status=204, headers={"ETag": 'W/"x"'})
    assert client().patch("CustomerHandling", "CustomerInfoSet(CustomerId='WC7-1')",
                          {"Name": "x"}, ETAG) == ({}, 'W/"x"')


def test_412_is_conflict(rsps: responses.RequestsMock) -> None:
    rsps.patch(f"{CUSTOMERS}(CustomerId='WC7-1')", status=412,
               json=odata_error("ODP_PRECONDITION_FAILED", "The ETag does not match"))
    with pytest.raises(Conflict) as caught:
        client().patch("CustomerHandling", "CustomerInfoSet(CustomerId='WC7-1')",
                       {"Name": "x"}, ETAG)
    assert caught.value.status == 412 and caught.value.retryable


def test_create_sends_json_with_exact_amounts(rsps: responses.RequestsMock) -> None:
    rsps.post(f"{SVC}/CustomerOrderHandling.svc/CustomerOrderSet(OrderNo='C1')/OrderLinesArray",
              status=201, json={"OrderNo": "C1", "LineNo": "1"},
              match=[matchers.header_matcher({"Content-Type": "application/json"})])
    client().create("CustomerOrderHandling", "CustomerOrderSet(OrderNo='C1')/OrderLinesArray",
                    {"CatalogNo": "SKU-1", "SaleUnitPrice": Decimal("19.90"),
                     "WantedDeliveryDate": date(2025, 3, 14)})
    sent = json.loads(rsps.calls[0].request.body or b"")
    assert sent == {"CatalogNo": "SKU-1", "SaleUnitPrice": 19.9,
                    "WantedDeliveryDate": "2025-03-14"}


def test_create_expects_201(rsps: responses.RequestsMock) -> None:
    rsps.post(CUSTOMERS, status=200, json={"CustomerId": "X"})
    with pytest.raises(DataError):
        client().create("CustomerHandling", "CustomerInfoSet", {"Name": "x"})


def test_action_with_etag(rsps: responses.RequestsMock) -> None:
    rsps.post(f"{SVC}/CustomerOrderHandling.svc/CustomerOrderSet(OrderNo='C1')"
              "/IfsApp.CustomerOrderHandling.CustomerOrder_Release",
              status=204, match=[matchers.header_matcher({"If-Match": ETAG})])
    assert client().action("CustomerOrderHandling",
                           "CustomerOrderSet(OrderNo='C1')"
                           "/IfsApp.CustomerOrderHandling.CustomerOrder_Release",
                           etag=ETAG) == {}


def _query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_query_follows_next_link_verbatim(rsps: responses.RequestsMock) -> None:
    rsps.get(CUSTOMERS, json={
        "value": [{"CustomerId": "A"}, {"CustomerId": "B"}],
        "@odata.nextLink": f"{CUSTOMERS}?$filter=Country%20eq%20'SE'&$skiptoken=2"},
        match=[matchers.query_param_matcher({"$filter": "Country eq 'SE'",
                                             "$select": "CustomerId,Name"})])
    rsps.get(CUSTOMERS, json={
        "value": [{"CustomerId": "C"}],
        "@odata.nextLink": "CustomerInfoSet?$skiptoken=3"},  # relative: resolved, kept verbatim
        match=[matchers.query_param_matcher({"$filter": "Country eq 'SE'", "$skiptoken": "2"})])
    rsps.get(CUSTOMERS, json={"value": [{"CustomerId": "D"}]},
             match=[matchers.query_param_matcher({"$skiptoken": "3"})])
    rows = client().query("CustomerHandling", "CustomerInfoSet",
                          filter=filter_eq(Country="SE"), select=["CustomerId", "Name"])
    assert [row["CustomerId"] for row in rows] == ["A", "B", "C", "D"]
    first = rsps.calls[0].request
    assert "%24filter" not in (first.url or "") and "+" not in (first.url or "")
    assert first.headers["Prefer"] == "odata.maxpagesize=1000"


def test_query_detects_next_link_loop(rsps: responses.RequestsMock) -> None:
    rsps.get(CUSTOMERS, json={"value": [{"CustomerId": "A"}],
                              "@odata.nextLink": f"{CUSTOMERS}?$skiptoken=1"})
    rsps.get(CUSTOMERS, json={"value": [{"CustomerId": "B"}],
                              "@odata.nextLink": f"{CUSTOMERS}?$skiptoken=1"},
             match=[matchers.query_param_matcher({"$skiptoken": "1"})])
    seen: list[str] = []
    with pytest.raises(Transient) as caught:
        for row in client().query("CustomerHandling", "CustomerInfoSet"):
            seen.append(row["CustomerId"])
    assert seen == ["A", "B"]
    assert caught.value.code == "NEXTLINK_LOOP"
    assert len(rsps.calls) == 2


def test_query_top_is_capped_by_page_size(rsps: responses.RequestsMock) -> None:
    c = client(page_size=10_000)
    assert c.page_size == 4999
    rsps.get(CUSTOMERS, json={"value": [{"CustomerId": "A"}]},
             match=[matchers.query_param_matcher({"$top": "1", "$orderby": "CustomerId"})])
    assert list(c.query("CustomerHandling", "CustomerInfoSet", orderby="CustomerId", top=1)) == [
        {"CustomerId": "A"}]
    with pytest.raises(ValueError):
        list(c.query("CustomerHandling", "CustomerInfoSet", top=5000))


def test_budget_is_drawn_per_request(
    rsps: responses.RequestsMock, r: redis.Redis, tenant: str
) -> None:
    budget = RedisBudget(r, f"{tenant}:ifs", rate_per_min=60, burst=1)
    rsps.get(f"{CUSTOMERS}(CustomerId='A')", json={"CustomerId": "A"})
    c = client(budget=budget)
    assert c.get("CustomerHandling", "CustomerInfoSet", {"CustomerId": "A"}) is not None
    with pytest.raises(RateLimited) as caught:
        c.get("CustomerHandling", "CustomerInfoSet", {"CustomerId": "A"})
    assert caught.value.retry_after is not None and caught.value.retry_after > 0
    assert len(rsps.calls) == 1  # the second request never left


def _batch_answer(boundary: str, parts: list[tuple[str, int, dict[str, Any]]]) -> str:
    lines = [f"--{boundary}", "Content-Type: multipart/mixed; boundary=cs_r", ""]
    for cid, status, body in parts:
        lines += ["--cs_r", "Content-Type: application/http", f"Content-ID: {cid}", "",
                  f"HTTP/1.1 {status} Created", "Content-Type: application/json", "",
                  json.dumps(body)]
    lines += ["--cs_r--", f"--{boundary}--", ""]
    return "\r\n".join(lines)


def test_batch_sends_one_changeset(rsps: responses.RequestsMock) -> None:
    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        assert request.headers["Content-Type"].startswith("multipart/mixed; boundary=batch_")
        body = request.body.decode()
        assert "POST CustomerOrderSet HTTP/1.1" in body
        assert "POST $1/OrderLinesArray HTTP/1.1" in body
        return 200, {"Content-Type": "multipart/mixed; boundary=b_r"}, _batch_answer(
            "b_r", [("1", 201, {"OrderNo": "C7"}), ("2", 201, {"LineNo": "1"})])

    rsps.add_callback("POST", f"{SVC}/CustomerOrderHandling.svc/$batch", callback=reply)
    answers = client().batch("CustomerOrderHandling", [
        BatchRequest("POST", "CustomerOrderSet", {"CustomerNo": "WC7-1"}),
        BatchRequest("POST", "$1/OrderLinesArray", {"CatalogNo": "SKU-1"}),
    ])
    assert [(a.status, a.body) for a in answers] == [(201, {"OrderNo": "C7"}),
                                                     (201, {"LineNo": "1"})]


def test_batch_failed_changeset_raises(rsps: responses.RequestsMock) -> None:
    answer = "\r\n".join([
        "--b_r", "Content-Type: application/http", "Content-ID: 2", "",
        "HTTP/1.1 500 Internal Server Error", "Content-Type: application/json", "",
        json.dumps(odata_error("DATABASE_ERROR", "Database error",
                               ("CATNOTEXIST", "Sales part SKU-9 does not exist."))),
        "--b_r--", ""])
    rsps.post(f"{SVC}/CustomerOrderHandling.svc/$batch", body=answer,
              content_type="multipart/mixed; boundary=b_r")
    with pytest.raises(DataError) as caught:
        client().batch("CustomerOrderHandling", [
            BatchRequest("POST", "CustomerOrderSet", {"CustomerNo": "WC7-1"}),
            BatchRequest("POST", "$1/OrderLinesArray", {"CatalogNo": "SKU-9"}),
        ])
    assert "SKU-9 does not exist" in str(caught.value)


ORDER_BATCH = [BatchRequest("POST", "CustomerOrderSet", {"CustomerNo": "WC7-1"}),
               BatchRequest("POST", "$1/OrderLinesArray", {"CatalogNo": "SKU-1"})]


def test_batch_asks_for_multipart(rsps: responses.RequestsMock) -> None:
    # Issue 13, seen 5: every request, $batch included, sent Accept: application/json.
    rsps.post(f"{SVC}/CustomerOrderHandling.svc/$batch",
              body=_batch_answer("b_r", [("1", 201, {"OrderNo": "C7"}),
                                         ("2", 201, {"LineNo": "1"})]),
              content_type="multipart/mixed; boundary=b_r",
              match=[matchers.header_matcher({"Accept": "multipart/mixed"})])
    assert len(client().batch("CustomerOrderHandling", ORDER_BATCH)) == 2


def test_batch_reads_a_json_batch_answer(rsps: responses.RequestsMock) -> None:
    # OData 4.01 JSON batch format (SAP CAP, ASP.NET Core OData answer it).
    rsps.post(f"{SVC}/CustomerOrderHandling.svc/$batch", json={"responses": [
        {"id": "1", "status": 201, "atomicityGroup": "g1",
         "headers": {"content-type": "application/json", "etag": ETAG},
         "body": {"OrderNo": "C7"}},
        {"id": "2", "status": 201, "atomicityGroup": "g1", "body": {"LineNo": "1"}},
    ]})
    answers = client().batch("CustomerOrderHandling", ORDER_BATCH)
    assert [(a.status, a.body, a.content_id) for a in answers] == [
        (201, {"OrderNo": "C7"}, "1"), (201, {"LineNo": "1"}, "2")]
    assert answers[0].etag == ETAG


def test_a_json_batch_error_reaches_the_caller_with_the_servers_message(
        rsps: responses.RequestsMock) -> None:
    rsps.post(f"{SVC}/CustomerOrderHandling.svc/$batch", json={"responses": [
        {"id": "2", "status": 400, "atomicityGroup": "g1",
         "body": odata_error("CATNOTEXIST", "Sales part SKU-9 does not exist.")}]})
    with pytest.raises(DataError) as caught:
        client().batch("CustomerOrderHandling", ORDER_BATCH)
    assert "SKU-9 does not exist" in str(caught.value)
    assert not caught.value.retryable


def test_an_unreadable_batch_answer_is_outcome_unknown(rsps: responses.RequestsMock) -> None:
    from connector.errors import OutcomeUnknown

    rsps.post(f"{SVC}/CustomerOrderHandling.svc/$batch", body="<html>proxy page</html>",
              content_type="text/html")
    with pytest.raises(OutcomeUnknown) as caught:
        client().batch("CustomerOrderHandling", ORDER_BATCH)
    assert caught.value.retryable and caught.value.outcome_unknown


def test_a_connection_dropped_after_a_write_is_outcome_unknown(
        rsps: responses.RequestsMock) -> None:
    from connector.errors import OutcomeUnknown

    rsps.post(CUSTOMERS, body=requests.exceptions.ChunkedEncodingError("connection reset"))
    with pytest.raises(OutcomeUnknown):
        client().create("CustomerHandling", "CustomerInfoSet", {"Name": "x"})
    rsps.get(f"{CUSTOMERS}(CustomerId='A')", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(Transient) as caught:  # a read: simply transient
        client().get("CustomerHandling", "CustomerInfoSet", {"CustomerId": "A"})
    assert not isinstance(caught.value, OutcomeUnknown)


def test_a_relative_next_link_on_a_navigation_path_resolves_against_the_service_root(
        rsps: responses.RequestsMock) -> None:
    # Issue 13, seen 6: resolved against the request URL, the path was doubled (404).
    lines = f"{SVC}/CustomerOrderHandling.svc/CustomerOrderSet(OrderNo='C1')/OrderLinesArray"
    rsps.get(lines, json={
        "@odata.context": "$metadata#CustomerOrderSet('C1')/OrderLinesArray",
        "value": [{"LineNo": "1"}],
        "@odata.nextLink": "CustomerOrderSet(OrderNo='C1')/OrderLinesArray?$skiptoken=1"})
    rsps.get(lines, json={"value": [{"LineNo": "2"}]},
             match=[matchers.query_param_matcher({"$skiptoken": "1"})])
    rows = client().query("CustomerOrderHandling", "CustomerOrderSet(OrderNo='C1')/OrderLinesArray")
    assert [r["LineNo"] for r in rows] == ["1", "2"]


# ---------------------------------------------------------------------------------------------
# Voucher wizard

WIZARD = f"{SVC}/VoucherEntryAssistantHandling.svc"
TEMP = f"{WIZARD}/VoucherSet(Objkey='K7F2')"
CREATE = f"{TEMP}/IfsApp.VoucherEntryAssistantHandling.VoucherEntry_CreateVoucher"
REMOVE = f"{TEMP}/IfsApp.VoucherEntryAssistantHandling.VoucherEntry_RemoveTempVoucher"
ROWS_SET = f"{SVC}/VoucherRowsAnalysis.svc/VoucherRowSet"


def plan(*rows: VoucherRow) -> VoucherPlan:
    return VoucherPlan(
        company="20", voucher_type="M", voucher_date=date(2025, 3, 14), currency="SEK",
        text="bc:txn-88412",
        rows=list(rows) or [
            VoucherRow("1930", debit=Decimal("84.50"), codes={"B": "100"}, text="Payout"),
            VoucherRow("3001", credit=Decimal("67.60"), codes={"CodeC": "WEB"}),
            VoucherRow("2611", credit=Decimal("16.90"), tax_code="MP1"),
        ],
    )


def test_unbalanced_voucher_rejected_before_any_call(rsps: responses.RequestsMock) -> None:
    unbalanced = plan(VoucherRow("1930", debit=Decimal("84.50")),
                      VoucherRow("3001", credit=Decimal("84.49")))
    with pytest.raises(DataError) as caught:
        VoucherWizard(client()).create(unbalanced)
    assert caught.value.code == "VOUCHER_UNBALANCED"
    with pytest.raises(DataError):
        VoucherWizard(client()).ensure(unbalanced)
    assert len(rsps.calls) == 0


def test_voucher_rows_are_validated() -> None:
    for bad in (
        plan(VoucherRow("1930", debit=Decimal("1"), credit=Decimal("1"))),
        plan(VoucherRow("1930", debit=Decimal("-1")), VoucherRow("3001", credit=Decimal("-1"))),
        plan(VoucherRow("1930"), VoucherRow("3001")),
        plan(VoucherRow("", debit=Decimal("1")), VoucherRow("3001", credit=Decimal("1"))),
        plan(VoucherRow("1930", debit=Decimal("1"), codes={"Z": "x"}),
             VoucherRow("3001", credit=Decimal("1"))),
        plan(VoucherRow("1930", debit=1.5),  # type: ignore[arg-type]  # floats refused
             VoucherRow("3001", credit=1.5)),  # type: ignore[arg-type]
    ):
        with pytest.raises(DataError):
            bad.validate()


def test_voucher_created_through_the_wizard(rsps: responses.RequestsMock) -> None:
    rsps.post(f"{WIZARD}/VoucherSet", status=201, json={"Objkey": "K7F2"},
              match=[matchers.json_params_matcher({
                  "Company": "20", "VoucherType": "M", "VoucherDate": "2025-03-14",
                  "CurrencyCode": "SEK", "VoucherText2": "bc:txn-88412"})])
    for row in (
        {"Account": "1930", "DebetAmount": 84.5, "CodeB": "100", "Text": "Payout"},
        {"Account": "3001", "CreditAmount": 67.6, "CodeC": "WEB"},
        {"Account": "2611", "CreditAmount": 16.9, "OptionalCode": "MP1"},
    ):
        rsps.post(f"{TEMP}/VoucherPostingArray", status=201, json={**row, "Objkey": "r"},
                  match=[matchers.json_params_matcher(row)])
    rsps.post(CREATE, json={"value": 25000317},
              match=[matchers.header_matcher({"If-Match": "*"})])
    assert VoucherWizard(client()).create(plan()) == 25000317


def test_temp_voucher_removed_on_failure(rsps: responses.RequestsMock) -> None:
    rsps.post(f"{WIZARD}/VoucherSet", status=201, json={"Objkey": "K7F2"})
    rsps.post(f"{TEMP}/VoucherPostingArray", status=201, json={"Account": "1930"})
    rsps.post(f"{TEMP}/VoucherPostingArray", status=500, json=odata_error(
        "DATABASE_ERROR", "Database error", ("ACCNOTEXIST", "Account 3001 does not exist.")))
    rsps.post(REMOVE, status=204)
    with pytest.raises(DataError) as caught:
        VoucherWizard(client()).create(plan())
    assert "Account 3001 does not exist." in str(caught.value)
    assert rsps.calls[-1].request.url == REMOVE


def test_failed_removal_does_not_hide_the_error(rsps: responses.RequestsMock) -> None:
    rsps.post(f"{WIZARD}/VoucherSet", status=201, json={"Objkey": "K7F2"})
    for _ in range(3):
        rsps.post(f"{TEMP}/VoucherPostingArray", status=201, json={})
    rsps.post(CREATE, status=500, json=odata_error(
        "DATABASE_ERROR", "Database error", ("PERIODCLOSED", "Period 2025-03 is closed.")))
    rsps.post(REMOVE, status=503)
    with pytest.raises(DataError) as caught:
        VoucherWizard(client()).create(plan())
    assert "Period 2025-03 is closed." in str(caught.value)


def test_find_voucher_by_text(rsps: responses.RequestsMock) -> None:
    rsps.get(ROWS_SET, json={"value": [
        {"Company": "20", "VoucherType": "M", "AccountingYear": 2025, "VoucherNo": 25000317}]},
        match=[matchers.query_param_matcher({
            "$filter": "Company eq '20' and VoucherText2 eq 'bc:txn-88412'",
            "$select": "Company,VoucherType,AccountingYear,VoucherNo"})])
    rsps.get(ROWS_SET, json={"value": []})
    wizard = VoucherWizard(client())
    assert wizard.find_voucher_by_text("20", "bc:txn-88412") == 25000317
    assert wizard.find_voucher_by_text("20", "bc:txn-none") is None


def test_ensure_does_not_post_twice(rsps: responses.RequestsMock) -> None:
    rsps.get(ROWS_SET, json={"value": [{"VoucherNo": 25000317}]})
    assert VoucherWizard(client()).ensure(plan()) == (25000317, False)
    assert len(rsps.calls) == 1
