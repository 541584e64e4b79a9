"""Reconciliation runs kept for the console: each run is stored in the audit trail (one
``reconcile`` row per source, the report as JSON in ``detail``), so "the last reconciliation
of a source" survives restarts without a table of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.db import session_scope
from connector.models import AuditEvent, Source, Tenant
from connector.operations.reconcile import Reconciliation, reconcile

ACTION = "reconcile"


def run_and_store(tenant_name: str, *, operator: str) -> Reconciliation:
    """Run a reconciliation for every source of the tenant and store each source's report."""
    rec = reconcile(tenant_name)
    with session_scope() as s:
        tenant = s.scalar(select(Tenant).where(Tenant.name == tenant_name))
        assert tenant is not None
        by_name = {src.name: src for src in s.scalars(
            select(Source).where(Source.tenant_id == tenant.id))}
        for report in rec.sources:
            src = by_name.get(report.source)
            s.add(AuditEvent(
                tenant_id=tenant.id, source_id=src.id if src else None, direction="connector",
                system="connector", entity="reconciliation", external_id=report.source,
                action=ACTION, actor=operator,
                outcome="ok" if report.unexplained == 0 else "unexplained",
                detail=json.dumps(report.as_dict(), default=str)))
    return rec


@dataclass
class LastRun:
    tenant: str
    source: str
    at: datetime
    actor: str
    report: dict[str, Any]

    @property
    def unexplained(self) -> int:
        return int(self.report.get("unexplained", 0))


def last_runs(session: Session) -> list[LastRun]:
    """The latest stored reconciliation per source, the ones with unexplained differences
    first."""
    latest = (select(func.max(AuditEvent.id)).where(AuditEvent.action == ACTION,
                                                    AuditEvent.entity == "reconciliation")
              .group_by(AuditEvent.tenant_id, AuditEvent.external_id))
    rows = session.execute(
        select(AuditEvent, Tenant.name).join(Tenant, Tenant.id == AuditEvent.tenant_id)
        .where(AuditEvent.id.in_(latest))).all()
    out = []
    for event, tenant in rows:
        try:
            report = json.loads(event.detail or "{}")
        except ValueError:
            report = {}
        out.append(LastRun(tenant, str(event.external_id), event.at, event.actor, report))
    return sorted(out, key=lambda r: (-r.unexplained, r.tenant, r.source))
