"""Per-source health for ``ml-connector status`` (and the console): when each source last
fetched successfully, how far behind it is, what its records are doing, how its webhooks fare
and how much of its tenant's IFS budget the last minute used.

Lag is the age of the oldest stream's last successful fetch: how stale the connector's view of
the store may be (a stream that errors or stops being dispatched makes it grow).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from connector.models import (
    PENDING,
    Alert,
    Source,
    StagedRecord,
    SyncCursor,
    Tenant,
    WebhookDelivery,
)

WEBHOOK_WINDOW = timedelta(hours=24)


@dataclass
class SourceHealth:
    tenant: str
    source: str
    system: str
    status: str
    status_reason: str | None
    last_success: str | None
    lag_s: int | None
    records: dict[str, int] = field(default_factory=dict)
    webhooks: dict[str, Any] = field(default_factory=dict)
    budget: dict[str, int] = field(default_factory=dict)
    open_alerts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ifs_budget_key(tenant_id: int) -> str:
    """The tenant's fleet-wide IFS budget (as built in :mod:`connector.pipeline.targets`)."""
    return f"ifs:tenant-{tenant_id}"


def source_health(session: Session, *, now: datetime | None = None,
                  redis: Any | None = None) -> list[SourceHealth]:
    """Health of every source, by tenant and source name."""
    from connector.config import get_settings
    from connector.ratelimit import budget_usage

    now = now or datetime.now(UTC)
    sources = session.execute(select(Tenant, Source).join(Source, Source.tenant_id == Tenant.id)
                              .order_by(Tenant.name, Source.name)).all()
    ids = [src.id for _, src in sources]
    if not ids:
        return []
    in_flight = and_(StagedRecord.state == PENDING, StagedRecord.enqueued_at.is_not(None))
    counts: dict[int, dict[str, int]] = {i: {"pending": 0, "in_flight": 0, "failed": 0,
                                             "parked": 0, "done": 0} for i in ids}
    for source_id, state, busy, n in session.execute(
            select(StagedRecord.source_id, StagedRecord.state, in_flight, func.count())
            .where(StagedRecord.source_id.in_(ids))
            .group_by(StagedRecord.source_id, StagedRecord.state, in_flight)):
        key = "in_flight" if busy else state
        counts[source_id][key] = counts[source_id].get(key, 0) + n
    cursors: dict[int, list[SyncCursor]] = {i: [] for i in ids}
    for c in session.scalars(select(SyncCursor).where(SyncCursor.source_id.in_(ids))):
        cursors[c.source_id].append(c)
    hooks: dict[int, dict[str, Any]] = {i: {"received_24h": 0, "by_state": {}, "last": None}
                                        for i in ids}
    for source_id, state, n, last in session.execute(
            select(WebhookDelivery.source_id, WebhookDelivery.state, func.count(),
                   func.max(WebhookDelivery.received_at))
            .where(WebhookDelivery.source_id.in_(ids),
                   WebhookDelivery.received_at >= now - WEBHOOK_WINDOW)
            .group_by(WebhookDelivery.source_id, WebhookDelivery.state)):
        h = hooks[source_id]
        h["received_24h"] += n
        h["by_state"][state] = n
        if h["last"] is None or last > h["last"]:
            h["last"] = last
    alerts = dict(session.execute(
        select(Alert.source_id, func.count()).where(Alert.source_id.in_(ids),
                                                    Alert.state == "open")
        .group_by(Alert.source_id)).tuples().all())
    hook_alerts = dict(session.execute(
        select(Alert.source_id, func.count()).where(Alert.source_id.in_(ids),
                                                    Alert.state == "open",
                                                    Alert.kind.contains("hook"))
        .group_by(Alert.source_id)).tuples().all())
    if redis is None:
        from connector.handles import get_redis

        redis = get_redis()
    usage: dict[int, tuple[int, int]] = {}
    out = []
    for tenant, src in sources:
        if tenant.id not in usage:
            usage[tenant.id] = budget_usage(redis, ifs_budget_key(tenant.id))
        used, waits = usage[tenant.id]
        ok_runs = [c.last_success_at for c in cursors[src.id] if c.last_success_at is not None]
        last_success = max(ok_runs) if ok_runs else None
        lag = None
        if cursors[src.id] and len(ok_runs) == len(cursors[src.id]):
            lag = int((now - min(ok_runs)).total_seconds())
        h = hooks[src.id]
        h["healthy"] = (hook_alerts.get(src.id, 0) == 0
                        and not h["by_state"].get("failed", 0))
        h["last"] = h["last"].isoformat() if h["last"] else None
        limit = int((tenant.ifs_settings or {}).get("budget_per_min")
                    or get_settings().ifs_budget_per_min)
        out.append(SourceHealth(
            tenant=tenant.name, source=src.name, system=src.system, status=src.status,
            status_reason=src.status_reason,
            last_success=last_success.isoformat() if last_success else None, lag_s=lag,
            records=counts[src.id], webhooks=h,
            budget={"used_last_min": used, "limit_per_min": limit, "waits_last_min": waits},
            open_alerts=alerts.get(src.id, 0)))
    return out
