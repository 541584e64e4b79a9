"""The console's overview: per tenant and source, the status, the last successful fetch, the
lag, records by state, the last hour's throughput, IFS budget use, webhook health and open
alerts. Read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.config import get_settings
from connector.handles import get_redis
from connector.models import (
    DONE,
    PENDING,
    Alert,
    AuditEvent,
    Source,
    StagedRecord,
    SyncCursor,
    Tenant,
    WebhookDelivery,
)
from connector.ratelimit import budget_usage

BUCKET_MIN = 5  # throughput chart: one bar per 5 minutes over the last hour
BUCKETS = 60 // BUCKET_MIN


@dataclass
class SourceView:
    id: int
    name: str
    system: str
    status: str
    reason: str | None
    last_success: datetime | None
    last_error: str | None
    #: how far the most overdue stream is behind its schedule (0: polling on time)
    overdue_s: float | None
    oldest_pending_s: float | None
    records: dict[str, int]
    throughput: list[int]  # loaded (done) records per 5-minute bucket, oldest first
    last_delivery: datetime | None
    deliveries_1h: int
    deliveries_failed_1h: int
    hook_alerts: list[str]


@dataclass
class TenantView:
    id: int
    name: str
    company: str
    sources: list[SourceView] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    budget_per_min: int = 0
    ifs_writes_1h: int = 0
    budget_free: float | None = None  # share of the token bucket free now (0..1)


def _seconds(since: datetime | None, now: datetime) -> float | None:
    return None if since is None else max(0.0, (now - since).total_seconds())


def _budget_free(tenant: Tenant, budget_per_min: int) -> float | None:
    """The share of the tenant's fleet-wide IFS budget left over the last minute (from the
    usage counters the budget keeps, as ``status`` shows them)."""
    try:
        used, _ = budget_usage(get_redis(), f"ifs:tenant-{tenant.id}")
    except Exception:  # Redis down: the overview still renders
        return None
    return max(0.0, min(1.0, 1 - used / max(1, budget_per_min)))


def session_rows(s: Session, q: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in s.execute(q).all()]


def _source_view(s: Session, src: Source, now: datetime, hour: datetime) -> SourceView:
    cursors = s.scalars(select(SyncCursor).where(SyncCursor.source_id == src.id)).all()
    ok_runs = [c.last_run_at for c in cursors if c.last_run_at and not c.last_error]
    errors = [f"{c.stream}: {c.last_error}" for c in cursors if c.last_error]
    due = [c.next_run_at for c in cursors if c.next_run_at is not None]
    counts = dict(s.execute(select(StagedRecord.state, func.count())
                            .where(StagedRecord.source_id == src.id)
                            .group_by(StagedRecord.state)).tuples().all())
    oldest = s.scalar(select(func.min(StagedRecord.created_at)).where(
        StagedRecord.source_id == src.id, StagedRecord.state == PENDING))
    bars = [0] * BUCKETS
    bucket = func.floor(func.extract("epoch", StagedRecord.updated_at - hour)
                        / (BUCKET_MIN * 60))
    for index, count in session_rows(s, select(bucket, func.count()).where(
            StagedRecord.source_id == src.id, StagedRecord.state == DONE,
            StagedRecord.updated_at >= hour).group_by(bucket)):
        bars[min(BUCKETS - 1, max(0, int(index)))] += int(count)
    last_delivery = s.scalar(select(func.max(WebhookDelivery.received_at)).where(
        WebhookDelivery.source_id == src.id))
    deliveries = dict(s.execute(select(WebhookDelivery.state, func.count()).where(
        WebhookDelivery.source_id == src.id, WebhookDelivery.received_at >= hour)
        .group_by(WebhookDelivery.state)).tuples().all())
    hook_alerts = [a.message for a in s.scalars(select(Alert).where(
        Alert.source_id == src.id, Alert.state == "open", Alert.kind.ilike("%hook%")))]
    return SourceView(
        src.id, src.name, src.system, src.status, src.status_reason,
        max(ok_runs) if ok_runs else None, "; ".join(errors) or None,
        _seconds(min(due), now) if due and src.status == "active" else None,
        _seconds(oldest, now), counts, bars,
        last_delivery, sum(deliveries.values()),
        sum(v for k, v in deliveries.items() if k not in ("received", "enqueued", "done")),
        hook_alerts)


def fleet(session: Session, now: datetime | None = None) -> list[TenantView]:
    """Every tenant with its sources, alerts and IFS budget."""
    now = now or datetime.now(UTC)
    hour = now - timedelta(hours=1)
    out = []
    for t in session.scalars(select(Tenant).order_by(Tenant.name)):
        budget = int((t.ifs_settings or {}).get("budget_per_min")
                     or get_settings().ifs_budget_per_min)
        view = TenantView(t.id, t.name, t.company, budget_per_min=budget)
        for src in session.scalars(select(Source).where(Source.tenant_id == t.id)
                                   .order_by(Source.name)):
            view.sources.append(_source_view(session, src, now, hour))
        view.alerts = list(session.scalars(select(Alert).where(
            Alert.tenant_id == t.id, Alert.state == "open").order_by(Alert.opened_at)))
        view.ifs_writes_1h = int(session.scalar(select(func.count()).select_from(AuditEvent)
                                                .where(AuditEvent.tenant_id == t.id,
                                                       AuditEvent.system == "ifs",
                                                       AuditEvent.at >= hour)) or 0)
        view.budget_free = _budget_free(t, budget)
        out.append(view)
    return out


def sparkline(values: list[int], width: int = 180, height: int = 36) -> dict[str, Any]:
    """Bar geometry for the server-rendered throughput chart (the template draws the SVG)."""
    top = max(values) if values and max(values) > 0 else 1
    step = width / max(1, len(values))
    bars = []
    for i, v in enumerate(values):
        h = round(v / top * (height - 2), 1) if v else 0
        bars.append({"x": round(i * step + 1, 1), "w": round(step - 2, 1),
                     "y": round(height - h, 1), "h": h, "v": v,
                     "label": f"{(len(values) - i) * BUCKET_MIN} min ago: {v}"})
    return {"width": width, "height": height, "bars": bars, "total": sum(values)}
