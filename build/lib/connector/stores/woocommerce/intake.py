"""WooCommerce webhook intake (woocommerce.md §6): verify ``X-WC-Webhook-Signature`` with the
source's secret, store the delivery deduplicated, say which resource to fetch fresh by id."""

from __future__ import annotations

import json
from collections.abc import Mapping

from connector.config import get_settings
from connector.db import session_scope
from connector.pipeline.targets import source_credentials
from connector.pipeline.webhooks import Verdict, find_source, store_delivery
from connector.stores.woocommerce.webhooks import verify_woo_signature, woo_ping_webhook_id


def accept_woocommerce(tenant_name: str, source_name: str, headers: Mapping[str, str],
                       raw_body: bytes) -> Verdict:
    settings = get_settings()
    if len(raw_body) > settings.webhook_max_body_bytes:
        return Verdict(413, "body too large")
    lowered = {k.lower(): v for k, v in headers.items()}
    with session_scope() as s:
        source = find_source(s, tenant_name, source_name, "woocommerce")
        if source is None:
            return Verdict(404, "unknown tenant or source")
        if woo_ping_webhook_id(headers, raw_body) is not None:
            return Verdict(200, "ping acknowledged")  # creation ping: exactly 200 (woo §6)
        if not (lowered.get("content-type") or "").lower().startswith("application/json"):
            return Verdict(415, "content type must be application/json")
        secret = source_credentials(source).get("webhook_secret")
        if not secret:
            return Verdict(401, "no webhook secret configured for this source")
        if not verify_woo_signature(raw_body, lowered.get("x-wc-webhook-signature"), secret):
            return Verdict(401, "signature mismatch")
        try:
            payload = json.loads(raw_body)
        except ValueError:
            return Verdict(400, "malformed JSON")
        if not isinstance(payload, dict) or not isinstance(payload.get("id"), int):
            return Verdict(400, "payload has no resource id")
        resource = (lowered.get("x-wc-webhook-resource") or "").lower()
        event = (lowered.get("x-wc-webhook-event") or "").lower()
        entity = {"order": "order", "customer": "customer"}.get(resource)
        delivery = lowered.get("x-wc-webhook-delivery-id") or ""
        new = store_delivery(s, source, dedupe=f"woo:{delivery or payload['id']}:{event}",
                     message_id=delivery or None,
                     topic=lowered.get("x-wc-webhook-topic") or f"{resource}.{event}",
                     entity=entity, resource_id=str(payload["id"]),
                     body={"id": payload["id"]})  # the full body may hold personal data
        if not new:
            return Verdict(200, "duplicate delivery ignored")
        if entity is None or event == "deleted":
            return Verdict(200, "event stored; nothing to fetch")
        return Verdict(200, "accepted", [(source.id, entity, str(payload["id"]))])
