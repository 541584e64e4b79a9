"""Alert notifications: one message per alert event (opened, resolved) per channel of the
tenant, sent by a worker, retried, never in the pipeline's way.

Raising or resolving an alert only inserts ``alert_notifications`` rows (in the caller's
transaction, unique per alert, channel and event: an incident is announced once however often
it recurs). The beat-driven ``notify.sweep`` task claims due rows with a lease and the
``notify.deliver`` task sends each: a Slack-compatible incoming webhook (``{"text": …}``), a
generic JSON webhook, or an e-mail through the SMTP server of the settings. A failure is
recorded (without the target: a Slack URL is itself a credential) and retried with back-off,
up to :data:`MAX_ATTEMPTS`.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from connector import metrics
from connector.config import get_settings
from connector.db import session_scope
from connector.models import Alert, AlertNotification, NotificationChannel, Source, Tenant

log = logging.getLogger(__name__)

KINDS = ("slack", "webhook", "email")
OPENED, RESOLVED = "opened", "resolved"
MAX_ATTEMPTS = 8
LEASE_S = 120
TIMEOUT_S = 10


def queue(session: Session, alert_id: int, event: str) -> None:
    """Announce ``event`` of an alert to every channel of its tenant (once per channel)."""
    session.execute(text(
        "INSERT INTO alert_notifications (alert_id, channel_id, event, state, attempts) "
        "SELECT a.id, c.id, :event, 'pending', 0 FROM alerts a "
        "JOIN notification_channels c ON c.tenant_id = a.tenant_id WHERE a.id = :alert "
        "ON CONFLICT ON CONSTRAINT uq_alert_notifications_once DO NOTHING"),
        {"alert": alert_id, "event": event})


def claim_due(session: Session, *, limit: int = 50,
              now: datetime | None = None) -> list[int]:
    """Pending notifications that are due, leased for :data:`LEASE_S` so no one else sends
    them meanwhile."""
    now = now or datetime.now(UTC)
    rows = session.scalars(select(AlertNotification).where(
        AlertNotification.state == "pending", AlertNotification.next_attempt_at <= now)
        .order_by(AlertNotification.id).limit(limit).with_for_update(skip_locked=True)).all()
    for row in rows:
        row.next_attempt_at = now + timedelta(seconds=LEASE_S)
    return [row.id for row in rows]


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(15 * 2 ** max(0, attempts - 1), 1800))


class DeliveryFailed(Exception):
    """The channel did not take the message (the text names no secret)."""


def deliver(notification_id: int) -> str:
    """Send one notification now (the row is locked meanwhile: a duplicate task waits, then
    finds it sent). Returns its state afterwards."""
    with session_scope() as s:
        note = s.get(AlertNotification, notification_id, with_for_update=True)
        if note is None or note.state != "pending":
            return note.state if note is not None else "gone"
        alert = s.get(Alert, note.alert_id)
        channel = s.get(NotificationChannel, note.channel_id)
        assert alert is not None and channel is not None
        message = describe(s, alert, note.event)
        note.attempts += 1
        try:
            send(channel, message)
        except DeliveryFailed as exc:
            metrics.notification(channel.kind, "failed")
            note.last_error = str(exc)[:500]
            if note.attempts >= MAX_ATTEMPTS:
                note.state = "failed"
                log.error("alert #%s: %s notification to channel %s failed for good: %s",
                          alert.id, note.event, channel.name, exc)
            else:
                note.next_attempt_at = datetime.now(UTC) + backoff(note.attempts)
                log.warning("alert #%s: %s notification to channel %s failed (attempt %s): %s",
                            alert.id, note.event, channel.name, note.attempts, exc)
            return note.state
        metrics.notification(channel.kind, "sent")
        note.state = "sent"
        note.sent_at = datetime.now(UTC)
        note.last_error = None
        return note.state


def describe(session: Session, alert: Alert, event: str) -> dict[str, Any]:
    tenant = session.get(Tenant, alert.tenant_id)
    source = session.get(Source, alert.source_id) if alert.source_id else None
    where = f"{tenant.name if tenant else alert.tenant_id}" + (f"/{source.name}" if source else "")
    verb = "RESOLVED" if event == RESOLVED else "OPEN"
    return {
        "event": event, "alert_id": alert.id, "kind": alert.kind, "tenant": tenant.name
        if tenant else None, "source": source.name if source else None,
        "message": alert.message, "occurrences": alert.occurrences,
        "opened_at": alert.opened_at.isoformat() if alert.opened_at else None,
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "title": f"[ml-connector] {verb} {alert.kind} ({where})",
    }


def send(channel: NotificationChannel, message: dict[str, Any]) -> None:
    """Send ``message`` to ``channel``; raise :class:`DeliveryFailed` when it is not taken."""
    from connector.handles import get_vault

    target = get_vault().decrypt(channel.target_enc)
    if channel.kind == "email":
        _send_email(target, message)
    elif channel.kind in ("slack", "webhook"):
        body = ({"text": f"{message['title']}\n{message['message']}"}
                if channel.kind == "slack" else message)
        _post(target, body)
    else:
        raise DeliveryFailed(f"unknown channel kind {channel.kind!r}")


def _post(url: str, body: dict[str, Any]) -> None:
    import requests

    from connector.http.session import new_session

    try:
        response = new_session().post(url, json=body, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        raise DeliveryFailed(f"{type(exc).__name__} (the webhook did not answer)") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"the webhook answered HTTP {response.status_code}")


def _send_email(address: str, message: dict[str, Any]) -> None:
    settings = get_settings()
    if not settings.smtp_host:
        raise DeliveryFailed("MLC_SMTP_HOST is not set: e-mail channels cannot send")
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = address
    mail["Subject"] = message["title"]
    lines = [message["message"], "",
             f"tenant: {message['tenant']}", f"source: {message['source'] or '-'}",
             f"kind: {message['kind']} (alert #{message['alert_id']}, "
             f"{message['occurrences']} occurrence(s))",
             f"opened: {message['opened_at']}"]
    if message["resolved_at"]:
        lines.append(f"resolved: {message['resolved_at']}")
    mail.set_content("\n".join(lines))
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_S) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user and settings.smtp_password:
                smtp.login(settings.smtp_user, settings.smtp_password.reveal())
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"SMTP {settings.smtp_host}:{settings.smtp_port}: "
                             f"{type(exc).__name__}: {exc}") from None
