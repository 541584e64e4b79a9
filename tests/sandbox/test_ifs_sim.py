"""The IFS Cloud simulator over real HTTP: plain ``requests`` against a ``ServerThread``.

Each test states one behaviour of ``reference/ifs-cloud.md`` (and its "Decisions for this
project") and would fail if the simulator stopped doing it.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.common import ServerThread
from sandbox.ifs import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REALM,
    IfsConfig,
    IfsSimulator,
)
from sandbox.ifs.batch import BatchResponse, parse_batch_response
from sandbox.ifs.odata import format_key_value, parse_filter, parse_key_literal

OTHER_ID, OTHER_SECRET = "OTHER_CO", "other-secret"  # an IAM client allowed only company 20
ROOT = "/main/ifsapplications/projection/v1"
CUST = f"{ROOT}/CustomerHandling.svc"
ORD = f"{ROOT}/CustomerOrderHandling.svc"
VEA = f"{ROOT}/VoucherEntryAssistantHandling.svc"
VRA = f"{ROOT}/VoucherRowsAnalysis.svc"
TOKEN_PATH = f"/auth/realms/{DEFAULT_REALM}/protocol/openid-connect/token"
CREATE_VOUCHER = "IfsApp.VoucherEntryAssistantHandling.VoucherEntry_CreateVoucher"
REMOVE_VOUCHER = "IfsApp.VoucherEntryAssistantHandling.VoucherEntry_RemoveTempVoucher"


class Ifs:
    """A thin test client: token handling, projection calls and admin calls."""

    def __init__(self, sim: IfsSimulator, url: str) -> None:
        self.sim = sim
        self.url = url
        self.http = requests.Session()
        self.bearer = self.token()

    def token(self, client_id: str = DEFAULT_CLIENT_ID, secret: str = DEFAULT_CLIENT_SECRET) -> str:
        resp = self.http.post(
            self.url + TOKEN_PATH,
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "scope": "openid microprofile-jwt",
            },
        )
        assert resp.status_code == 200, resp.text
        return str(resp.json()["access_token"])

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        bearer: str | None = None,
        data: Any = None,
    ) -> requests.Response:
        hdrs = {"Authorization": f"Bearer {bearer or self.bearer}", "Accept": "application/json"}
        hdrs.update(headers or {})
        url = path if path.startswith("http") else self.url + path
        return self.http.request(
            method, url, json=json_body, headers=hdrs, params=params, data=data, timeout=10
        )

    def admin(self, method: str, path: str, body: Any = None) -> requests.Response:
        return self.http.request(method, f"{self.url}/_sandbox{path}", json=body, timeout=10)

    def create_customer(self, customer_id: str, **fields: Any) -> dict[str, Any]:
        body = {"CustomerId": customer_id, "Name": f"Customer {customer_id}", "Country": "SE"}
        body.update(fields)
        resp = self.call("POST", f"{CUST}/CustomerInfoSet", json_body=body)
        assert resp.status_code == 201, resp.text
        return dict(resp.json())

    def create_order(self, customer_id: str, **fields: Any) -> dict[str, Any]:
        body = {"CustomerNo": customer_id, "Contract": "S1", "CustomerPoNo": f"wc:{uuid.uuid4()}"}
        body.update(fields)
        resp = self.call("POST", f"{ORD}/CustomerOrderSet", json_body=body)
        assert resp.status_code == 201, resp.text
        return dict(resp.json())


def assert_odata_error(
    resp: requests.Response, status: int, code: str | None = None, detail: str | None = None
) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == {"code", "message", "details"}
    assert isinstance(err["message"], str) and err["message"]
    assert len(err["details"]) == 1 and set(err["details"][0]) == {"code", "message"}
    if code is not None:
        assert err["code"] == code
    if detail is not None:
        assert err["details"][0]["code"] == detail
    return dict(err)


def decode_etag(etag: str) -> tuple[str, str]:
    m = re.fullmatch(r'W/"([A-Za-z0-9+/=]+)"', etag)
    assert m, etag
    inner = base64.b64decode(m.group(1)).decode("ascii")
    m2 = re.fullmatch(r'W/"([A-Za-z0-9+/]{18}):(\d{14})"', inner)
    assert m2, inner
    return m2.group(1), m2.group(2)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[IfsSimulator, ServerThread]]:
    config = IfsConfig(
        clients={
            DEFAULT_CLIENT_ID: {"secret": DEFAULT_CLIENT_SECRET, "companies": ["10", "20"]},
            OTHER_ID: {"secret": OTHER_SECRET, "companies": ["20"]},
        }
    )
    sim = IfsSimulator(config)
    srv = ServerThread(sim.app).start()
    yield sim, srv
    srv.stop()


@pytest.fixture
def ifs(server: tuple[IfsSimulator, ServerThread]) -> Ifs:
    sim, srv = server
    assert requests.post(srv.url + "/_sandbox/reset", timeout=10).status_code == 200
    return Ifs(sim, srv.url)


# ---------------------------------------------------------------------------------------------
# 1. OAuth2 client credentials and token expiry
# ---------------------------------------------------------------------------------------------


def test_token_endpoint_issues_keycloak_style_tokens(ifs: Ifs) -> None:
    resp = ifs.http.post(
        ifs.url + TOKEN_PATH,
        data={
            "grant_type": "client_credentials",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "scope": "openid microprofile-jwt",
        },
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 180
    for name in ("access_token", "refresh_token", "id_token"):
        assert body[name].count(".") == 2
    payload = json.loads(base64.urlsafe_b64decode(body["access_token"].split(".")[1] + "=="))
    assert payload["azp"] == DEFAULT_CLIENT_ID and payload["exp"] - payload["iat"] == 180

    # client_secret_basic works as well (requests-oauthlib sends credentials that way)
    basic = ifs.http.post(
        ifs.url + TOKEN_PATH,
        data={"grant_type": "client_credentials"},
        auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
    )
    assert basic.status_code == 200
    # refresh_token grant
    refreshed = ifs.http.post(
        ifs.url + TOKEN_PATH,
        data={
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
        },
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["access_token"] != body["access_token"]


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_id": DEFAULT_CLIENT_ID, "client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "NOBODY", "client_secret": DEFAULT_CLIENT_SECRET}, 401, "invalid_client"),
        (
            {
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET,
                "grant_type": "password",
            },
            400,
            "unsupported_grant_type",
        ),
    ],
)
def test_token_endpoint_rejects_bad_clients_and_grants(
    ifs: Ifs, form: dict[str, str], status: int, error: str
) -> None:
    data = {"grant_type": "client_credentials", **form}
    resp = ifs.http.post(ifs.url + TOKEN_PATH, data=data)
    assert resp.status_code == status
    assert resp.json()["error"] == error
    assert "access_token" not in resp.json()


def test_unknown_realm_is_404(ifs: Ifs) -> None:
    resp = ifs.http.post(
        ifs.url + "/auth/realms/other/protocol/openid-connect/token",
        data={"grant_type": "client_credentials"},
        auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
    )
    assert resp.status_code == 404


def test_token_expires_by_simulator_clock_and_can_be_revoked(ifs: Ifs) -> None:
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet").status_code == 200
    ifs.admin("POST", "/clock", {"advance_s": 179})
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet").status_code == 200
    ifs.admin("POST", "/clock", {"advance_s": 21})
    expired = ifs.call("GET", f"{CUST}/CustomerInfoSet")
    assert_odata_error(expired, 401)
    assert "invalid_token" in expired.headers["WWW-Authenticate"]
    # no token / garbage token → 401 on every projection call, writes included
    assert ifs.http.get(ifs.url + f"{CUST}/CustomerInfoSet").status_code == 401
    assert (
        ifs.call("POST", f"{ORD}/CustomerOrderSet", json_body={}, bearer="junk").status_code == 401
    )

    ifs.bearer = ifs.token()
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet").status_code == 200
    revoked = ifs.admin("POST", "/ifs/tokens/revoke").json()
    assert revoked["revoked"] >= 1
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet").status_code == 401


# ---------------------------------------------------------------------------------------------
# 2. Company scoping
# ---------------------------------------------------------------------------------------------


def test_company_scoping_hides_and_rejects_other_companies(ifs: Ifs) -> None:
    ifs.create_customer("CO10-1", Company="10")
    ifs.create_customer("CO20-1", Company="20")
    other = ifs.token(OTHER_ID, OTHER_SECRET)  # allowed company 20 only

    listed = ifs.call("GET", f"{CUST}/CustomerInfoSet", bearer=other).json()["value"]
    assert [c["CustomerId"] for c in listed] == ["CO20-1"]
    hidden = ifs.call("GET", f"{CUST}/CustomerInfoSet(CustomerId='CO10-1')", bearer=other)
    assert_odata_error(hidden, 404, "ODP_RESOURCE_NOTFOUND")
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet(CustomerId='CO10-1')").status_code == 200

    forbidden = ifs.call(
        "POST",
        f"{CUST}/CustomerInfoSet",
        json_body={"CustomerId": "X-1", "Name": "X", "Country": "SE", "Company": "10"},
        bearer=other,
    )
    assert_odata_error(forbidden, 403)
    # orders follow the site: S1 belongs to company 10
    order_other = ifs.call(
        "POST",
        f"{ORD}/CustomerOrderSet",
        json_body={"CustomerNo": "CO20-1", "Contract": "S1"},
        bearer=other,
    )
    assert_odata_error(order_other, 403)
    # a customer of company 20 does not exist for an order at a company-10 site
    wrong_company = ifs.call(
        "POST", f"{ORD}/CustomerOrderSet", json_body={"CustomerNo": "CO20-1", "Contract": "S1"}
    )
    assert_odata_error(wrong_company, 500, "DATABASE_ERROR", "CUSTNOTEXIST")
    unknown_site = ifs.call(
        "POST", f"{ORD}/CustomerOrderSet", json_body={"CustomerNo": "CO10-1", "Contract": "S9"}
    )
    assert_odata_error(unknown_site, 500, "DATABASE_ERROR", "SITE_NOT_EXIST")

    order = ifs.create_order("CO10-1", Contract="S1")
    assert order["Company"] == "10"
    assert ifs.call("GET", f"{ORD}/CustomerOrderSet", bearer=other).json()["value"] == []
    ifs.create_order("CO20-1", Contract="S2")
    assert [o["Company"] for o in ifs.sim.orders()] == ["10", "20"]
    assert len(ifs.sim.orders("20")) == 1
    assert [c["CustomerId"] for c in ifs.sim.customers("10")] == ["CO10-1"]
    assert len(ifs.call("GET", f"{ORD}/CustomerOrderSet", bearer=other).json()["value"]) == 1


# ---------------------------------------------------------------------------------------------
# 3. Customers, keys, content negotiation, errors
# ---------------------------------------------------------------------------------------------


def test_customer_create_returns_full_entity_and_reads_back(ifs: Ifs) -> None:
    resp = ifs.call(
        "POST",
        f"{CUST}/CustomerInfoSet",
        json_body={"CustomerId": "WC7-1042", "Name": "Lena Ortiz", "Country": "SE"},
    )
    assert resp.status_code == 201
    body = resp.json()
    assert body["luname"] == "CustomerInfo"
    assert body["keyref"] == "CUSTOMER_ID=WC7-1042^"
    assert body["Objgrants"] is None
    assert body["Name"] == "Lena Ortiz" and body["Company"] == "10"
    assert body["CreationDate"] == ifs.admin("GET", "/clock").json()["now"][:10]
    assert resp.headers["ETag"] == body["@odata.etag"]
    assert resp.headers["Location"].endswith("CustomerInfoSet(CustomerId='WC7-1042')")

    got = ifs.call("GET", f"{CUST}/CustomerInfoSet(CustomerId='WC7-1042')")
    assert got.status_code == 200 and got.json()["Name"] == "Lena Ortiz"
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet('WC7-1042')").status_code == 200

    auto = ifs.call("POST", f"{CUST}/CustomerInfoSet", json_body={"Name": "Auto", "Country": "NO"})
    assert auto.status_code == 201 and auto.json()["CustomerId"]
    assert len(ifs.sim.customers()) == 2


def test_customer_validation_errors(ifs: Ifs) -> None:
    ifs.create_customer("DUP-1")
    path = f"{CUST}/CustomerInfoSet"
    assert_odata_error(
        ifs.call("POST", path, json_body={"CustomerId": "V-1", "Country": "SE"}),
        500,
        "DATABASE_ERROR",
        "MANDATORY",
    )
    assert_odata_error(
        ifs.call("POST", path, json_body={"CustomerId": "V-1", "Name": "N", "Country": "Sweden"}),
        500,
        detail="COUNTRY_NOT_EXIST",
    )
    assert_odata_error(
        ifs.call("POST", path, json_body={"CustomerId": "V" * 21, "Name": "N", "Country": "SE"}),
        500,
        detail="VALUE_TOO_LONG",
    )
    assert_odata_error(
        ifs.call("POST", path, json_body={"CustomerId": "DUP-1", "Name": "N", "Country": "SE"}),
        500,
        detail="RECORD_EXIST",
    )
    assert_odata_error(
        ifs.call(
            "POST", path, json_body={"CustomerId": "V-1", "Name": "N", "Country": "SE", "Nope": 1}
        ),
        400,
        "ODP_DESERIALIZATION_ERROR",
    )
    assert_odata_error(
        ifs.call("POST", path, json_body={"CustomerId": "V-1", "Name": 5, "Country": "SE"}),
        400,
        "ODP_DESERIALIZATION_ERROR",
    )
    # writes without Content-Type: application/json
    form = ifs.call("POST", path, data={"CustomerId": "V-1", "Name": "N", "Country": "SE"})
    assert_odata_error(form, 400, "ODP_DESERIALIZATION_ERROR")
    text = ifs.call(
        "POST", path, data=json.dumps({"Name": "N"}), headers={"Content-Type": "text/plain"}
    )
    assert_odata_error(text, 400, "ODP_DESERIALIZATION_ERROR")
    assert [c["CustomerId"] for c in ifs.sim.customers()] == ["DUP-1"]


def test_key_syntax(ifs: Ifs) -> None:
    ifs.create_customer("O'BRIEN")
    ok = ifs.call("GET", f"{CUST}/CustomerInfoSet(CustomerId='O''BRIEN')")
    assert ok.status_code == 200 and ok.json()["CustomerId"] == "O'BRIEN"
    assert_odata_error(ifs.call("GET", f"{CUST}/CustomerInfoSet(CustomerId=42)"), 400)
    assert_odata_error(ifs.call("GET", f"{CUST}/CustomerInfoSet(Nope='x')"), 400)
    assert_odata_error(ifs.call("GET", f"{CUST}/CustomerInfoSet(CustomerId='x'"), 400)
    assert_odata_error(
        ifs.call("GET", f"{CUST}/CustomerInfoSet(CustomerId='NOPE')"), 404, "ODP_RESOURCE_NOTFOUND"
    )
    assert_odata_error(ifs.call("GET", f"{CUST}/NoSuchSet"), 404, "ODP_RESOURCE_NOTFOUND")
    # composite keys: named, comma-separated; numbers bare
    comm = ifs.call(
        "POST",
        f"{CUST}/CustomerInfoSet(CustomerId='O''BRIEN')/CommunicationMethods",
        json_body={"MethodId": "E_MAIL", "Value": "ob@example.com"},
    )
    assert comm.status_code == 201 and comm.json()["CommId"] == 1
    nav = f"{CUST}/CustomerInfoSet(CustomerId='O''BRIEN')/CommunicationMethods"
    assert (
        ifs.call("GET", f"{nav}(CustomerId='O''BRIEN',CommId=1)").json()["Value"]
        == "ob@example.com"
    )
    assert ifs.call("GET", f"{nav}(CommId=1)").status_code == 200
    assert_odata_error(ifs.call("GET", f"{nav}(CommId='1')"), 400)
    assert_odata_error(ifs.call("GET", f"{nav}(CommId=2)"), 404, "ODP_RESOURCE_NOTFOUND")


def test_addresses_and_communication_methods(ifs: Ifs) -> None:
    ifs.create_customer("ADDR-1")
    base = f"{CUST}/CustomerInfoSet(CustomerId='ADDR-1')"
    addr = ifs.call(
        "POST",
        f"{base}/CustomerInfoAddresses",
        json_body={
            "AddressId": "1",
            "Address1": "Storgatan 1",
            "ZipCode": "11122",
            "City": "Sthlm",
        },
    )
    assert addr.status_code == 201
    assert addr.json()["keyref"] == "CUSTOMER_ID=ADDR-1^ADDRESS_ID=1^"
    assert addr.json()["Country"] == "SE" and addr.json()["DefaultDomain"] is True
    got = ifs.call("GET", f"{base}/CustomerInfoAddresses(CustomerId='ADDR-1',AddressId='1')")
    assert got.json()["City"] == "Sthlm"
    for value in ("a@example.com", "b@example.com"):
        resp = ifs.call(
            "POST", f"{base}/CommunicationMethods", json_body={"MethodId": "E_MAIL", "Value": value}
        )
        assert resp.status_code == 201
    # a new default clears the previous default of the same method
    third = ifs.call(
        "POST",
        f"{base}/CommunicationMethods",
        json_body={"MethodId": "E_MAIL", "Value": "c@example.com", "MethodDefault": True},
    )
    assert third.status_code == 201
    emails = ifs.call(
        "GET", f"{base}/CommunicationMethods", params={"$filter": "MethodId eq 'E_MAIL'"}
    ).json()["value"]
    assert [(e["Value"], e["MethodDefault"]) for e in emails] == [
        ("a@example.com", False),
        ("b@example.com", False),
        ("c@example.com", True),
    ]
    # the e-mail MethodId is configurable (tenant-specific literal)
    ifs.admin("POST", "/ifs/config", {"email_method_id": "EMAIL"})
    rejected = ifs.call(
        "POST", f"{base}/CommunicationMethods", json_body={"MethodId": "E_MAIL", "Value": "d@x.io"}
    )
    assert_odata_error(rejected, 400, "ODP_DESERIALIZATION_ERROR")
    accepted = ifs.call(
        "POST", f"{base}/CommunicationMethods", json_body={"MethodId": "EMAIL", "Value": "d@x.io"}
    )
    assert accepted.status_code == 201


# ---------------------------------------------------------------------------------------------
# 4. Query options and paging
# ---------------------------------------------------------------------------------------------


def test_filter_orderby_select_top_skip_count(ifs: Ifs) -> None:
    people = [
        ("Q-1", "Anna", "SE"),
        ("Q-2", "Bo", "NO"),
        ("Q-3", "Cia O'Hara", "SE"),
        ("Q-4", "Dan", "DK"),
        ("Q-5", "Anna", "DK"),
    ]
    for cid, name, country in people:
        ifs.create_customer(cid, Name=name, Country=country)

    def ids(params: dict[str, str]) -> list[str]:
        resp = ifs.call("GET", f"{CUST}/CustomerInfoSet", params=params)
        assert resp.status_code == 200, resp.text
        return [row["CustomerId"] for row in resp.json()["value"]]

    assert ids({"$filter": "Country eq 'SE'"}) == ["Q-1", "Q-3"]
    assert ids({"$filter": "Country ne 'SE'"}) == ["Q-2", "Q-4", "Q-5"]
    assert ids({"$filter": "CustomerId gt 'Q-3'"}) == ["Q-4", "Q-5"]
    assert ids({"$filter": "CustomerId ge 'Q-3' and CustomerId le 'Q-4'"}) == ["Q-3", "Q-4"]
    assert ids({"$filter": "CustomerId lt 'Q-2' or Country eq 'NO'"}) == ["Q-1", "Q-2"]
    assert ids({"$filter": "(Country eq 'SE' or Country eq 'DK') and Name eq 'Anna'"}) == [
        "Q-1",
        "Q-5",
    ]
    assert ids({"$filter": "not (Country eq 'SE')"}) == ["Q-2", "Q-4", "Q-5"]
    assert ids({"$filter": "Name eq 'Cia O''Hara'"}) == ["Q-3"]
    assert ids({"$filter": "contains(Name,'O''H')"}) == ["Q-3"]
    assert ids({"$filter": "startswith(Name,'An')"}) == ["Q-1", "Q-5"]
    assert ids({"$filter": "CorporateForm eq null and DefaultDomain eq true"}) == [
        c for c, _, _ in people
    ]
    assert ids({"$filter": "PartyType eq IfsApp.CustomerHandling.PartyType'Customer'"}) == [
        c for c, _, _ in people
    ]
    assert ids({"$orderby": "Name desc,CustomerId asc"}) == ["Q-4", "Q-3", "Q-2", "Q-1", "Q-5"]
    assert ids({"$orderby": "Country,Name desc"}) == ["Q-4", "Q-5", "Q-2", "Q-3", "Q-1"]
    # $top/$skip without $orderby: allowed, insertion order
    assert ids({"$top": "2", "$skip": "1"}) == ["Q-2", "Q-3"]
    assert ids({"$orderby": "CustomerId desc", "$top": "2"}) == ["Q-5", "Q-4"]

    selected = ifs.call(
        "GET", f"{CUST}/CustomerInfoSet", params={"$select": "CustomerId,Name", "$top": "1"}
    ).json()["value"][0]
    assert set(selected) == {"@odata.etag", "luname", "keyref", "Objgrants", "CustomerId", "Name"}
    counted = ifs.call(
        "GET", f"{CUST}/CustomerInfoSet", params={"$filter": "Country eq 'DK'", "$count": "true"}
    ).json()
    assert counted["@odata.count"] == 2
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet/$count").text == "5"

    bad = [
        {"$filter": "Nope eq 1"},
        {"$filter": "Name eq"},
        {"$select": "Nope"},
        {"$orderby": "Name sideways"},
        {"$top": "-1"},
        {"$top": "5001"},
        {"$select": "CommunicationMethods"},
        {"$bogus": "1"},
    ]
    for params in bad:
        resp = ifs.call("GET", f"{CUST}/CustomerInfoSet", params=params)
        assert resp.status_code == 400, params
        assert_odata_error(resp, 400)
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet", params={"$top": "5000"}).status_code == 200
    lam = ifs.call(
        "GET",
        f"{CUST}/CustomerInfoSet",
        params={"$filter": "CommunicationMethods/any(c:c/Value eq 'x')"},
    )
    assert_odata_error(lam, 501, "ODP_NOT_IMPLEMENTED")


def test_expand_collection_is_not_implemented_but_one_to_one_works(ifs: Ifs) -> None:
    ifs.create_customer("EXP-1")
    ifs.create_order("EXP-1")
    assert_odata_error(
        ifs.call("GET", f"{CUST}/CustomerInfoSet", params={"$expand": "CommunicationMethods"}),
        501,
        "ODP_NOT_IMPLEMENTED",
    )
    assert_odata_error(
        ifs.call("GET", f"{ORD}/CustomerOrderSet", params={"$expand": "OrderLinesArray"}),
        501,
        "ODP_NOT_IMPLEMENTED",
    )
    orders = ifs.call("GET", f"{ORD}/CustomerOrderSet", params={"$expand": "CustomerNoRef"})
    assert orders.json()["value"][0]["CustomerNoRef"]["CustomerId"] == "EXP-1"


def test_server_paging_follows_next_link_over_1200_rows(ifs: Ifs) -> None:
    seeded = ifs.admin("POST", "/ifs/customers", {"generate": 1200, "company": "10"})
    assert seeded.status_code == 200 and seeded.json()["count"] == 1200
    ifs.sim.seed_customer({"CustomerId": "ZZ-OTHER", "Company": "20"})  # filtered out below

    url: str | None = ifs.url + f"{CUST}/CustomerInfoSet"
    params: dict[str, str] | None = {
        "$filter": "startswith(CustomerId,'SEED-')",
        "$orderby": "CustomerId desc",
        "$select": "CustomerId",
        "$count": "true",
    }
    pages: list[list[str]] = []
    while url:
        resp = ifs.call("GET", url, params=params)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["@odata.count"] == 1200  # options survive in the nextLink
        pages.append([row["CustomerId"] for row in body["value"]])
        url = body.get("@odata.nextLink")
        if url:
            assert "$skiptoken=" in url and "$filter=" in url
        params = None  # follow the nextLink verbatim
    assert [len(p) for p in pages] == [500, 500, 200]
    flat = [cid for page in pages for cid in page]
    assert len(set(flat)) == 1200 and flat == sorted(flat, reverse=True)

    # $top spans pages; page size is configurable at runtime; Prefer maxpagesize is honoured
    resp = ifs.call("GET", f"{CUST}/CustomerInfoSet", params={"$top": "700"}).json()
    assert len(resp["value"]) == 500
    assert len(ifs.call("GET", resp["@odata.nextLink"]).json()["value"]) == 200
    ifs.admin("POST", "/ifs/config", {"page_size": 1000})
    assert len(ifs.call("GET", f"{CUST}/CustomerInfoSet").json()["value"]) == 1000
    small = ifs.call(
        "GET", f"{CUST}/CustomerInfoSet", headers={"Prefer": "odata.maxpagesize=100"}
    ).json()
    assert len(small["value"]) == 100 and "@odata.nextLink" in small


# ---------------------------------------------------------------------------------------------
# 5. ETags and If-Match
# ---------------------------------------------------------------------------------------------


def test_etag_format_and_change_on_every_write(ifs: Ifs) -> None:
    created = ifs.create_customer("ET-1")
    objid, version = decode_etag(created["@odata.etag"])
    clock_now = datetime.fromisoformat(ifs.admin("GET", "/clock").json()["now"])
    stamp = datetime.strptime(version, "%Y%m%d%H%M%S")
    assert abs((stamp - clock_now.replace(tzinfo=None)).total_seconds()) < 5

    etags = [created["@odata.etag"]]
    path = f"{CUST}/CustomerInfoSet(CustomerId='ET-1')"
    for i in range(3):  # several writes within the same second
        resp = ifs.call(
            "PATCH", path, json_body={"Name": f"Name {i}"}, headers={"If-Match": etags[-1]}
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["Name"] == f"Name {i}"
        assert resp.headers["ETag"] == resp.json()["@odata.etag"]
        etags.append(resp.json()["@odata.etag"])
    assert len(set(etags)) == 4
    decoded = [decode_etag(e) for e in etags]
    assert {d[0] for d in decoded} == {objid}  # same row, new version each time
    assert [d[1] for d in decoded] == sorted({d[1] for d in decoded})
    assert ifs.call("GET", path).json()["@odata.etag"] == etags[-1]


def test_if_match_mismatch_412_star_and_strict_missing(ifs: Ifs) -> None:
    first = ifs.create_customer("IM-1")["@odata.etag"]
    path = f"{CUST}/CustomerInfoSet(CustomerId='IM-1')"
    second = ifs.call("PATCH", path, json_body={"Name": "B"}, headers={"If-Match": first})
    assert second.status_code == 200
    stale = ifs.call("PATCH", path, json_body={"Name": "C"}, headers={"If-Match": first})
    assert_odata_error(stale, 412)
    missing = ifs.call("PATCH", path, json_body={"Name": "D"})
    assert_odata_error(missing, 400, "ODP_MISSING_PRECONDITION")
    assert_odata_error(ifs.call("DELETE", path), 400, "ODP_MISSING_PRECONDITION")
    assert ifs.sim.customers()[0]["Name"] == "B"
    star = ifs.call("PATCH", path, json_body={"Name": "E"}, headers={"If-Match": "*"})
    assert star.status_code == 200 and star.json()["Name"] == "E"
    # PATCH needs JSON too
    assert_odata_error(
        ifs.call("PATCH", path, data="Name=F", headers={"If-Match": "*"}),
        400,
        "ODP_DESERIALIZATION_ERROR",
    )
    assert_odata_error(
        ifs.call("PATCH", path, json_body={"CustomerId": "OTHER"}, headers={"If-Match": "*"}), 400
    )
    gone = ifs.call("DELETE", path, headers={"If-Match": star.json()["@odata.etag"]})
    assert gone.status_code == 204
    assert ifs.sim.customers() == []


def test_upsert_mode_when_not_strict(ifs: Ifs) -> None:
    etag = ifs.create_customer("UP-1")["@odata.etag"]
    assert ifs.admin("POST", "/ifs/config", {"strict_if_match": False}).status_code == 200
    path = f"{CUST}/CustomerInfoSet(CustomerId='UP-1')"
    updated = ifs.call("PATCH", path, json_body={"Name": "No precondition"})
    assert updated.status_code == 200 and updated.json()["Name"] == "No precondition"
    created = ifs.call(
        "PATCH",
        f"{CUST}/CustomerInfoSet(CustomerId='UP-2')",
        json_body={"Name": "Upserted", "Country": "FI"},
    )
    assert created.status_code == 201 and created.json()["CustomerId"] == "UP-2"
    assert {c["CustomerId"] for c in ifs.sim.customers()} == {"UP-1", "UP-2"}
    # an If-Match that is sent is still checked
    assert_odata_error(
        ifs.call("PATCH", path, json_body={"Name": "x"}, headers={"If-Match": etag}), 412
    )


def test_etag_churn_switch_makes_patch_fail_with_412(ifs: Ifs) -> None:
    etag = ifs.create_customer("CH-1")["@odata.etag"]
    path = f"{CUST}/CustomerInfoSet(CustomerId='CH-1')"
    ifs.admin("POST", "/ifs/config", {"etag_churn_ratio": 1.0})
    conflict = ifs.call("PATCH", path, json_body={"Name": "mine"}, headers={"If-Match": etag})
    assert_odata_error(conflict, 412)
    reread = ifs.call("GET", path).json()
    assert reread["@odata.etag"] != etag and reread["Name"] == "Customer CH-1"
    ifs.admin("POST", "/ifs/config", {"etag_churn_ratio": 0.0})
    ok = ifs.call(
        "PATCH", path, json_body={"Name": "mine"}, headers={"If-Match": reread["@odata.etag"]}
    )
    assert ok.status_code == 200
    # the same switch via the common faults endpoint
    ifs.admin("POST", "/faults", {"extra": {"etag_churn_ratio": 1.0}})
    again = ifs.call(
        "PATCH", path, json_body={"Name": "again"}, headers={"If-Match": ok.json()["@odata.etag"]}
    )
    assert_odata_error(again, 412)


def test_admin_touch_simulates_an_edit_in_ifs(ifs: Ifs) -> None:
    etag = ifs.create_customer("TO-1")["@odata.etag"]
    touched = ifs.admin("PATCH", "/ifs/customers/TO-1", {"Name": "Edited in IFS"})
    assert touched.status_code == 200 and touched.json()["@odata.etag"] != etag
    path = f"{CUST}/CustomerInfoSet(CustomerId='TO-1')"
    assert_odata_error(
        ifs.call("PATCH", path, json_body={"Name": "x"}, headers={"If-Match": etag}), 412
    )
    assert ifs.call("GET", path).json()["Name"] == "Edited in IFS"


# ---------------------------------------------------------------------------------------------
# 6. Customer orders, lines, charges, bound action
# ---------------------------------------------------------------------------------------------


def test_order_header_lines_charges_patch_and_release(ifs: Ifs) -> None:
    ifs.create_customer("OR-1")
    order = ifs.create_order(
        "OR-1",
        CustomerPoNo="wc:1042",
        CurrencyCode="SEK",
        WantedDeliveryDate="2025-03-20T00:00:00Z",
    )
    order_no = order["OrderNo"]
    assert order_no and order["Objstate"] == "Planned" and order["Company"] == "10"
    assert order["keyref"] == f"ORDER_NO={order_no}^"
    base = f"{ORD}/CustomerOrderSet(OrderNo='{order_no}')"
    line_nos = []
    for catalog, qty, price in (("P-1", 2, 10.0), ("P-2", 1.5, 4.25)):
        resp = ifs.call(
            "POST",
            f"{base}/OrderLinesArray",
            json_body={"CatalogNo": catalog, "BuyQtyDue": qty, "SaleUnitPrice": price},
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["CurrencyCode"] == "SEK" and resp.json()["Contract"] == "S1"
        line_nos.append(resp.json()["LineNo"])
    assert line_nos == ["1", "2"]
    for body, detail in (
        ({"CatalogNo": "P-3", "BuyQtyDue": 0}, "QTY_NOT_POSITIVE"),
        ({"CatalogNo": "P-3", "BuyQtyDue": -1}, "QTY_NOT_POSITIVE"),
        ({"BuyQtyDue": 1}, "MANDATORY"),
    ):
        assert_odata_error(
            ifs.call("POST", f"{base}/OrderLinesArray", json_body=body), 500, detail=detail
        )
    assert_odata_error(
        ifs.call("POST", f"{base}/OrderLinesArray", json_body={"CatalogNo": "X", "BuyQtyDue": "2"}),
        400,
        "ODP_DESERIALIZATION_ERROR",
    )
    lines = ifs.call(
        "GET", f"{ORD}/CustomerOrderLineSet", params={"$filter": f"OrderNo eq '{order_no}'"}
    ).json()["value"]
    assert [(ln["CatalogNo"], ln["BuyQtyDue"]) for ln in lines] == [("P-1", 2), ("P-2", 1.5)]
    line_key = f"(OrderNo='{order_no}',LineNo='2',RelNo='1',LineItemNo=0)"
    assert ifs.call("GET", f"{ORD}/CustomerOrderLineSet{line_key}").json()["CatalogNo"] == "P-2"
    assert [ln["LineNo"] for ln in ifs.sim.order_lines(order_no)] == ["1", "2"]

    charge = ifs.call(
        "POST",
        f"{base}/CustomerOrderChargeArray",
        json_body={"ChargeType": "FREIGHT", "ChargeAmount": 49, "ChargedQty": 1, "Company": "10"},
    )
    assert charge.status_code == 201 and charge.json()["SequenceNo"] == 1
    assert_odata_error(
        ifs.call(
            "POST",
            f"{base}/CustomerOrderChargeArray",
            json_body={"ChargeType": "FREIGHT", "ChargeAmount": 1, "Company": "20"},
        ),
        500,
        detail="COMPANY_MISMATCH",
    )
    assert ifs.sim.orders()[0]["Charges"][0]["ChargeType"] == "FREIGHT"

    patched = ifs.call(
        "PATCH", base, json_body={"LabelNote": "gift"}, headers={"If-Match": order["@odata.etag"]}
    )
    assert patched.status_code == 200 and patched.json()["LabelNote"] == "gift"
    assert_odata_error(
        ifs.call(
            "PATCH",
            base,
            json_body={"CustomerNo": "SOMEONE"},
            headers={"If-Match": patched.json()["@odata.etag"]},
        ),
        500,
        detail="UPDATE_NOT_ALLOWED",
    )
    release = f"{base}/IfsApp.CustomerOrderHandling.CustomerOrder_Release"
    assert_odata_error(ifs.call("POST", release, json_body={}), 400, "ODP_MISSING_PRECONDITION")
    assert_odata_error(
        ifs.call("POST", release, json_body={}, headers={"If-Match": order["@odata.etag"]}), 412
    )
    assert ifs.call("GET", release).status_code == 405
    released = ifs.call(
        "POST", release, json_body={}, headers={"If-Match": patched.json()["@odata.etag"]}
    )
    assert released.status_code == 204
    assert ifs.call("GET", base).json()["Objstate"] == "Released"
    # natural-key lookup the connector does before creating (decision 6)
    found = ifs.call(
        "GET", f"{ORD}/CustomerOrderSet", params={"$filter": "CustomerPoNo eq 'wc:1042'"}
    ).json()["value"]
    assert [o["OrderNo"] for o in found] == [order_no]


def test_order_ship_address_must_exist(ifs: Ifs) -> None:
    ifs.create_customer("SA-1")
    resp = ifs.call(
        "POST",
        f"{ORD}/CustomerOrderSet",
        json_body={"CustomerNo": "SA-1", "Contract": "S1", "ShipAddrNo": "9"},
    )
    assert_odata_error(resp, 500, detail="ADDRESS_NOT_EXIST")


def test_concurrent_order_creation_is_consistent(ifs: Ifs) -> None:
    ifs.create_customer("CC-1")
    numbers: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        session = requests.Session()
        for _ in range(10):
            resp = session.post(
                ifs.url + f"{ORD}/CustomerOrderSet",
                json={"CustomerNo": "CC-1", "Contract": "S1"},
                headers={"Authorization": f"Bearer {ifs.bearer}"},
                timeout=10,
            )
            assert resp.status_code == 201
            with lock:
                numbers.append(resp.json()["OrderNo"])

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(numbers) == 60 and len(set(numbers)) == 60
    assert len(ifs.sim.orders()) == 60


# ---------------------------------------------------------------------------------------------
# 7. $batch with atomic change sets
# ---------------------------------------------------------------------------------------------


def _http_part(req: dict[str, Any]) -> list[str]:
    out = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if "id" in req:
        out.append(f"Content-ID: {req['id']}")
    out += ["", f"{req['method']} {req['url']} HTTP/1.1"]
    headers = dict(req.get("headers", {}))
    if "json" in req:
        headers["Content-Type"] = "application/json"
    out += [f"{k}: {v}" for k, v in headers.items()]
    out += ["", json.dumps(req["json"]) if "json" in req else ""]
    return out


def batch_body(parts: list[dict[str, Any] | list[dict[str, Any]]]) -> tuple[str, bytes]:
    boundary = f"batch_{uuid.uuid4().hex}"
    lines: list[str] = []
    for part in parts:
        lines.append(f"--{boundary}")
        if isinstance(part, list):
            cs = f"changeset_{uuid.uuid4().hex}"
            lines += [f"Content-Type: multipart/mixed; boundary={cs}", ""]
            for req in part:
                lines.append(f"--{cs}")
                lines += _http_part(req)
            lines.append(f"--{cs}--")
        else:
            lines += _http_part(part)
    lines.append(f"--{boundary}--")
    return f"multipart/mixed; boundary={boundary}", "\r\n".join(lines).encode()


def post_batch(
    ifs: Ifs, parts: list[dict[str, Any] | list[dict[str, Any]]]
) -> list[BatchResponse | list[BatchResponse]]:
    content_type, body = batch_body(parts)
    resp = ifs.call("POST", f"{ORD}/$batch", data=body, headers={"Content-Type": content_type})
    assert resp.status_code == 200, resp.text
    ctype = resp.headers["Content-Type"]
    assert ctype.startswith("multipart/mixed; boundary=")
    boundary = ctype.split("boundary=")[1]
    assert resp.content.rstrip().endswith(f"--{boundary}--".encode())
    return parse_batch_response(resp.content, ctype)


def test_batch_change_set_with_content_id_references(ifs: Ifs) -> None:
    ifs.create_customer("B-1")
    parts: list[dict[str, Any] | list[dict[str, Any]]] = [
        [
            {
                "method": "POST",
                "url": "CustomerOrderSet",
                "id": "1",
                "json": {"CustomerNo": "B-1", "Contract": "S1", "CustomerPoNo": "wc:100"},
            },
            {
                "method": "POST",
                "url": "$1/OrderLinesArray",
                "id": "2",
                "json": {"CatalogNo": "A", "BuyQtyDue": 1, "SaleUnitPrice": 5},
            },
            {
                "method": "POST",
                "url": "$1/OrderLinesArray",
                "id": "3",
                "json": {"CatalogNo": "B", "BuyQtyDue": 3, "SaleUnitPrice": 7},
            },
            {
                "method": "PATCH",
                "url": "$1",
                "id": "4",
                "headers": {"If-Match": "$1"},
                "json": {"LabelNote": "batched"},
            },
        ],
        {"method": "GET", "url": "CustomerOrderSet?$filter=CustomerPoNo%20eq%20'wc:100'"},
    ]
    result = post_batch(ifs, parts)
    assert len(result) == 2
    changeset, query = result
    assert isinstance(changeset, list) and isinstance(query, BatchResponse)
    assert [r.status for r in changeset] == [201, 201, 201, 200]
    assert [r.content_id for r in changeset] == ["1", "2", "3", "4"]
    order_no = json.loads(changeset[0].body)["OrderNo"]
    assert json.loads(changeset[2].body)["LineNo"] == "2"
    assert query.status == 200
    found = json.loads(query.body)["value"]
    assert [(o["OrderNo"], o["LabelNote"]) for o in found] == [(order_no, "batched")]
    assert [ln["CatalogNo"] for ln in ifs.sim.order_lines(order_no)] == ["A", "B"]


@pytest.mark.parametrize(
    ("header", "bad_line", "detail"),
    [
        (
            {"CustomerNo": "B-2", "Contract": "S1"},
            {"CatalogNo": "X", "BuyQtyDue": -2},
            "QTY_NOT_POSITIVE",
        ),
        (
            {"CustomerNo": "NOBODY", "Contract": "S1"},
            {"CatalogNo": "X", "BuyQtyDue": 1},
            "CUSTNOTEXIST",
        ),
    ],
)
def test_batch_change_set_is_all_or_nothing(
    ifs: Ifs, header: dict[str, Any], bad_line: dict[str, Any], detail: str
) -> None:
    ifs.create_customer("B-2")
    failing = [
        {"method": "POST", "url": "CustomerOrderSet", "id": "1", "json": header},
        {
            "method": "POST",
            "url": "$1/OrderLinesArray",
            "id": "2",
            "json": {"CatalogNo": "OK", "BuyQtyDue": 1},
        },
        {"method": "POST", "url": "$1/OrderLinesArray", "id": "3", "json": bad_line},
    ]
    succeeding = [
        {
            "method": "POST",
            "url": "CustomerOrderSet",
            "id": "a",
            "json": {"CustomerNo": "B-2", "Contract": "S1"},
        },
        {
            "method": "POST",
            "url": "$a/OrderLinesArray",
            "id": "b",
            "json": {"CatalogNo": "Y", "BuyQtyDue": 1},
        },
    ]
    result = post_batch(ifs, [failing, succeeding])
    failed, ok = result
    assert isinstance(failed, BatchResponse), "a failed change set answers with one response"
    assert failed.status == 500
    err = json.loads(failed.body)["error"]
    assert err["code"] == "DATABASE_ERROR" and err["details"][0]["code"] == detail
    assert isinstance(ok, list) and [r.status for r in ok] == [201, 201]
    # nothing of the failed change set persisted: exactly the second order and its line
    orders = ifs.sim.orders()
    assert len(orders) == 1 and orders[0]["OrderNo"] == json.loads(ok[0].body)["OrderNo"]
    assert ifs.sim.counts()["order_lines"] == 1
    assert ifs.call("GET", f"{ORD}/CustomerOrderLineSet").json()["value"][0]["CatalogNo"] == "Y"


def test_batch_rejects_get_inside_change_set_and_bad_bodies(ifs: Ifs) -> None:
    content_type, body = batch_body([[{"method": "GET", "url": "CustomerOrderSet"}]])
    resp = ifs.call("POST", f"{ORD}/$batch", data=body, headers={"Content-Type": content_type})
    assert_odata_error(resp, 400, "ODP_BATCH_ERROR")
    no_boundary = ifs.call(
        "POST", f"{ORD}/$batch", data=b"x", headers={"Content-Type": "multipart/mixed"}
    )
    assert_odata_error(no_boundary, 400)
    # an unknown Content-ID reference fails that change set only
    result = post_batch(
        ifs, [[{"method": "POST", "url": "$9/OrderLinesArray", "json": {"CatalogNo": "X"}}]]
    )
    assert isinstance(result[0], BatchResponse) and result[0].status == 400


def test_batch_tolerates_lf_only_prefixed_boundaries_and_absolute_urls(ifs: Ifs) -> None:
    ifs.create_customer("LF-1")
    body = f"""preamble
--b1
Content-Type: multipart/mixed; boundary=b1_cs

--b1_cs
Content-Type: application/http

POST {ifs.url}{ORD}/CustomerOrderSet HTTP/1.1
Content-ID: h
Content-Type: application/json

{{"CustomerNo":"LF-1","Contract":"S1"}}
--b1_cs
Content-Type: application/http

POST $h/OrderLinesArray HTTP/1.1
Content-Type: application/json

{{"CatalogNo":"X","BuyQtyDue":1}}
--b1_cs--
--b1
Content-Type: application/http

GET {ORD}/CustomerOrderLineSet?$select=CatalogNo HTTP/1.1

--b1--
epilogue"""
    resp = ifs.call(
        "POST",
        f"{ORD}/$batch",
        data=body.encode(),
        headers={"Content-Type": "multipart/mixed; boundary=b1"},
    )
    assert resp.status_code == 200, resp.text
    changeset, read = parse_batch_response(resp.content, resp.headers["Content-Type"])
    assert isinstance(changeset, list) and [(r.status, r.content_id) for r in changeset] == [
        (201, "h"),
        (201, None),
    ]
    assert isinstance(read, BatchResponse)
    assert [ln["CatalogNo"] for ln in json.loads(read.body)["value"]] == ["X"]


def test_keys_with_slashes_and_unicode_round_trip_through_location(ifs: Ifs) -> None:
    created = ifs.call(
        "POST",
        f"{CUST}/CustomerInfoSet",
        json_body={"CustomerId": "WC/1 ä", "Name": "Slash", "Country": "SE"},
    )
    assert created.status_code == 201
    location = created.headers["Location"]
    assert "%2F" in location
    assert ifs.call("GET", location).json()["CustomerId"] == "WC/1 ä"
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet(CustomerId='WC/1 ä')").status_code == 200


# ---------------------------------------------------------------------------------------------
# 8. Token bucket per IAM client
# ---------------------------------------------------------------------------------------------


def test_budget_exhaustion_gives_429_with_retry_after(ifs: Ifs) -> None:
    ifs.admin("POST", "/ifs/config", {"budget_per_min": 5})
    for _ in range(5):
        assert ifs.call("GET", f"{CUST}/CustomerInfoSet").status_code == 200
    limited = ifs.call("GET", f"{CUST}/CustomerInfoSet")
    assert_odata_error(limited, 429)
    retry_after = int(limited.headers["Retry-After"])
    assert 1 <= retry_after <= 12
    # writes count too, and the budget is per IAM client
    assert ifs.call("POST", f"{CUST}/CustomerInfoSet", json_body={}).status_code == 429
    other = ifs.token(OTHER_ID, OTHER_SECRET)
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet", bearer=other).status_code == 200
    # continuous refill by the simulator clock
    ifs.admin("POST", "/clock", {"advance_s": retry_after})
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet").status_code == 200
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet").status_code == 429


# ---------------------------------------------------------------------------------------------
# 9. GL voucher wizard and read side
# ---------------------------------------------------------------------------------------------


def _voucher_draft(ifs: Ifs, rows: list[dict[str, Any]], **header: Any) -> str:
    body = {
        "Company": "20",
        "VoucherType": "M",
        "VoucherDate": "2025-03-14",
        "VoucherText2": "bc:txn-88412",
        **header,
    }
    resp = ifs.call("POST", f"{VEA}/VoucherSet", json_body=body)
    assert resp.status_code == 201, resp.text
    objkey = str(resp.json()["Objkey"])
    for row in rows:
        posted = ifs.call(
            "POST", f"{VEA}/VoucherSet(Objkey='{objkey}')/VoucherPostingArray", json_body=row
        )
        assert posted.status_code == 201, posted.text
    return objkey


def test_voucher_wizard_creates_balanced_voucher_and_read_side_finds_it(ifs: Ifs) -> None:
    objkey = _voucher_draft(
        ifs,
        [
            {"Account": "1930", "DebetAmount": 84.5, "CodeB": "100", "Text": "payment"},
            {"Account": "3010", "CreditAmount": 60.25},
            {"Account": "2611", "CreditAmount": 24.25, "OptionalCode": "VAT25"},
        ],
        CurrencyCode="USD",
    )
    created = ifs.call(
        "POST", f"{VEA}/VoucherSet(Objkey='{objkey}')/{CREATE_VOUCHER}", json_body={}
    )
    assert created.status_code == 200, created.text
    voucher_no = created.json()["value"]
    assert isinstance(voucher_no, int) and voucher_no == 25000001
    assert ifs.sim.temp_vouchers() == []
    vouchers = ifs.sim.vouchers("20")
    assert len(vouchers) == 1 and vouchers[0]["VoucherNo"] == voucher_no
    assert [r["Account"] for r in vouchers[0]["Rows"]] == ["1930", "3010", "2611"]
    assert ifs.sim.vouchers("10") == []

    rows = ifs.call(
        "GET",
        f"{VRA}/VoucherRowSet",
        params={"$filter": "VoucherText2 eq 'bc:txn-88412'", "$orderby": "RowNo"},
    ).json()["value"]
    assert [(r["RowNo"], r["Account"], r["DebetAmount"], r["CreditAmount"]) for r in rows] == [
        (1, "1930", 84.5, None),
        (2, "3010", None, 60.25),
        (3, "2611", None, 24.25),
    ]
    assert all(r["VoucherNo"] == voucher_no and r["Company"] == "20" for r in rows)
    assert rows[0]["CodeB"] == "100" and rows[0]["CurrencyCode"] == "USD"
    assert rows[0]["luname"] == "VoucherRow" and rows[0]["@odata.etag"].startswith('W/"')
    contains = ifs.call(
        "GET",
        f"{VRA}/VoucherRowSet",
        params={
            "$filter": "contains(VoucherText2,'88412') and Company eq '20' and VoucherNo eq "
            f"{voucher_no}"
        },
    ).json()["value"]
    assert len(contains) == 3
    assert (
        ifs.call(
            "GET", f"{VRA}/VoucherRowSet", params={"$filter": "VoucherText2 eq 'bc:other'"}
        ).json()["value"]
        == []
    )
    # second voucher of the same type and year gets the next number
    second = _voucher_draft(
        ifs, [{"Account": "1", "DebetAmount": 1}, {"Account": "2", "CreditAmount": 1}]
    )
    nxt = ifs.call("POST", f"{VEA}/VoucherSet(Objkey='{second}')/{CREATE_VOUCHER}", json_body={})
    assert nxt.json()["value"] == 25000002
    assert ifs.call("POST", f"{VRA}/VoucherRowSet", json_body={}).status_code == 405


def test_voucher_wizard_rejects_unbalanced_and_incomplete_and_removes_temp(ifs: Ifs) -> None:
    objkey = _voucher_draft(
        ifs, [{"Account": "1930", "DebetAmount": 100}, {"Account": "3010", "CreditAmount": 90}]
    )
    action = f"{VEA}/VoucherSet(Objkey='{objkey}')"
    unbalanced = ifs.call("POST", f"{action}/{CREATE_VOUCHER}", json_body={})
    assert_odata_error(unbalanced, 500, "DATABASE_ERROR", "VOUCHER_NOT_BALANCED")
    assert ifs.sim.vouchers() == [] and len(ifs.sim.temp_vouchers()) == 1
    removed = ifs.call("POST", f"{action}/{REMOVE_VOUCHER}", json_body={})
    assert removed.status_code == 204
    assert ifs.sim.temp_vouchers() == []
    assert_odata_error(ifs.call("POST", f"{action}/{CREATE_VOUCHER}", json_body={}), 404)

    no_type = _voucher_draft(
        ifs,
        [{"Account": "1", "DebetAmount": 5}, {"Account": "2", "CreditAmount": 5}],
        VoucherType=None,
    )
    assert_odata_error(
        ifs.call("POST", f"{VEA}/VoucherSet(Objkey='{no_type}')/{CREATE_VOUCHER}", json_body={}),
        500,
        detail="MANDATORY",
    )
    no_account = _voucher_draft(ifs, [{"DebetAmount": 5}, {"Account": "2", "CreditAmount": 5}])
    assert_odata_error(
        ifs.call("POST", f"{VEA}/VoucherSet(Objkey='{no_account}')/{CREATE_VOUCHER}", json_body={}),
        500,
        detail="ACCOUNT_MISSING",
    )
    no_rows = _voucher_draft(ifs, [])
    assert_odata_error(
        ifs.call("POST", f"{VEA}/VoucherSet(Objkey='{no_rows}')/{CREATE_VOUCHER}", json_body={}),
        500,
        detail="NO_VOUCHER_ROWS",
    )
    forbidden = ifs.call(
        "POST",
        f"{VEA}/VoucherSet",
        json_body={"Company": "30", "VoucherType": "M"},
    )
    assert_odata_error(forbidden, 403)
    assert ifs.call("GET", f"{action}/{CREATE_VOUCHER}").status_code in (404, 405)
    assert ifs.sim.vouchers() == []


# ---------------------------------------------------------------------------------------------
# 10. Injected failures: MI_MODIFIED_ERROR and the common fault switches
# ---------------------------------------------------------------------------------------------


def test_mi_modified_error_injection(ifs: Ifs) -> None:
    ifs.admin("POST", "/ifs/config", {"mi_modified_ratio": 1.0})
    resp = ifs.call("POST", f"{CUST}/CustomerInfoSet", json_body={"Name": "N", "Country": "SE"})
    assert_odata_error(resp, 500, "MI_MODIFIED_ERROR")
    assert ifs.sim.customers() == []  # nothing written
    ifs.admin("POST", "/ifs/config", {"mi_modified_ratio": 0.0})
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet").status_code == 200
    # via /_sandbox/faults extra, limited to one projection by path_prefix
    ifs.admin("POST", "/faults", {"extra": {"mi_modified_ratio": 1.0}, "path_prefix": ORD})
    assert_odata_error(ifs.call("GET", f"{ORD}/CustomerOrderSet"), 500, "MI_MODIFIED_ERROR")
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet").status_code == 200


def test_common_fault_injection_applies_to_projection_calls(ifs: Ifs) -> None:
    ifs.admin("POST", "/faults", {"error_5xx_ratio": 1.0, "path_prefix": ORD})
    assert ifs.call("GET", f"{ORD}/CustomerOrderSet").status_code == 503
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet").status_code == 200
    ifs.admin("DELETE", "/faults")
    ifs.admin("POST", "/faults", {"rate_limit_ratio": 1.0, "retry_after_s": 7})
    limited = ifs.call("GET", f"{CUST}/CustomerInfoSet")
    assert_odata_error(limited, 429)
    assert limited.headers["Retry-After"] == "7"
    ifs.admin("DELETE", "/faults")
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet").status_code == 200
    log = ifs.admin("GET", "/requests?path_prefix=" + CUST).json()["requests"]
    assert [e["status"] for e in log] == [200, 429, 200]


# ---------------------------------------------------------------------------------------------
# 11. Admin API
# ---------------------------------------------------------------------------------------------


def test_admin_seed_inspect_config_and_reset(ifs: Ifs) -> None:
    seeded = ifs.admin(
        "POST",
        "/ifs/customers",
        {
            "customers": [
                {
                    "CustomerId": "HAND-1",
                    "Name": "Keyed by hand",
                    "Company": "20",
                    "Emails": ["hand@example.com"],
                    "Phones": ["+46 8 123"],
                    "Addresses": [{"AddressId": "1", "City": "Malmö"}],
                }
            ]
        },
    )
    assert seeded.status_code == 200, seeded.text
    comms = ifs.call(
        "GET",
        f"{CUST}/CustomerInfoSet(CustomerId='HAND-1')/CommunicationMethods",
        params={"$filter": "MethodId eq 'E_MAIL'"},
    ).json()["value"]
    assert [c["Value"] for c in comms] == ["hand@example.com"]
    listed = ifs.admin("GET", "/ifs/customers?company=20").json()
    assert listed["count"] == 1 and len(listed["customers"][0]["CommunicationMethods"]) == 2
    assert ifs.admin("GET", "/ifs/customers?company=10").json()["count"] == 0
    bad_seed = ifs.admin("POST", "/ifs/customers", {"CustomerId": "B", "Country": "nope"})
    assert bad_seed.status_code == 400

    order = ifs.create_order("HAND-1", Contract="S2")
    assert ifs.admin("GET", "/ifs/orders").json()["orders"][0]["OrderNo"] == order["OrderNo"]
    assert ifs.admin("GET", f"/ifs/orders/{order['OrderNo']}/lines").json()["count"] == 0
    counts = ifs.admin("GET", "/ifs/counts").json()
    assert counts["customers"] == 1 and counts["orders"] == 1 and counts["addresses"] == 1

    assert ifs.admin("POST", "/ifs/config", {"nope": 1}).status_code == 400
    assert ifs.admin("POST", "/ifs/config", {"page_size": "big"}).status_code == 400
    cfg = ifs.admin("POST", "/ifs/config", {"token_ttl_s": 60, "budget_per_min": 50}).json()
    assert cfg["token_ttl_s"] == 60
    assert (
        ifs.http.post(
            ifs.url + TOKEN_PATH,
            data={"grant_type": "client_credentials"},
            auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
        ).json()["expires_in"]
        == 60
    )

    assert ifs.admin("POST", "/reset").status_code == 200
    assert ifs.sim.customers() == [] and ifs.sim.orders() == []
    assert ifs.admin("GET", "/ifs/config").json()["token_ttl_s"] == 180
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet").status_code == 401  # tokens cleared


def test_service_document_and_metadata(ifs: Ifs) -> None:
    doc = ifs.call("GET", f"{ORD}/").json()
    assert {s["name"] for s in doc["value"]} >= {"CustomerOrderSet", "CustomerOrderLineSet"}
    meta = ifs.call("GET", f"{ORD}/$metadata")
    assert meta.status_code == 200 and 'Name="CustomerOrder_Release"' in meta.text


# ---------------------------------------------------------------------------------------------
# Properties of the parsers (in-process)
# ---------------------------------------------------------------------------------------------

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)


@settings(max_examples=150, deadline=None)
@given(value=_TEXT, other=_TEXT)
def test_filter_string_literals_round_trip(value: str, other: str) -> None:
    flt = parse_filter(f"Name eq {format_key_value(value)}", ["Name"])
    assert flt({"Name": value})
    assert flt({"Name": other}) == (other == value)
    assert parse_filter(f"contains(Name,{format_key_value(value)})", ["Name"])(
        {"Name": f"x{value}y"}
    )


@settings(max_examples=150, deadline=None)
@given(value=st.one_of(_TEXT, st.integers(min_value=-(10**9), max_value=10**9)))
def test_key_literals_round_trip(value: str | int) -> None:
    assert parse_key_literal(format_key_value(value)) == value
