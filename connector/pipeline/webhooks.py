"""Webhook intake (design.md §3.2, §6): verify, store the delivery, say what to fetch.

The web process calls :func:`accept` with the endpoint's store path, the raw body and headers;
the store's intake (its plugin's ``accept_webhook``) verifies the signature with the source's own
secret (so a tenant's secret is valid only for that tenant's endpoint), dedupes redeliveries in
Postgres through :func:`store_delivery` and returns what the web layer must enqueue *after* the
commit. Payloads are stubs (BigCommerce) or may be stale (WooCommerce is async): the resource
is always fetched fresh by id.

Hardening (docs/security.md):

- tenant and source names from the URL must be in the safe alphabet (:data:`SAFE_NAME`, also
  enforced when they are created), so a NUL byte, a slash or a control character never reaches
  the database or a log line;
- an unknown tenant or source, a source without a webhook secret and a bad signature all get
  the same answer (:data:`REFUSED`: same status, same body; the intake does the same HMAC
  work either way), so names cannot be enumerated; the log line keeps the real reason;
- a store may only make us fetch one resource so often (:func:`allow_fetch`, a per-source cap
  per resource per minute in Redis): a captured delivery replayed with fresh delivery ids is
  deduplicated on its signed content and, if it changes, still cannot spend the shop's API
  budget at will;
- every outcome is counted (:func:`count`, ``mlc_webhook_deliveries_total`` in ``/metrics``).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from connector.config import get_settings
from connector.crypto import VaultError
from connector.db import session_scope
from connector.logformat import correlation_id
from connector.models import Source, Tenant, WebhookDelivery
from connector.stores.registry import by_webhook_path, get_store

log = logging.getLogger(__name__)

#: Tenant and source names: ASCII letters, digits, ``-`` and ``_``, starting with a letter or
#: digit, at most 63 characters. Enforced at creation and on every webhook URL.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}\Z")
#: Store resource ids we fetch by: decimal digits (WooCommerce and BigCommerce ids are integers).
RESOURCE_ID = re.compile(r"[0-9]{1,19}\Z")
METRICS_KEY = "mlc:metrics:webhooks"
_FETCH_KEY = "mlc:webhook-fetch:"


def safe_name(name: str) -> bool:
    """True when ``name`` is in the safe alphabet of tenant and source names."""
    return bool(SAFE_NAME.match(name))


def clean_text(value: Any, limit: int) -> str:
    """Untrusted text to store: NUL bytes (Postgres refuses them) removed, truncated."""
    return str(value).replace("\x00", "")[:limit]


def jsonb_safe(value: Any) -> Any:
    """``value`` with NUL characters removed from every string (Postgres ``jsonb`` refuses
    ``\\u0000``), so a signed body with one is stored rather than crashing the request."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [jsonb_safe(v) for v in value]
    if isinstance(value, dict):
        return {jsonb_safe(k): jsonb_safe(v) for k, v in value.items()}
    return value


@dataclass
class Verdict:
    """What the web layer answers, and what it enqueues after the commit. ``detail`` is for
    the log line only (the real reason behind a uniform refusal)."""

    status: int
    message: str
    fetch: list[tuple[int, str, str]] = field(default_factory=list)  # (source, entity, id)
    detail: str = ""
    outcome: str = ""


def refused(detail: str) -> Verdict:
    """The one answer for an unknown tenant or source, a missing secret or a bad signature."""
    return Verdict(401, "verification failed", detail=detail, outcome="refused")


def count(system: str, outcome: str) -> None:
    """Count one delivery outcome (``accepted``, ``duplicate``, ``throttled``, ``refused`` …)
    for ``/metrics``. Never fails the request."""
    try:
        from connector.handles import get_redis

        get_redis().hincrby(METRICS_KEY, f"{system}:{outcome}", 1)
    except Exception:  # metrics are best effort; Redis trouble shows in /readyz
        log.debug("webhook metric not counted", exc_info=True)


def delivery_counts() -> dict[tuple[str, str], int]:
    """``(system, outcome) -> count`` since the counters were created."""
    from connector.handles import get_redis

    raw = get_redis().hgetall(METRICS_KEY)
    out: dict[tuple[str, str], int] = {}
    for key, value in raw.items():
        name = key.decode() if isinstance(key, bytes) else str(key)
        system, _, outcome = name.partition(":")
        out[(system, outcome)] = int(value)
    return out


def allow_fetch(source_id: int, entity: str, resource_id: str) -> bool:
    """At most ``MLC_WEBHOOK_FETCHES_PER_MIN`` webhook-driven fetches of one resource of one
    source per minute (fixed window in Redis). Polling stays the source of truth, so a
    refused fetch loses nothing; it only stops a replayed delivery from spending the store's
    API budget."""
    from connector.handles import get_redis

    cap = get_settings().webhook_fetches_per_min
    window = int(time.time() // 60)
    key = f"{_FETCH_KEY}{source_id}:{entity}:{resource_id}:{window}"
    client = get_redis()
    pipe = client.pipeline()
    pipe.incr(key)
    pipe.expire(key, 120)
    used = int(pipe.execute()[0])
    return used <= cap


def find_source(s: Session, tenant_name: str, source_name: str, system: str) -> Source | None:
    return s.scalar(
        select(Source).join(Tenant, Tenant.id == Source.tenant_id)
        .where(Tenant.name == tenant_name, Source.name == source_name, Source.system == system))


def store_delivery(s: Session, source: Source, *, dedupe: str, message_id: str | None, topic: str,
           entity: str | None, resource_id: str | None, body: dict[str, Any]) -> bool:
    """Insert the delivery; False when it was already received (a redelivery: no-op)."""
    message_id = clean_text(message_id, 200) if message_id else None
    if message_id and s.scalar(select(WebhookDelivery.id).where(
            WebhookDelivery.source_id == source.id,
            WebhookDelivery.message_id == message_id).limit(1)) is not None:
        return False
    new_id = s.execute(
        insert(WebhookDelivery).values(
            tenant_id=source.tenant_id, source_id=source.id, dedupe_key=clean_text(dedupe, 200),
            message_id=message_id, topic=clean_text(topic, 100), entity=entity,
            resource_id=resource_id, body=jsonb_safe(body), state="received")
        .on_conflict_do_nothing(constraint="uq_webhook_deliveries_dedupe")
        .returning(WebhookDelivery.id)).scalar_one_or_none()
    if new_id is not None:
        log.info("webhook %s for %s %s stored (delivery %s)", topic, entity or "-",
                 resource_id or "-", new_id, extra={
                     "tenant": source.tenant_id, "source": source.id,
                     "correlation_id": correlation_id(source.id, entity, resource_id)
                     if entity and resource_id else None})
    return new_id is not None


def accept(path: str, tenant_name: str, source_name: str, headers: Mapping[str, str],
           raw_body: bytes) -> tuple[str, Verdict]:
    """Route a delivery to the intake of the store served at ``/webhooks/<path>/``; returns
    the store's system name (for the log) and the verdict."""
    plugin = by_webhook_path(path)
    if plugin is None or plugin.accept_webhook is None:
        return path, Verdict(404, "unknown webhook endpoint", outcome="unknown_endpoint")
    if not (safe_name(tenant_name) and safe_name(source_name)):
        verdict = refused("tenant or source name outside the safe alphabet")
    else:
        try:
            verdict = plugin.accept_webhook(tenant_name, source_name, headers, raw_body)
        except VaultError:
            verdict = _vault_failure(plugin.system, tenant_name, source_name)
    if verdict.status < 400 and verdict.fetch:
        verdict = _throttled(verdict)
    count(plugin.system, verdict.outcome or ("accepted" if verdict.status < 400 else "refused"))
    return plugin.system, verdict


def _throttled(verdict: Verdict) -> Verdict:
    allowed = [f for f in verdict.fetch if allow_fetch(*f)]
    if len(allowed) == len(verdict.fetch):
        return verdict
    with session_scope() as s:
        for source_id, _entity, external_id in verdict.fetch:
            if (source_id, _entity, external_id) not in allowed:
                s.execute(update(WebhookDelivery)
                          .where(WebhookDelivery.source_id == source_id,
                                 WebhookDelivery.state == "received",
                                 WebhookDelivery.resource_id == external_id)
                          .values(state="throttled"))
    return Verdict(200, "accepted; fetch deferred to polling (too many for this resource)",
                   allowed, detail="per-resource fetch cap reached", outcome="throttled")


def _vault_failure(system: str, tenant_name: str, source_name: str) -> Verdict:
    """The source's secret cannot be decrypted: alert and pause it (once), answer 503 so
    the store retries once an operator has fixed the keys."""
    from connector.pipeline.fetch import pause_for_vault

    with session_scope() as s:
        source = find_source(s, tenant_name, source_name, system)
        source_id = source.id if source is not None else None
    if source_id is not None:
        pause_for_vault(source_id)
    return Verdict(503, "source unavailable", detail="stored secret cannot be decrypted",
                   outcome="vault_error")


def fetch_resource(source_id: int, entity: str, external_id: str, origin: str) -> list[int]:
    """Fetch one resource by id and stage it (the task behind every accepted webhook); returns
    the ids of the rows staged (none when that version was staged already)."""
    with session_scope() as s:
        source = s.get(Source, source_id)
        if source is None or source.status != "active":
            return []
        system = source.system
    return list(get_store(system).fetch_one(source_id, entity, external_id, origin))


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
