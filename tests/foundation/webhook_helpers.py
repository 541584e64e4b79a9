"""Shared set-up for the webhook hardening tests: a tenant with a signed WooCommerce source and
a BigCommerce source, signed deliveries, and the broker's fetch queue."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any

from connector.db import session_scope
from connector.handles import get_vault
from connector.operations.admin import add_source, add_tenant
from connector.stores.bigcommerce.webhooks import sign_bc_webhook
from connector.stores.woocommerce.webhooks import sign_woo_body

WOO_SECRET = "woo-hook-secret-7f3a"
BC_SECRET = "bc-client-secret-91c2"
WOO_URL = "/webhooks/woo/acme/shop"
BC_URL = "/webhooks/bc/acme/bc"


def make_sources() -> dict[str, int]:
    with session_scope() as s:
        t = add_tenant(s, "acme", "10")
        woo = add_source(s, get_vault(), t, name="shop", system="woocommerce",
                         base_url="https://shop.test",
                         credentials={"consumer_key": "ck_abcdef", "consumer_secret": "cs_abcdef",
                                      "webhook_secret": WOO_SECRET})
        bare = add_source(s, get_vault(), t, name="bare", system="woocommerce",
                          base_url="https://bare.test",
                          credentials={"consumer_key": "ck_abcdef", "consumer_secret": "cs_x12"})
        bc = add_source(s, get_vault(), t, name="bc", system="bigcommerce",
                        base_url="https://api.bc.test",
                        credentials={"store_hash": "h", "access_token": "tok-123456",
                                     "client_id": "c", "client_secret": BC_SECRET})
        return {"woo": woo.id, "bare": bare.id, "bc": bc.id}


def woo_headers(body: bytes, *, secret: str = WOO_SECRET, delivery: str | None = None,
                resource: str = "order", event: str = "updated") -> dict[str, str]:
    return {"Content-Type": "application/json",
            "X-WC-Webhook-Topic": f"{resource}.{event}", "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Delivery-ID": delivery or uuid.uuid4().hex,
            "X-WC-Webhook-Signature": sign_woo_body(body, secret)}


def bc_delivery(data: dict[str, Any], *, scope: str = "store/order/updated",
                secret: str = BC_SECRET, msg_id: str | None = None,
                stamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    stamp = int(time.time()) if stamp is None else stamp
    body = json.dumps({"scope": scope, "store_id": "1", "data": data,
                       "hash": hashlib.sha1(json.dumps(data, sort_keys=True).encode())
                       .hexdigest(), "created_at": stamp, "producer": "stores/h"}).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    return body, {"Content-Type": "application/json", "webhook-id": msg_id,
                  "webhook-timestamp": str(stamp),
                  "webhook-signature": sign_bc_webhook(body, msg_id, stamp, secret)}


def drain_fetch_queue() -> None:
    """Drop the fetch messages these tests enqueued: no worker runs during them, and a later
    integration test's worker must not fetch for a source id that now names another source."""
    from tasks.app import app

    broker = app.connection_for_write().default_channel.client
    for key in list(broker.scan_iter("fetch*")):
        if broker.type(key) in (b"list", "list"):
            broker.delete(key)
