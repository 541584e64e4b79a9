"""Audit rows and operational alerts (design.md §4).

Every remote write gets one audit row (outcome ok or error, with the HTTP status). Alerts are
deduplicated in the database: at most one open alert per (tenant, source, kind); raising it
again only counts another occurrence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from connector.db import session_scope
from connector.errors import ConnectorError, OutcomeUnknown
from connector.logs import scrub
from connector.models import Alert, AuditEvent
from connector.pipeline import notify

log = logging.getLogger(__name__)
T = TypeVar("T")

# Alert kinds raised by the generic pipeline and the watch (stores add their own). Each one
# resolves itself when its condition clears (README, "Running it in production").
IFS_AUTH_FAILED = "ifs_auth_failed"  # resolved by the next successful load of the tenant
SOURCE_AUTH_FAILED = "source_auth_failed"  # resolved by the next successful fetch
SOURCE_LAGGING = "source_lagging"  # a stream far behind its interval (watch)
FAILURE_RATE_HIGH = "failure_rate_high"  # many records failing in the window (watch)
VAULT_DECRYPT_FAILED = "vault_decrypt_failed"  # a stored secret no key opens (watch)


def audit(
    session: Session,
    *,
    tenant_id: int | None,
    source_id: int | None,
    system: str,
    entity: str,
    action: str,
    actor: str,
    outcome: str,
    external_id: str | None = None,
    ifs_key: str | None = None,
    http_status: int | None = None,
    detail: str | None = None,
    direction: str = "store->ifs",
) -> None:
    session.add(
        AuditEvent(
            tenant_id=tenant_id,
            source_id=source_id,
            direction=direction,
            system=system,
            entity=entity,
            external_id=external_id,
            ifs_key=ifs_key,
            action=action,
            actor=actor,
            outcome=outcome,
            http_status=http_status,
            detail=scrub(detail or None, 2000),
        )
    )


def raise_alert(
    session: Session, *, tenant_id: int, source_id: int | None, kind: str, message: str
) -> bool:
    """Open an alert, or count one more occurrence of the open one. True when newly opened."""
    message = scrub(message) or ""
    stmt = (
        insert(Alert)
        .values(tenant_id=tenant_id, source_id=source_id, kind=kind, message=message,
                state="open", occurrences=1)
        .on_conflict_do_nothing(
            index_elements=["tenant_id", "source_id", "kind"],
            index_where=Alert.state == "open",
        )
        .returning(Alert.id)
    )
    new_id = session.execute(stmt).scalar_one_or_none()
    if new_id is not None:
        log.warning("alert opened (%s): %s", kind, message)
        notify.queue(session, new_id, notify.OPENED)
        return True
    existing = session.scalar(
        select(Alert).where(
            Alert.tenant_id == tenant_id,
            Alert.source_id.is_not_distinct_from(source_id),
            Alert.kind == kind,
            Alert.state == "open",
        )
    )
    if existing is not None:
        existing.occurrences += 1
        existing.message = message
    return False


def resolve_alerts(session: Session, *, tenant_id: int, source_id: int | None, kind: str) -> int:
    alerts = session.scalars(
        select(Alert).where(
            Alert.tenant_id == tenant_id,
            Alert.source_id.is_not_distinct_from(source_id),
            Alert.kind == kind,
            Alert.state == "open",
        )
    ).all()
    for alert in alerts:
        close_alert(session, alert)
    return len(alerts)


def close_alert(session: Session, alert: Alert) -> None:
    """Resolve one open alert and announce it to the tenant's channels."""
    alert.state = "resolved"
    alert.resolved_at = datetime.now(UTC)
    session.flush()
    notify.queue(session, alert.id, notify.RESOLVED)
    log.info("alert resolved (%s) #%s", alert.kind, alert.id)


def audit_operator(
    session: Session, tenant_id: int | None, entity: str, name: str, action: str
) -> None:
    session.add(
        AuditEvent(
            tenant_id=tenant_id,
            direction="operator",
            system="connector",
            entity=entity,
            external_id=name,
            action=action,
            actor="operator",
            outcome="ok",
        )
    )


@dataclass
class WriteContext:
    """Who writes what: every remote write gets one audit row.

    An error or an unknown outcome is committed on its own at once, so it survives whatever
    happens to the record's transaction. With ``defer_ok`` (the load), a successful write's
    row waits in :attr:`pending` and the loader writes it in the record's final transaction
    beside the link (:meth:`flush`), one transaction fewer per write (issue 14)."""

    tenant_id: int
    source_id: int | None
    entity: str
    external_id: str | None
    actor: str
    system: str = "ifs"
    defer_ok: bool = False
    pending: list[dict[str, Any]] = field(default_factory=list)

    def record(self, action: str, outcome: str, *, ifs_key: str | None = None,
               http_status: int | None = None, detail: str | None = None) -> None:
        row = {"action": action, "outcome": outcome, "ifs_key": ifs_key,
               "http_status": http_status, "detail": detail}
        if self.defer_ok and outcome == "ok":
            self.pending.append(row)
            return
        with session_scope() as s:
            self._write(s, row)

    def flush(self, session: Session) -> None:
        """Write the deferred rows in ``session`` (the loader's final transaction)."""
        for row in self.pending:
            self._write(session, row)
        self.pending.clear()

    def _write(self, session: Session, row: dict[str, Any]) -> None:
        audit(session, tenant_id=self.tenant_id, source_id=self.source_id, system=self.system,
              entity=self.entity, external_id=self.external_id, actor=self.actor, **row)

    def write(self, action: str, ifs_key: str | None, fn: Callable[[], T]) -> T:
        try:
            result = fn()
        except OutcomeUnknown as exc:
            # The write may have happened: "unknown", re-read by natural key before a retry.
            self.record(action, "unknown", ifs_key=ifs_key, http_status=exc.status,
                        detail=str(exc))
            raise
        except ConnectorError as exc:
            self.record(action, "error", ifs_key=ifs_key, http_status=exc.status,
                        detail=str(exc))
            raise
        status = 201 if action.startswith("create") else 200
        self.record(action, "ok", ifs_key=ifs_key, http_status=status)
        return result
