"""BigCommerce simulator: hooks, signed thin payloads, retries, deactivation and the domain
blocklist (§5).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from standardwebhooks import Webhook

from sandbox.bigcommerce import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_STORE_HASH
from sandbox.bigcommerce.hooks import sign
from tests.sandbox.bigcommerce.support import AUTH, Receiver, Sim, make_hook

# --------------------------------------------------------------------------- hooks (§5)


def test_hooks_crud_filters_admin_and_limits(bc: Sim, receiver: Receiver) -> None:
    hook = make_hook(bc, "store/order/*", receiver.url(), headers={"x-mlc-hook-secret": "s3"})
    assert hook["client_id"] == DEFAULT_CLIENT_ID and hook["store_hash"] == DEFAULT_STORE_HASH
    assert hook["is_active"] is True and isinstance(hook["created_at"], int)
    assert hook["headers"] == {"x-mlc-hook-secret": "s3"}
    make_hook(bc, "store/customer/*", receiver.url(), is_active=False)
    hooks = bc.get(f"{bc.v3}/hooks").json()
    assert len(hooks["data"]) == 2 and hooks["meta"]["pagination"]["total"] == 2
    active = bc.get(f"{bc.v3}/hooks", params={"is_active": "true"}).json()["data"]
    assert [h["id"] for h in active] == [hook["id"]]
    scoped = bc.get(f"{bc.v3}/hooks", params={"scope": "store/customer/*"}).json()["data"]
    assert [h["scope"] for h in scoped] == ["store/customer/*"]
    by_dest = bc.get(f"{bc.v3}/hooks", params={"destination": receiver.url()}).json()["data"]
    assert len(by_dest) == 2
    assert bc.get(f"{bc.v3}/hooks/{hook['id']}").json()["data"]["id"] == hook["id"]
    r = requests.put(
        f"{bc.v3}/hooks/{hook['id']}", headers=AUTH, json={"is_active": False}, timeout=10
    )
    assert r.status_code == 200 and r.json()["data"]["is_active"] is False
    admin = bc.get(f"{bc.v3}/hooks/admin").json()["data"]
    assert {h["status"] for h in admin["hooks_list"]} == {"inactive"}
    assert admin["blocked_domains"] == []

    # One hook per (client, scope, destination); at most 10 per (client, scope).
    r = requests.post(
        f"{bc.v3}/hooks",
        headers=AUTH,
        json={"scope": "store/order/*", "destination": receiver.url()},
        timeout=10,
    )
    assert r.status_code == 422 and r.json()["type"] == "/api-docs/getting-started/api-status-codes"
    for i in range(9):
        make_hook(bc, "store/order/*", receiver.url(f"d{i}"))
    r = requests.post(
        f"{bc.v3}/hooks",
        headers=AUTH,
        json={"scope": "store/order/*", "destination": receiver.url("d10")},
        timeout=10,
    )
    assert r.status_code == 422 and "10" in r.json()["title"]
    make_hook(bc, "store/order/created", receiver.url("d10"))  # another scope is fine
    for bad in ({"scope": "store/nope", "destination": receiver.url()}, {"scope": "store/order/*"}):
        r = requests.post(f"{bc.v3}/hooks", headers=AUTH, json=bad, timeout=10)
        assert r.status_code == 422 and r.json()["errors"]

    r = requests.delete(f"{bc.v3}/hooks/{hook['id']}", headers=AUTH, timeout=10)
    assert r.status_code == 200 and r.json()["data"]["id"] == hook["id"]
    r = bc.get(f"{bc.v3}/hooks/{hook['id']}")
    assert r.status_code == 404 and r.json()["status"] == 404


def test_https_destination_switch(bc: Sim, receiver: Receiver) -> None:
    bc.sim.configure(require_https_destination=True)
    r = requests.post(
        f"{bc.v3}/hooks",
        headers=AUTH,
        json={"scope": "store/order/*", "destination": receiver.url()},
        timeout=10,
    )
    assert r.status_code == 422 and "destination" in r.json()["errors"]
    ok = make_hook(bc, "store/order/*", "https://hooks.example.com/bc")
    assert ok["destination"] == "https://hooks.example.com/bc"


def test_webhooks_thin_signed_payloads_for_every_event(bc: Sim, receiver: Receiver) -> None:
    sim = bc.sim
    for scope in ("store/order/*", "store/shipment/*", "store/customer/*"):
        make_hook(bc, scope, receiver.url(), headers={"x-mlc-hook-secret": "8e0f"})
    customer = sim.create_customer(email="c@example.org")
    order = sim.create_order(customer_id=customer["id"], lines=[{"sku": "A", "quantity": 2}])
    oid = order["id"]
    txn = sim.capture_payment(oid)
    lines = bc.get(f"{bc.v2}/orders/{oid}/products").json()
    shipment = sim.ship_order(oid)
    refund = sim.refund_order(oid, items=[{"order_product_id": lines[0]["id"], "quantity": 1}])
    sim.update_order(oid, staff_notes="checked")
    sim.flush_webhooks()

    lib = Webhook(base64.b64encode(DEFAULT_CLIENT_SECRET.encode()).decode())
    seen: dict[str, list[dict[str, Any]]] = {}
    for call in receiver.calls:
        headers = call["headers"]
        assert lib.verify(call["body"], headers) == json.loads(call["body"])
        assert headers["X-Mlc-Hook-Secret"] == "8e0f"
        assert headers["Webhook-Signature"].startswith("v1,")
        assert abs(int(headers["Webhook-Timestamp"]) - time.time()) < 60
        payload = json.loads(call["body"])
        assert set(payload) == {"scope", "store_id", "data", "hash", "created_at", "producer"}
        assert payload["store_id"] == "1001234" and payload["producer"] == "stores/sbx1"
        canonical = json.dumps(payload["data"], sort_keys=True, separators=(",", ":"))
        assert payload["hash"] == hashlib.sha1(canonical.encode()).hexdigest()
        seen.setdefault(payload["scope"], []).append(payload["data"])
        # Tampering breaks the signature.
        with pytest.raises(Exception):
            lib.verify(call["body"].replace('"store_id"', '"store_Id"'), headers)

    assert seen["store/customer/created"] == [{"type": "customer", "id": customer["id"]}]
    assert seen["store/order/created"] == [{"type": "order", "id": oid}]
    assert seen["store/order/transaction/created"] == [
        {
            "type": "transaction",
            "order_id": oid,
            "transaction_id": txn["id"],
            "transaction_type": "capture",
        }
    ]
    assert seen["store/shipment/created"] == [
        {"type": "shipment", "id": shipment["id"], "orderId": oid}
    ]
    assert seen["store/order/refund/created"] == [
        {"type": "order", "id": oid, "refund": {"refund_id": refund["id"]}}
    ]
    # Delivery order is not guaranteed (as on BigCommerce): compare sorted.
    transitions = sorted(
        (d["status"]["previous_status_id"], d["status"]["new_status_id"])
        for d in seen["store/order/statusUpdated"]
    )
    assert transitions == [(2, 14), (7, 11), (11, 2)]
    assert all(d["type"] == "order" and d["id"] == oid for d in seen["store/order/statusUpdated"])
    assert len(seen["store/order/updated"]) == 4  # capture, ship, refund, staff notes
    payloads = [p for p in receiver.payloads() if p["scope"] == "store/order/updated"]
    assert len({p["hash"] for p in payloads}) == 1  # identical data -> identical hash
    log = sim.deliveries()
    assert len(log) == len(receiver.calls) and {d["outcome"] for d in log} == {"success"}
    r = requests.get(
        f"{bc.admin}/deliveries", params={"scope": "store/shipment/created"}, timeout=10
    )
    assert r.json()["count"] == 1 and r.json()["deliveries"][0]["status_code"] == 200


def test_signature_matches_reference_example() -> None:
    body = (
        '{"scope":"store/order/statusUpdated","store_id":"1001234","data":{"type":"order",'
        '"id":3105,"status":{"previous_status_id":11,"new_status_id":2}},'
        '"hash":"6b1f0c2e9a7d4e3b8c5a1f0e2d3c4b5a69788796","created_at":1741943000,'
        '"producer":"stores/k7p2r9"}'
    )
    expected = "v1,N9vZ+nrqMq2jQw20RRn+Qp6fsw8qRfmPWKqQpA39z6U="
    assert (
        base64.b64encode(b"demo_client_secret_4f1a").decode() == "ZGVtb19jbGllbnRfc2VjcmV0XzRmMWE="
    )
    assert sign("demo_client_secret_4f1a", "4c1e8b2a-msg", 1741943002, body) == expected
    lib = Webhook("ZGVtb19jbGllbnRfc2VjcmV0XzRmMWE=")
    ts = datetime.fromtimestamp(1741943002, tz=UTC)
    assert lib.sign("4c1e8b2a-msg", ts, body) == expected


def test_retries_keep_webhook_id_then_success(bc: Sim, receiver: Receiver) -> None:
    bc.sim.configure(retry_compression=0.0005)  # 60 s -> 30 ms
    receiver.respond = lambda n: 503 if n < 2 else 204
    make_hook(bc, "store/order/*", receiver.url())
    bc.sim.create_order()
    bc.sim.flush_webhooks(include_retries=True)
    assert len(receiver.calls) == 3
    ids = {c["headers"]["Webhook-Id"] for c in receiver.calls}
    assert len(ids) == 1 and len({c["body"] for c in receiver.calls}) == 1
    gap = receiver.calls[1]["at"] - receiver.calls[0]["at"]
    assert gap >= 0.025  # first retry after 60 s * 0.0005
    log = bc.sim.deliveries()
    assert [d["outcome"] for d in log] == ["failed", "failed", "success"]
    assert [d["attempt"] for d in log] == [1, 2, 3] and log[0]["status_code"] == 503
    assert bc.get(f"{bc.v3}/hooks").json()["data"][0]["is_active"] is True


def test_last_retry_failure_deactivates_hook_then_put_reactivates(
    bc: Sim, receiver: Receiver
) -> None:
    bc.sim.configure(retry_compression=0.00001)  # the whole ~48 h schedule in ~1.7 s
    receiver.respond = lambda n: 500
    hook = make_hook(bc, "store/order/*", receiver.url())
    bc.sim.create_order()
    bc.sim.flush_webhooks(timeout=20, include_retries=True)
    assert len(receiver.calls) == 12  # first try + 11 retries
    assert len({c["headers"]["Webhook-Id"] for c in receiver.calls}) == 1
    log = bc.sim.deliveries()
    assert log[-1]["hook_deactivated"] is True and log[-1]["next_retry_at"] is None
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(log)]
    assert gaps[-1] > gaps[0]  # the schedule grows
    data = bc.get(f"{bc.v3}/hooks/{hook['id']}").json()["data"]
    assert data["is_active"] is False
    admin = bc.get(f"{bc.v3}/hooks/admin").json()["data"]
    assert admin["hooks_list"][0]["status"] == "deactivated"
    # Events while deactivated are not sent.
    bc.sim.create_order()
    bc.sim.flush_webhooks()
    assert len(receiver.calls) == 12
    receiver.respond = lambda n: 200
    r = requests.put(
        f"{bc.v3}/hooks/{hook['id']}", headers=AUTH, json={"is_active": True}, timeout=10
    )
    assert r.json()["data"]["is_active"] is True
    assert bc.get(f"{bc.v3}/hooks/admin").json()["data"]["hooks_list"][0]["status"] == "active"
    bc.sim.create_order()
    bc.sim.flush_webhooks()
    assert len(receiver.calls) == 13


def test_domain_blocklist_below_90_percent(bc: Sim, receiver: Receiver) -> None:
    bc.sim.configure(retry_compression=0.01, block_min_requests=10)  # window 1.2 s, block 1.8 s
    receiver.respond = lambda n: 500
    make_hook(bc, "store/order/*", receiver.url())
    for _ in range(10):
        bc.sim.create_order()
    bc.sim.flush_webhooks()
    assert len(receiver.calls) == 10
    blocked = bc.get(f"{bc.v3}/hooks/admin").json()["data"]["blocked_domains"]
    assert len(blocked) == 1
    assert blocked[0]["destination"] == f"127.0.0.1:{receiver.server.port}"
    assert 0 < blocked[0]["time_left"] <= 2
    assert blocked[0]["reasons"][0]["failure_description"] == "HTTP 500"
    assert blocked[0]["reasons"][0]["count"] == 10
    # While blocked, events go to the retry queue without being sent; not deactivation.
    bc.sim.create_order()
    bc.sim.flush_webhooks()
    assert len(receiver.calls) == 10
    assert bc.sim.deliveries()[-1]["outcome"] == "blocked"
    assert bc.get(f"{bc.v3}/hooks").json()["data"][0]["is_active"] is True
    # After the block the retries go out again.
    receiver.respond = lambda n: 200
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and not any(
        d["outcome"] == "success" for d in bc.sim.deliveries()
    ):
        time.sleep(0.05)
    assert any(d["outcome"] == "success" for d in bc.sim.deliveries())


def test_pause_resume_and_off(bc: Sim, receiver: Receiver) -> None:
    make_hook(bc, "store/order/*", receiver.url())
    r = requests.post(f"{bc.admin}/webhooks", json={"mode": "paused"}, timeout=10)
    assert r.json()["mode"] == "paused"
    bc.sim.create_order()
    bc.sim.flush_webhooks()
    time.sleep(0.1)
    assert receiver.calls == [] and r.status_code == 200
    assert requests.get(f"{bc.admin}/webhooks", timeout=10).json()["queued"] == 1
    requests.post(f"{bc.admin}/webhooks", json={"mode": "on"}, timeout=10)
    r = requests.post(f"{bc.admin}/webhooks/flush", json={"timeout": 5}, timeout=10)
    assert r.status_code == 200 and len(receiver.calls) == 1
    bc.sim.set_webhook_mode("off")
    bc.sim.create_order()
    bc.sim.set_webhook_mode("on")
    bc.sim.flush_webhooks()
    assert len(receiver.calls) == 1
    assert requests.get(f"{bc.admin}/webhooks", timeout=10).json()["suppressed_events"] == 1
    # Admin deactivation behaves like the system's.
    hook_id = bc.get(f"{bc.v3}/hooks").json()["data"][0]["id"]
    requests.post(f"{bc.admin}/hooks/{hook_id}/deactivate", timeout=10)
    assert bc.get(f"{bc.v3}/hooks/admin").json()["data"]["hooks_list"][0]["status"] == "deactivated"
