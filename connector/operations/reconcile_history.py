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
from connector.pipeline.audit import audit

ACTION = "reconcile"
REQUESTED = "reconcile-requested"


def request_run(session: Session, tenant_name: str, *, operator: str) -> str:
    """Audit an operator's request for a reconciliation (the caller enqueues the task after
    the commit). Raises LookupError for an unknown tenant."""
    tenant = session.scalar(select(Tenant).where(Tenant.name == tenant_name))
    if tenant is None:
        raise LookupError(f"no tenant {tenant_name!r}")
    audit(session, tenant_id=tenant.id, source_id=None, system="connector",
          entity="reconciliation", external_id=tenant.name, action=REQUESTED, actor=operator,
          outcome="ok", direction="operator")
    return tenant.name


def recent_requests(session: Session, limit: int = 5) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == REQUESTED)
                                .order_by(AuditEvent.id.desc()).limit(limit)))


def tenant_names(session: Session) -> list[str]:
    return list(session.scalars(select(Tenant.name).order_by(Tenant.name)))


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
