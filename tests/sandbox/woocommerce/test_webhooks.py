"""WooCommerce simulator: signed, unretried, auto-disabling webhooks (§6)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
from typing import Any

from tests.sandbox.woocommerce.support import Receiver, Shop, assert_error

# ============================================================================ §6 webhooks


def _create_hook(
    shop: Shop, receiver: Receiver, topic: str, secret: str = "s3cret"
) -> dict[str, Any]:
    r = shop.post(
        "/webhooks",
        json={"name": topic, "topic": topic, "delivery_url": receiver.url, "secret": secret},
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_webhook_ping_then_signed_deliveries(seeded: Shop, receiver: Receiver) -> None:
    hook = _create_hook(seeded, receiver, "order.updated")
    assert hook["status"] == "active" and "secret" not in hook
    ping = receiver.calls[0]  # synchronous, before the 201 came back
    assert ping["form"] == {"webhook_id": str(hook["id"])}
    assert ping["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert not any(h.startswith("X-Wc-Webhook") for h in ping["headers"])

    order = seeded.sim.orders()[0]
    seeded.sim.state.clock.advance(60)
    changed = seeded.sim.mutate_order(order["id"], customer_note="Ring twice — thanks/obrigado")
    assert seeded.sim.flush_webhooks(5)
    call = receiver.calls[1]
    h, raw = call["headers"], call["body"]
    expected = base64.b64encode(hmac.new(b"s3cret", raw, hashlib.sha256).digest()).decode()
    assert h["X-Wc-Webhook-Signature"] == expected
    assert h["X-Wc-Webhook-Source"] == seeded.sim.config.site_url + "/"
    assert (h["X-Wc-Webhook-Topic"], h["X-Wc-Webhook-Resource"], h["X-Wc-Webhook-Event"]) == (
        "order.updated", "order", "updated",
    )  # fmt: skip
    assert h["X-Wc-Webhook-Id"] == str(hook["id"])
    assert re.fullmatch(r"[0-9a-f]{32}", h["X-Wc-Webhook-Delivery-Id"])
    assert h["Content-Type"] == "application/json"
    payload = json.loads(raw)
    assert (
        payload["id"] == order["id"]
        and payload["date_modified_gmt"] == changed["date_modified_gmt"]
    )
    assert payload["customer_note"] == "Ring twice — thanks/obrigado"
    # PHP-style JSON: "/" escaped and non-ASCII as \u escapes; re-serialising breaks the signature.
    assert b"\\/" in raw and b"\\u2014" in raw
    assert json.dumps(payload).encode() != raw

    # API writes fire too; other topics do not reach this hook.
    seeded.put(f"/orders/{order['id']}", json={"status": "on-hold"})
    seeded.post("/customers", json={"email": "new.person@example.org"})
    assert seeded.sim.flush_webhooks(5)
    assert [c["headers"]["X-Wc-Webhook-Topic"] for c in receiver.calls[1:]] == ["order.updated"] * 2
    deliveries = seeded.admin("GET", "/woo/deliveries", params={"webhook_id": hook["id"]}).json()
    assert [d["kind"] for d in deliveries["deliveries"]] == ["ping", "event", "event"]
    assert all(d["ok"] for d in deliveries["deliveries"])


def test_webhook_disabled_after_consecutive_failures_and_reenabled(
    seeded: Shop, receiver: Receiver
) -> None:
    hook = _create_hook(seeded, receiver, "order.updated")
    receiver.status = 500
    order_id = seeded.sim.orders()[0]["id"]
    limit = seeded.sim.config.webhook_failures_to_disable  # 5: the 7th failure disables (core)
    for n in range(limit + 1):
        seeded.sim.mutate_order(order_id)
        assert seeded.sim.flush_webhooks(5)
        state = next(w for w in seeded.sim.webhooks() if w["id"] == hook["id"])
        assert (state["status"], state["failure_count"]) == ("active", n + 1)
    seeded.sim.mutate_order(order_id)
    assert seeded.sim.flush_webhooks(5)
    assert seeded.get(f"/webhooks/{hook['id']}").json()["status"] == "disabled"
    calls = len(receiver.calls)
    seeded.sim.mutate_order(order_id)
    assert seeded.sim.flush_webhooks(5)
    assert len(receiver.calls) == calls  # disabled: nothing sent, no retries either

    receiver.status = 200
    r = seeded.put(f"/webhooks/{hook['id']}", json={"status": "active"})
    assert r.status_code == 200 and r.json()["status"] == "active"
    seeded.sim.mutate_order(order_id)
    assert seeded.sim.flush_webhooks(5)
    assert len(receiver.calls) == calls + 1
    state = next(w for w in seeded.sim.webhooks() if w["id"] == hook["id"])
    assert state["failure_count"] == 0 and state["status"] == "active"


def test_webhook_connection_errors_count_as_failures(seeded: Shop) -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/gone"
    r = seeded.post(
        "/webhooks", json={"topic": "order.updated", "delivery_url": url, "secret": "x"}
    )
    assert r.status_code == 201  # a failed ping does not stop creation
    seeded.sim.mutate_order(seeded.sim.orders()[0]["id"])
    assert seeded.sim.flush_webhooks(5)
    hook = seeded.sim.webhooks()[0]
    assert hook["failure_count"] == 1
    events = [d for d in seeded.sim.deliveries() if d["kind"] == "event"]
    assert events[0]["error"] and events[0]["ok"] is False


def test_webhook_topics_crud_and_deleted_payloads(shop: Shop, receiver: Receiver) -> None:
    r = shop.post("/webhooks", json={"topic": "order.exploded", "delivery_url": receiver.url})
    assert_error(r, 400, "woocommerce_rest_shop_webhook_invalid_topic")
    r = shop.post("/webhooks", json={"topic": "order.created", "delivery_url": "ftp://x"})
    assert_error(r, 400, "woocommerce_rest_shop_webhook_invalid_delivery_url")
    hooks = {
        t: _create_hook(shop, receiver, t)
        for t in ("order.created", "order.deleted", "customer.created", "customer.deleted")
    }
    listed = shop.get("/webhooks").json()
    assert {w["topic"] for w in listed} == set(hooks)
    receiver.calls.clear()
    shop.sim.seed(customers=2, orders=2, seed=9)
    assert shop.sim.flush_webhooks(5)
    topics = sorted(c["headers"]["X-Wc-Webhook-Topic"] for c in receiver.calls)
    assert topics == ["customer.created"] * 2 + ["order.created"] * 2
    receiver.calls.clear()
    shop.sim.seed(customers=1, orders=1, seed=10, silent=True)
    order_id = shop.sim.orders()[0]["id"]
    customer_id = shop.sim.customers()[0]["id"]
    shop.delete(f"/orders/{order_id}")
    shop.delete(f"/customers/{customer_id}", params={"force": "true"})
    assert shop.sim.flush_webhooks(5)
    bodies = {c["headers"]["X-Wc-Webhook-Topic"]: json.loads(c["body"]) for c in receiver.calls}
    assert bodies == {"order.deleted": {"id": order_id}, "customer.deleted": {"id": customer_id}}
    hid = hooks["order.created"]["id"]
    assert_error(shop.delete(f"/webhooks/{hid}"), 501, "woocommerce_rest_trash_not_supported")
    assert shop.delete(f"/webhooks/{hid}", params={"force": "true"}).status_code == 200
    assert_error(shop.get(f"/webhooks/{hid}"), 404, "woocommerce_rest_shop_webhook_invalid_id")
