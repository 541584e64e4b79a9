"""Webhook intake (design.md §3.2, §6): verify, store the delivery, say what to fetch.

The web process calls :func:`accept_bigcommerce` / :func:`accept_woocommerce` with the raw body
and headers; they verify the signature with the source's own secret (so a tenant's secret is
valid only for that tenant's endpoint), dedupe redeliveries in Postgres and return what the web
layer must enqueue *after* the commit. Payloads are stubs (BigCommerce) or may be stale
(WooCommerce is async): the resource is always fetched fresh by id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from connector.config import get_settings
from connector.db import session_scope
from connector.models import Source, Tenant, WebhookDelivery
from connector.services.targets import source_credentials
from connector.sources.bigcommerce.webhooks import (
    WebhookRejected,
    check_custom_secret,
    dedupe_key,
    verify_bc_webhook,
)
from connector.sources.woocommerce.webhooks import verify_woo_signature, woo_ping_webhook_id

log = logging.getLogger(__name__)

CUSTOM_SECRET_HEADER = "x-mlc-hook-secret"


@dataclass
class Verdict:
    """What the web layer answers, and what it enqueues after the commit."""

    status: int
    message: str
    fetch: list[tuple[int, str, str]] = field(default_factory=list)  # (source, entity, id)


def _source(s: Session, tenant_name: str, source_name: str, system: str) -> Source | None:
    return s.scalar(
        select(Source).join(Tenant, Tenant.id == Source.tenant_id)
        .where(Tenant.name == tenant_name, Source.name == source_name, Source.system == system))


def _store(s: Session, source: Source, *, dedupe: str, message_id: str | None, topic: str,
           entity: str | None, resource_id: str | None, body: dict[str, Any]) -> bool:
    """Insert the delivery; False when it was already received (a redelivery: no-op)."""
    if message_id and s.scalar(select(WebhookDelivery.id).where(
            WebhookDelivery.source_id == source.id,
            WebhookDelivery.message_id == message_id).limit(1)) is not None:
        return False
    new_id = s.execute(
        insert(WebhookDelivery).values(
            tenant_id=source.tenant_id, source_id=source.id, dedupe_key=dedupe[:200],
            message_id=(message_id or None) and message_id[:200], topic=topic[:100],
            entity=entity, resource_id=resource_id, body=body, state="received")
        .on_conflict_do_nothing(constraint="uq_webhook_deliveries_dedupe")
        .returning(WebhookDelivery.id)).scalar_one_or_none()
    return new_id is not None


# --- BigCommerce ----------------------------------------------------------------------------


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
        customer_id = data.get("id") if not scope.startswith("store/customer/address") else (
            data.get("customer_id") or (data.get("address") or {}).get("customer_id"))
        return ("customer", str(customer_id)) if customer_id else None
    return None


def accept_bigcommerce(tenant_name: str, source_name: str, headers: Mapping[str, str],
                       raw_body: bytes) -> Verdict:
    settings = get_settings()
    if len(raw_body) > settings.webhook_max_body_bytes:
        return Verdict(413, "body too large")
    content_type = (headers.get("Content-Type") or headers.get("content-type") or "").lower()
    if not content_type.startswith("application/json"):
        return Verdict(415, "content type must be application/json")
    with session_scope() as s:
        source = _source(s, tenant_name, source_name, "bigcommerce")
        if source is None:
            return Verdict(404, "unknown tenant or source")
        creds = source_credentials(source)
        try:
            payload = verify_bc_webhook(raw_body, headers, creds.get("client_secret", ""),
                                        tolerance_s=settings.webhook_tolerance_s)
        except WebhookRejected as exc:
            status = 400 if exc.reason == "malformed JSON" else 401
            return Verdict(status, exc.reason)
        expected_custom = creds.get("hook_secret")
        if expected_custom and not check_custom_secret(headers, CUSTOM_SECRET_HEADER,
                                                       expected_custom):
            return Verdict(401, "custom secret header missing or wrong")
        target = bc_resource(payload)
        lowered = {k.lower(): v for k, v in headers.items()}
        message_id = lowered.get("webhook-id")
        new = _store(s, source, dedupe=dedupe_key(payload, message_id), message_id=message_id,
                     topic=str(payload.get("scope") or "?"),
                     entity=target[0] if target else None,
                     resource_id=target[1] if target else None, body=payload)
        if not new:
            return Verdict(200, "duplicate delivery ignored")
        if target is None:
            return Verdict(200, "event stored; nothing to fetch")
        return Verdict(200, "accepted", [(source.id, target[0], target[1])])


# --- WooCommerce ----------------------------------------------------------------------------


def accept_woocommerce(tenant_name: str, source_name: str, headers: Mapping[str, str],
                       raw_body: bytes) -> Verdict:
    settings = get_settings()
    if len(raw_body) > settings.webhook_max_body_bytes:
        return Verdict(413, "body too large")
    lowered = {k.lower(): v for k, v in headers.items()}
    with session_scope() as s:
        source = _source(s, tenant_name, source_name, "woocommerce")
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
        new = _store(s, source, dedupe=f"woo:{delivery or payload['id']}:{event}",
                     message_id=delivery or None,
                     topic=lowered.get("x-wc-webhook-topic") or f"{resource}.{event}",
                     entity=entity, resource_id=str(payload["id"]),
                     body={"id": payload["id"]})  # the full body may hold personal data
        if not new:
            return Verdict(200, "duplicate delivery ignored")
        if entity is None or event == "deleted":
            return Verdict(200, "event stored; nothing to fetch")
        return Verdict(200, "accepted", [(source.id, entity, str(payload["id"]))])


def fetch_resource(source_id: int, entity: str, external_id: str, origin: str) -> int:
    """Fetch one resource by id and stage it (the task behind every accepted webhook)."""
    from importlib import import_module

    from connector.services.fetch import ONE_FETCHERS, SYSTEM_MODULES

    with session_scope() as s:
        source = s.get(Source, source_id)
        if source is None or source.status != "active":
            return 0
        system = source.system
    import_module(SYSTEM_MODULES[system])
    return len(ONE_FETCHERS[system](source_id, entity, external_id, origin))


def claim_unenqueued(older_than_s: int = 60, limit: int = 500) -> list[tuple[int, str, str]]:
    """Deliveries stored but never handed to a worker (the web process died, or the broker
    was down between commit and enqueue): mark them enqueued and return what to fetch."""
    from datetime import UTC, datetime, timedelta

    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    with session_scope() as s:
        rows = s.scalars(
            select(WebhookDelivery).where(WebhookDelivery.state == "received",
                                          WebhookDelivery.entity.is_not(None),
                                          WebhookDelivery.received_at < cutoff)
            .order_by(WebhookDelivery.id).limit(limit).with_for_update(skip_locked=True)).all()
        out = []
        for row in rows:
            row.state = "enqueued"
            out.append((row.source_id, str(row.entity), str(row.resource_id)))
        return out
