"""BigCommerce simulator: tokens, store hash, scopes and API accounts
(``reference/bigcommerce.md`` §1).
"""

from __future__ import annotations

import requests

from sandbox.bigcommerce import DEFAULT_CLIENT_ID
from tests.sandbox.bigcommerce.support import NOT_FOUND_V2, Receiver, Sim, make_hook

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
