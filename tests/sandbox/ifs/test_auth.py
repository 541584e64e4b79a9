"""IFS simulator: OAuth2 client credentials and token expiry, company scoping per IAM
client and the token bucket per client (``reference/ifs-cloud.md`` §1, decisions 1, 2, 8).
"""

from __future__ import annotations

import base64
import json

import pytest

from sandbox.ifs import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.sandbox.ifs.support import (
    CUST,
    ORD,
    OTHER_ID,
    OTHER_SECRET,
    TOKEN_PATH,
    Ifs,
    assert_odata_error,
)

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
