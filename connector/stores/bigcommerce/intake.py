"""BigCommerce webhook intake (bigcommerce.md §5): verify (Standard Webhooks, per-source
secret), store the delivery deduplicated, say which resource to fetch. Payloads are stubs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.config import get_settings
from connector.db import session_scope
from connector.pipeline.targets import source_credentials
from connector.pipeline.webhooks import (
    RESOURCE_ID,
    Verdict,
    find_source,
    refused,
    store_delivery,
)
from connector.stores.bigcommerce.webhooks import (
    WebhookRejected,
    check_custom_secret,
    dedupe_key,
    verify_bc_webhook,
)

CUSTOM_SECRET_HEADER = "x-mlc-hook-secret"
#: Verified against when the source is unknown, so every refusal costs the same HMAC work.
_DUMMY_SECRET = "mlc-no-such-source-secret"


def bc_resource(payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """The resource an event is about: every order-side event (created, updated, status,
    transaction, refund, shipment) fetches its order with the order's payments, shipments and
    refunds; customer events fetch the customer (bigcommerce.md §5 payload variants)."""
    scope = str(payload.get("scope") or "")
    data = payload.get("data") or {}
    if not isinstance(data, dict):
        return None
    if scope.startswith("store/shipment/"):
        order_id = data.get("orderId") or data.get("order_id")
        return ("order", str(order_id)) if order_id else None
    if scope.startswith("store/order/"):
        order_id = data.get("order_id") if "order_id" in data else data.get("id")
        if scope.startswith("store/order/refund") and isinstance(data.get("refund"), dict):
            order_id = data.get("id") or data["refund"].get("order_id") or order_id
        return ("order", str(order_id)) if order_id else None
    if scope.startswith("store/customer/"):
        raw_address = data.get("address")
        address: dict[str, Any] = raw_address if isinstance(raw_address, dict) else {}
        customer_id = data.get("id") if not scope.startswith("store/customer/address") else (
            data.get("customer_id") or address.get("customer_id"))
        return ("customer", str(customer_id)) if customer_id else None
    return None


def accept_bigcommerce(tenant_name: str, source_name: str, headers: Mapping[str, str],
                       raw_body: bytes) -> Verdict:
    """Replays: the Standard Webhooks signature covers ``webhook-id`` and the timestamp, stale
    deliveries are refused (``MLC_WEBHOOK_TOLERANCE_S``), and within the tolerance a replay
    is deduplicated on the signed ``webhook-id`` and on the event's ``hash``/``created_at``; the
    per-resource fetch cap applies as for WooCommerce."""
    settings = get_settings()
    if len(raw_body) > settings.webhook_max_body_bytes:
        return Verdict(413, "body too large", outcome="too_large")
    content_type = (headers.get("Content-Type") or headers.get("content-type") or "").lower()
    if not content_type.startswith("application/json"):
        return Verdict(415, "content type must be application/json", outcome="malformed")
    with session_scope() as s:
        source = find_source(s, tenant_name, source_name, "bigcommerce")
        creds = source_credentials(source) if source is not None else {}
        secret = creds.get("client_secret") or ""
        try:
            payload = verify_bc_webhook(raw_body, headers, secret or _DUMMY_SECRET,
                                        tolerance_s=settings.webhook_tolerance_s)
        except WebhookRejected as exc:
            if source is None or not secret:
                return refused("unknown tenant or source" if source is None
                               else "no client secret configured for this source")
            if exc.reason == "malformed JSON":
                return Verdict(400, exc.reason, outcome="malformed")
            return refused(exc.reason)
        if source is None or not secret:  # a forgery that matched the dummy secret
            return refused("unknown tenant or source")
        expected_custom = creds.get("hook_secret")
        if expected_custom and not check_custom_secret(headers, CUSTOM_SECRET_HEADER,
                                                       expected_custom):
            return refused("custom secret header missing or wrong")
        target = bc_resource(payload)
        if target is not None and not RESOURCE_ID.match(target[1]):
            return Verdict(400, "payload has no valid resource id", outcome="malformed")
        lowered = {k.lower(): v for k, v in headers.items()}
        message_id = lowered.get("webhook-id")
        new = store_delivery(s, source, dedupe=dedupe_key(payload, message_id),
                             message_id=message_id, topic=str(payload.get("scope") or "?"),
                             entity=target[0] if target else None,
                             resource_id=target[1] if target else None, body=payload)
        if not new:
            return Verdict(200, "duplicate delivery ignored", outcome="duplicate")
        if target is None:
            return Verdict(200, "event stored; nothing to fetch", outcome="stored")
        return Verdict(200, "accepted", [(source.id, target[0], target[1])], outcome="accepted")
