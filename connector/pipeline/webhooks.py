"""Webhook intake (design.md §3.2, §6): verify, store the delivery, say what to fetch.

The web process calls :func:`accept` with the endpoint's store path, the raw body and headers;
the store's intake (its plugin's ``accept_webhook``) verifies the signature with the source's own
secret (so a tenant's secret is valid only for that tenant's endpoint), dedupes redeliveries in
Postgres through :func:`store_delivery` and returns what the web layer must enqueue *after* the
commit. Payloads are stubs (BigCommerce) or may be stale (WooCommerce is async): the resource
is always fetched fresh by id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from connector.db import session_scope
from connector.models import Source, Tenant, WebhookDelivery
from connector.stores.registry import by_webhook_path, get_store

log = logging.getLogger(__name__)


@dataclass
class Verdict:
    """What the web layer answers, and what it enqueues after the commit."""

    status: int
    message: str
    fetch: list[tuple[int, str, str]] = field(default_factory=list)  # (source, entity, id)


def find_source(s: Session, tenant_name: str, source_name: str, system: str) -> Source | None:
    return s.scalar(
        select(Source).join(Tenant, Tenant.id == Source.tenant_id)
        .where(Tenant.name == tenant_name, Source.name == source_name, Source.system == system))


def store_delivery(s: Session, source: Source, *, dedupe: str, message_id: str | None,
                   topic: str, entity: str | None, resource_id: str | None,
                   body: dict[str, Any]) -> bool:
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


def accept(path: str, tenant_name: str, source_name: str, headers: Mapping[str, str],
           raw_body: bytes) -> tuple[str, Verdict]:
    """Route a delivery to the intake of the store served at ``/webhooks/<path>/``; returns
    the store's system name (for the log) and the verdict."""
    plugin = by_webhook_path(path)
    if plugin is None or plugin.accept_webhook is None:
        return path, Verdict(404, "unknown webhook endpoint")
    return plugin.system, plugin.accept_webhook(tenant_name, source_name, headers, raw_body)


def fetch_resource(source_id: int, entity: str, external_id: str, origin: str) -> int:
    """Fetch one resource by id and stage it (the task behind every accepted webhook)."""
    with session_scope() as s:
        source = s.get(Source, source_id)
        if source is None or source.status != "active":
            return 0
        system = source.system
    return len(get_store(system).fetch_one(source_id, entity, external_id, origin))


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
