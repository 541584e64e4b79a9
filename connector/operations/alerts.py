"""Operator actions on alerts: list, acknowledge, resolve (the CLI and the web console), and
the tenant's notification channels.

Acknowledging says "someone is on it" (the alert stays open and keeps counting occurrences);
resolving closes it (the next occurrence of the condition opens a new incident). Both are
audited with the operator's name and note.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.crypto import Vault
from connector.models import Alert, AuditEvent, NotificationChannel, Source, Tenant
from connector.operations.admin import (
    AdminError,
    DuplicateError,
    InvalidInput,
    NotFoundError,
    check_url,
)
from connector.pipeline.audit import audit_operator, close_alert


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
    close_alert(session, alert)
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


# --- notification channels --------------------------------------------------------------------


def add_channel(session: Session, vault: Vault, tenant: Tenant, *, name: str, kind: str,
                target: str) -> NotificationChannel:
    """A new place the tenant's alerts are sent (opened and resolved). ``target`` is a webhook
    URL (``slack``, ``webhook``) or an e-mail address (``email``); it is stored encrypted."""
    from connector.pipeline.notify import KINDS

    target = target.strip()
    if kind not in KINDS:
        raise InvalidInput(f"channel kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not name.strip():
        raise InvalidInput("channel name must not be empty")
    if kind == "email":
        if "@" not in target or any(c.isspace() for c in target):
            raise InvalidInput(f"an e-mail channel needs an address, got {target!r}")
    else:
        check_url(target, f"{kind} channel URL")
    channel = NotificationChannel(tenant_id=tenant.id, name=name.strip(), kind=kind,
                                  target_enc=vault.encrypt(target))
    session.add(channel)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise DuplicateError(f"tenant {tenant.name!r} already has a channel {name!r}")
    audit_operator(session, tenant.id, "alert_channel", name, f"create {kind}")
    return channel


def masked_target(kind: str, target: str) -> str:
    """What may be shown of a target: an address, or a URL's scheme and host only (a Slack
    incoming-webhook URL is a credential)."""
    if kind == "email":
        return target
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.hostname}/…"


def list_channels(session: Session, vault: Vault, tenant: Tenant) -> list[dict[str, Any]]:
    rows = session.scalars(select(NotificationChannel).where(
        NotificationChannel.tenant_id == tenant.id).order_by(NotificationChannel.name)).all()
    return [{"name": c.name, "kind": c.kind,
             "target": masked_target(c.kind, vault.decrypt(c.target_enc))} for c in rows]


def get_channel(session: Session, tenant: Tenant, name: str) -> NotificationChannel:
    channel = session.scalar(select(NotificationChannel).where(
        NotificationChannel.tenant_id == tenant.id, NotificationChannel.name == name))
    if channel is None:
        raise NotFoundError(f"tenant {tenant.name!r} has no alert channel {name!r}")
    return channel


def remove_channel(session: Session, tenant: Tenant, name: str) -> None:
    channel = get_channel(session, tenant, name)
    audit_operator(session, tenant.id, "alert_channel", name, "remove")
    session.delete(channel)
