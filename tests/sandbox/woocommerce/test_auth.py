"""WooCommerce simulator: key auth, key owners and OAuth 1.0a over plain HTTP
(``reference/woocommerce.md`` §1, §2).
"""

from __future__ import annotations

import time

import pytest
import requests
from requests_oauthlib import OAuth1

from sandbox.woocommerce import DEFAULT_KEY_OWNER
from tests.sandbox.woocommerce.support import API, CK, CS, Shop, assert_error

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
