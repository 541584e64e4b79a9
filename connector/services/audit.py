"""Audit rows and operational alerts (design.md §4).

Every remote write gets one audit row (outcome ok or error, with the HTTP status). Alerts are
deduplicated in the database: at most one open alert per (tenant, source, kind); raising it
again only counts another occurrence.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from connector.models import Alert, AuditEvent

log = logging.getLogger(__name__)


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
            detail=(detail or None) and detail[:2000],
        )
    )


def raise_alert(
    session: Session, *, tenant_id: int, source_id: int | None, kind: str, message: str
) -> bool:
    """Open an alert, or count one more occurrence of the open one. True when newly opened."""
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
        alert.state = "resolved"
        alert.resolved_at = datetime.now(UTC)
    return len(alerts)
