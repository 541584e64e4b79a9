"""Read-only views of the fleet's state for the operator pages and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from connector.db import session_scope
from connector.models import Alert, Source, StagedRecord, Tenant


@dataclass
class TenantOverview:
    name: str
    company: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    records: dict[str, int] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)


def overview(failed_limit: int = 20) -> list[TenantOverview]:
    with session_scope() as s:
        tenants = s.scalars(select(Tenant).order_by(Tenant.name)).all()
        out = []
        for t in tenants:
            view = TenantOverview(t.name, t.company)
            for src in s.scalars(select(Source).where(Source.tenant_id == t.id)
                                 .order_by(Source.name)):
                view.sources.append({"name": src.name, "system": src.system,
                                     "status": src.status, "reason": src.status_reason})
            view.records = dict(s.execute(
                select(StagedRecord.state, func.count()).where(StagedRecord.tenant_id == t.id)
                .group_by(StagedRecord.state)).tuples().all())
            view.alerts = [{"kind": a.kind, "message": a.message, "occurrences": a.occurrences,
                            "opened_at": a.opened_at.isoformat()}
                           for a in s.scalars(select(Alert).where(
                               Alert.tenant_id == t.id, Alert.state == "open"))]
            view.failed = [{"id": r.id, "entity": r.entity, "store_id": r.external_id,
                            "state": r.state, "reason": r.last_error}
                           for r in s.scalars(select(StagedRecord).where(
                               StagedRecord.tenant_id == t.id,
                               StagedRecord.state.in_(["failed", "parked"]))
                               .order_by(StagedRecord.id.desc()).limit(failed_limit))]
            out.append(view)
        return out


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def prometheus_metrics() -> str:
    """Prometheus text exposition of record states, open alerts and source status."""
    lines = [
        "# HELP mlc_staged_records Staged store records by tenant and state.",
        "# TYPE mlc_staged_records gauge",
    ]
    views = overview(failed_limit=0)
    for v in views:
        for state, count in sorted(v.records.items()):
            lines.append(f'mlc_staged_records{{tenant="{_label(v.name)}",state="{state}"}} '
                         f"{count}")
    lines += ["# HELP mlc_open_alerts Open operational alerts by tenant.",
              "# TYPE mlc_open_alerts gauge"]
    for v in views:
        lines.append(f'mlc_open_alerts{{tenant="{_label(v.name)}"}} {len(v.alerts)}')
    lines += ["# HELP mlc_source_active 1 when the source is polling, 0 when paused or failing.",
              "# TYPE mlc_source_active gauge"]
    for v in views:
        for src in v.sources:
            lines.append(f'mlc_source_active{{tenant="{_label(v.name)}",'
                         f'source="{_label(src["name"])}",status="{src["status"]}"}} '
                         f"{1 if src['status'] == 'active' else 0}")
    from connector.pipeline.webhooks import delivery_counts

    lines += ["# HELP mlc_webhook_deliveries_total Webhook deliveries by store and outcome "
              "(accepted, duplicate, throttled, refused, malformed, ...).",
              "# TYPE mlc_webhook_deliveries_total counter"]
    for (system, outcome), n in sorted(delivery_counts().items()):
        lines.append(f'mlc_webhook_deliveries_total{{system="{_label(system)}",'
                     f'outcome="{_label(outcome)}"}} {n}')
    lines += _fleet_gauges()
    lines += _expected_faults()
    from connector.metrics import exposition

    return "\n".join(lines) + "\n" + exposition()


def _expected_faults() -> list[str]:
    import contextlib

    from connector.faults import COUNTER_KEY, fault_counts
    from connector.handles import get_redis

    counts: dict[str, int] = {}
    with contextlib.suppress(Exception):  # Redis down: the page still answers
        counts = fault_counts(get_redis().hgetall(COUNTER_KEY))

    lines = ["# HELP mlc_expected_faults_total Expected fleet faults (lost database or broker "
              "connections, lost workers), each logged as one line.",
              "# TYPE mlc_expected_faults_total counter"]
    for kind, count in sorted(counts.items()):
        lines.append(f'mlc_expected_faults_total{{kind="{_label(kind)}"}} {count}')
    return lines


#: Celery queues (tasks/app.py); with the Redis broker each is a Redis list of that name.
QUEUES = ("fetch", "transform_first", "transform", "load", "maintenance")


def _fleet_gauges() -> list[str]:
    """Cursor lag per stream, open alerts by kind, queue depth per queue: read at scrape."""
    from datetime import UTC, datetime

    from connector.models import SyncCursor

    now = datetime.now(UTC)
    lines = ["# HELP mlc_cursor_lag_seconds Seconds since the stream's last successful fetch.",
             "# TYPE mlc_cursor_lag_seconds gauge"]
    with session_scope() as s:
        for tenant, source, stream, ok, created in s.execute(
                select(Tenant.name, Source.name, SyncCursor.stream, SyncCursor.last_success_at,
                       Source.created_at)
                .join(Source, Source.tenant_id == Tenant.id)
                .join(SyncCursor, SyncCursor.source_id == Source.id)
                .order_by(Tenant.name, Source.name, SyncCursor.stream)):
            lag = (now - (ok or created)).total_seconds()
            lines.append(f'mlc_cursor_lag_seconds{{tenant="{_label(tenant)}",'
                         f'source="{_label(source)}",stream="{_label(stream)}"}} {lag:.0f}')
        lines += ["# HELP mlc_open_alerts_by_kind Open alerts by tenant and kind.",
                  "# TYPE mlc_open_alerts_by_kind gauge"]
        for tenant, kind, n in s.execute(
                select(Tenant.name, Alert.kind, func.count()).join(
                    Alert, Alert.tenant_id == Tenant.id).where(Alert.state == "open")
                .group_by(Tenant.name, Alert.kind).order_by(Tenant.name, Alert.kind)):
            lines.append(f'mlc_open_alerts_by_kind{{tenant="{_label(tenant)}",'
                         f'kind="{_label(kind)}"}} {n}')
    lines += ["# HELP mlc_queue_depth Messages waiting in each Celery queue (Redis broker).",
              "# TYPE mlc_queue_depth gauge"]
    depths = queue_depths()
    for queue in QUEUES:
        if queue in depths:
            lines.append(f'mlc_queue_depth{{queue="{queue}"}} {depths[queue]}')
    return lines


def queue_depths() -> dict[str, int]:
    """Length of each queue's Redis list (empty when the broker is not Redis)."""
    import redis

    from connector.config import get_settings

    settings = get_settings()
    url = settings.broker_url or settings.redis_url
    if not url or not url.startswith(("redis://", "rediss://", "unix://")):
        return {}
    try:
        client = redis.Redis.from_url(url, socket_timeout=2)
        try:
            return {q: int(client.llen(q)) for q in QUEUES}
        finally:
            client.close()
    except redis.RedisError:
        return {}
