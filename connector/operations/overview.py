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
    return "\n".join(lines) + "\n"
