"""The alert lifecycle an operator drives: acknowledge (seen, being handled) and resolve.

Every change is audited with the operator's name. Raising and auto-resolving alerts is the
pipeline's business (:mod:`connector.pipeline.audit`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from connector.models import Alert
from connector.pipeline.audit import audit


class UnknownAlert(LookupError):
    """No alert with that id."""


def _get(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise UnknownAlert(f"no alert #{alert_id}")
    return alert


def _audit(session: Session, alert: Alert, action: str, operator: str,
           note: str | None) -> None:
    detail = f"{alert.kind}: {alert.message}" + (f" — note: {note}" if note else "")
    audit(session, tenant_id=alert.tenant_id, source_id=alert.source_id, system="connector",
          entity="alert", external_id=str(alert.id), action=action, actor=operator,
          outcome="ok", detail=detail, direction="operator")


def acknowledge(session: Session, alert_id: int, *, operator: str,
                note: str | None = None) -> Alert:
    """Mark an open alert as seen by ``operator`` (it stays open until resolved)."""
    alert = _get(session, alert_id)
    alert.acknowledged = True
    _audit(session, alert, "acknowledge", operator, note)
    return alert


def resolve(session: Session, alert_id: int, *, operator: str, note: str | None = None) -> Alert:
    """Close an alert; a new occurrence of the same problem opens a new one."""
    alert = _get(session, alert_id)
    if alert.state != "resolved":
        alert.state = "resolved"
        alert.resolved_at = datetime.now(UTC)
    _audit(session, alert, "resolve", operator, note)
    return alert
