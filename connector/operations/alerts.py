"""Operator actions on alerts: list, acknowledge, resolve (the CLI and the web console).

Acknowledging says "someone is on it" (the alert stays open and keeps counting occurrences);
resolving closes it (the next occurrence of the condition opens a new incident). Both are
audited with the operator's name and note.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.models import Alert, AuditEvent, Source, Tenant
from connector.operations.admin import AdminError, InvalidInput, NotFoundError


class AlertStateError(AdminError):
    """The alert is not in a state that allows the action (e.g. resolving a resolved one)."""

    exit_code = 1


def get_alert(session: Session, alert_id: int, *, tenant: Tenant | None = None) -> Alert:
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None or (tenant is not None and alert.tenant_id != tenant.id):
        raise NotFoundError(f"unknown alert #{alert_id} (see `ml-connector alerts --tenant T`)")
    return alert


def _audit(session: Session, alert: Alert, action: str, operator: str, note: str | None) -> None:
    if not operator or not operator.strip():
        raise InvalidInput("the operator's name must not be empty")
    detail = f"alert #{alert.id} {alert.kind}" + (f": {note}" if note else "")
    session.add(AuditEvent(tenant_id=alert.tenant_id, source_id=alert.source_id,
                           direction="operator", system="connector", entity="alert",
                           external_id=str(alert.id), action=action, actor=operator.strip(),
                           outcome="ok", detail=detail[:2000]))


def acknowledge(session: Session, alert_id: int, *, operator: str,
                note: str | None = None) -> Alert:
    """Mark an open alert as being handled by ``operator``. Idempotent on an acknowledged one."""
    alert = get_alert(session, alert_id)
    if alert.state != "open":
        raise AlertStateError(f"alert #{alert_id} is {alert.state}: nothing to acknowledge")
    _audit(session, alert, "acknowledge", operator, note)
    alert.acknowledged = True
    return alert


def resolve(session: Session, alert_id: int, *, operator: str, note: str | None = None) -> Alert:
    """Close an open alert by hand (the connector also resolves alerts whose condition clears)."""
    alert = get_alert(session, alert_id)
    if alert.state != "open":
        raise AlertStateError(f"alert #{alert_id} is already {alert.state}")
    _audit(session, alert, "resolve", operator, note)
    alert.state = "resolved"
    alert.resolved_at = datetime.now(UTC)
    return alert


def alert_dict(alert: Alert, source_name: str | None) -> dict[str, Any]:
    return {"id": alert.id, "kind": alert.kind, "source": source_name, "state": alert.state,
            "acknowledged": alert.acknowledged, "occurrences": alert.occurrences,
            "message": alert.message, "opened_at": alert.opened_at.isoformat(),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None}


def list_alerts(session: Session, tenant: Tenant, *, include_resolved: bool = False,
                limit: int = 500) -> list[dict[str, Any]]:
    """A tenant's alerts (open ones, or all), oldest first."""
    q = (select(Alert, Source.name).outerjoin(Source, Source.id == Alert.source_id)
         .where(Alert.tenant_id == tenant.id).order_by(Alert.id).limit(limit))
    if not include_resolved:
        q = q.where(Alert.state == "open")
    return [alert_dict(a, name) for a, name in session.execute(q).all()]
