"""WooCommerce webhook intake (woocommerce.md §6): verify ``X-WC-Webhook-Signature`` with the
source's secret, store the delivery deduplicated, say which resource to fetch fresh by id.

WooCommerce signatures cover the body only (no timestamp), and ``X-WC-Webhook-Delivery-ID`` is
not signed: deduplicating on it let one captured body be replayed without limit under fresh
delivery ids. Deliveries are therefore deduplicated on the signed content — resource, id and a
hash of the raw body — and the fetches a store can cause per resource are capped
(``connector.pipeline.webhooks.allow_fetch``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from connector.config import get_settings
from connector.db import session_scope
from connector.pipeline.targets import source_credentials
from connector.pipeline.webhooks import (
    Verdict,
    clean_text,
    find_source,
    refused,
    store_delivery,
)
from connector.stores.woocommerce.webhooks import verify_woo_signature, woo_ping_webhook_id

#: Verified against when the source is unknown or has no secret, so every refusal costs the
#: same HMAC work (no timing difference between "unknown source" and "bad signature").
_DUMMY_SECRET = "mlc-no-such-source-secret"
_ENTITIES = {"order": "order", "customer": "customer"}


def woo_dedupe_key(resource: str, resource_id: int, raw_body: bytes) -> str:
    """Dedupe on what the signature covers: the same body for the same resource is stored once,
    whatever delivery id it arrives with."""
    return f"woo:{resource}:{resource_id}:{hashlib.sha256(raw_body).hexdigest()}"


def accept_woocommerce(tenant_name: str, source_name: str, headers: Mapping[str, str],
                       raw_body: bytes) -> Verdict:
    settings = get_settings()
    if len(raw_body) > settings.webhook_max_body_bytes:
        return Verdict(413, "body too large", outcome="too_large")
    lowered = {k.lower(): v for k, v in headers.items()}
    if woo_ping_webhook_id(headers, raw_body) is not None:
        # Creation ping: exactly 200 (woo §6), nothing stored; the same answer for every
        # endpoint, so a ping cannot tell whether a tenant or source exists.
        return Verdict(200, "ping acknowledged", outcome="ping")
    if not (lowered.get("content-type") or "").lower().startswith("application/json"):
        return Verdict(415, "content type must be application/json", outcome="malformed")
    signature = lowered.get("x-wc-webhook-signature")
    with session_scope() as s:
        source = find_source(s, tenant_name, source_name, "woocommerce")
        secret = source_credentials(source).get("webhook_secret") if source is not None else None
        if source is None or not secret:
            verify_woo_signature(raw_body, signature or "x", _DUMMY_SECRET)
            return refused("unknown tenant or source" if source is None
                           else "no webhook secret configured for this source")
        if not verify_woo_signature(raw_body, signature, secret):
            return refused("signature mismatch")
        try:
            payload = json.loads(raw_body)
        except ValueError:
            return Verdict(400, "malformed JSON", outcome="malformed")
        resource_id = payload.get("id") if isinstance(payload, dict) else None
        # bool is an int in Python: {"id": true} is not a resource id.
        if type(resource_id) is not int or not 0 < resource_id < 10**19:
            return Verdict(400, "payload has no resource id", outcome="malformed")
        resource = clean_text(lowered.get("x-wc-webhook-resource") or "", 40).lower()
        event = clean_text(lowered.get("x-wc-webhook-event") or "", 40).lower()
        entity = _ENTITIES.get(resource)
        delivery = lowered.get("x-wc-webhook-delivery-id") or ""
        new = store_delivery(s, source, dedupe=woo_dedupe_key(resource, resource_id, raw_body),
                             message_id=None,
                             topic=lowered.get("x-wc-webhook-topic") or f"{resource}.{event}",
                             entity=entity, resource_id=str(resource_id),
                             # the full body may hold personal data
                             body={"id": resource_id, "delivery_id": clean_text(delivery, 200)})
        if not new:
            return Verdict(200, "duplicate delivery ignored", outcome="duplicate")
        if entity is None or event == "deleted":
            return Verdict(200, "event stored; nothing to fetch", outcome="stored")
        return Verdict(200, "accepted", [(source.id, entity, str(resource_id))],
                       outcome="accepted")
