"""WooCommerce simulator: hosting-style 429s (§5) and the admin routes."""

from __future__ import annotations

import math

import requests
from requests_oauthlib import OAuth1

from sandbox.woocommerce import DEFAULT_KEY_OWNER
from tests.sandbox.woocommerce.support import API, CK, CS, Shop, assert_error

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


def test_host_rate_limit_sliding_window_with_retry_after(seeded: Shop) -> None:
    r = seeded.admin("POST", "/woo/config", json={"rate_limit_per_window": 3,
                                                 "rate_limit_window_s": 60})
    assert r.status_code == 200
    assert [seeded.get("/orders").status_code for _ in range(3)] == [200, 200, 200]
    r = seeded.get("/orders/1")
    assert r.status_code == 429 and r.headers["Content-Type"].startswith("text/html")
    assert 59 <= int(r.headers["Retry-After"]) <= 60  # until the oldest request leaves
    assert "RateLimit-Remaining" not in r.headers  # headers only when asked for
    assert seeded.admin("GET", "/woo/config").status_code == 200  # admin is never limited
    # Refused requests count too (strict): coming back early keeps the client locked out.
    seeded.admin("POST", "/clock", json={"advance_s": 59.5})
    assert seeded.get("/orders").status_code == 429
    seeded.admin("POST", "/clock", json={"advance_s": 1})
    assert seeded.get("/orders").status_code == 200  # the first three left the window
    statuses = [e["status"] for e in seeded.admin("GET", "/requests").json()["requests"]]
    assert statuses == [200, 200, 200, 429, 429, 200]


def test_host_rate_limit_counting_only_served_requests_and_its_headers(seeded: Shop) -> None:
    seeded.admin("POST", "/woo/config", json={
        "rate_limit_per_window": 2, "rate_limit_window_s": 10, "rate_limit_status": 503,
        "rate_limit_count_refused": False, "rate_limit_headers": "ratelimit"})
    before = seeded.admin("GET", "/clock").json()["epoch"]
    first = seeded.get("/orders")
    assert first.status_code == 200
    assert (first.headers["RateLimit-Limit"], first.headers["RateLimit-Remaining"]) == ("2", "1")
    epoch = seeded.admin("GET", "/clock").json()["epoch"]
    # A Unix time, rounded up: room now (between the clock reads around the request; the
    # clock runs on, so the second read may already be past the rounded-up second).
    assert before <= int(first.headers["RateLimit-Reset"]) <= math.ceil(epoch)
    assert seeded.get("/orders").headers["RateLimit-Remaining"] == "0"
    refused = seeded.get("/orders")
    assert refused.status_code == 503 and refused.headers["RateLimit-Remaining"] == "0"
    assert 9 <= int(refused.headers["Retry-After"]) <= 10
    assert 9 <= int(refused.headers["RateLimit-Reset"]) - epoch <= 11
    seeded.admin("POST", "/clock", json={"advance_s": 10})
    assert seeded.get("/orders").status_code == 200  # refusals did not count
    seeded.admin("POST", "/woo/config", json={"rate_limit_headers": "x-ratelimit"})
    assert seeded.get("/orders").headers["X-RateLimit-Limit"] == "2"
    seeded.admin("POST", "/woo/config", json={"rate_limit_per_window": 0})
    assert all(seeded.get("/orders").status_code == 200 for _ in range(5))  # off, as core


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
