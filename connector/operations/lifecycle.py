"""Changing and removing sources and tenants (``source set|remove``, ``tenant remove``).

Removal deletes the rows (staged records, links, cursors, deliveries and alerts go with them by
foreign-key cascade; audit rows stay, detached). It is refused while records are in flight — a
record pending or being loaded, a fetch running — because a load that finishes after the source
is gone would post to IFS with nothing left to record it; ``force`` overrides that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.models import PENDING, Source, StagedRecord, SyncCursor, Tenant
from connector.operations.admin import AdminError, InvalidInput, check_url
from connector.pipeline.audit import audit_operator


class InFlightError(AdminError):
    """Work is still in flight; removing now could lose or orphan it."""

    exit_code = 1


@dataclass(frozen=True)
class Footprint:
    """What a removal would delete."""

    sources: int
    records: int
    in_flight: int
    fetches_running: int

    @property
    def busy(self) -> bool:
        return self.in_flight > 0 or self.fetches_running > 0


def footprint(session: Session, *, tenant_id: int, source_id: int | None = None) -> Footprint:
    where = [StagedRecord.tenant_id == tenant_id]
    if source_id is not None:
        where.append(StagedRecord.source_id == source_id)
    records = session.scalar(select(func.count()).select_from(StagedRecord).where(*where)) or 0
    in_flight = session.scalar(select(func.count()).select_from(StagedRecord)
                               .where(*where, StagedRecord.state == PENDING)) or 0
    src_ids = select(Source.id).where(Source.tenant_id == tenant_id)
    if source_id is not None:
        src_ids = src_ids.where(Source.id == source_id)
    running = session.scalar(select(func.count()).select_from(SyncCursor).where(
        SyncCursor.source_id.in_(src_ids), SyncCursor.running_since.is_not(None))) or 0
    sources = 1 if source_id is not None else (session.scalar(
        select(func.count()).select_from(Source).where(Source.tenant_id == tenant_id)) or 0)
    return Footprint(sources, records, in_flight, running)


def _refuse_if_busy(what: str, fp: Footprint, force: bool) -> None:
    if fp.busy and not force:
        raise InFlightError(
            f"{what} has {fp.in_flight} record(s) in flight and {fp.fetches_running} fetch(es) "
            "running: pause it and wait until they settle (`ml-connector status`), or pass "
            "--force to remove it anyway")


def remove_source(session: Session, source: Source, *, force: bool = False) -> Footprint:
    """Delete a source and everything staged for it. Refused while work is in flight."""
    fp = footprint(session, tenant_id=source.tenant_id, source_id=source.id)
    _refuse_if_busy(f"source {source.name!r}", fp, force)
    audit_operator(session, source.tenant_id, "source", source.name,
                   "remove (forced)" if force and fp.busy else "remove")
    session.delete(source)
    session.flush()
    return fp


def remove_tenant(session: Session, tenant: Tenant, *, force: bool = False) -> Footprint:
    """Delete a tenant, its sources and everything staged for them (audit rows stay)."""
    fp = footprint(session, tenant_id=tenant.id)
    _refuse_if_busy(f"tenant {tenant.name!r}", fp, force)
    audit_operator(session, None, "tenant", tenant.name,
                   "remove (forced)" if force and fp.busy else "remove")
    session.delete(tenant)
    session.flush()
    return fp


def parse_start_date(value: str) -> datetime:
    """``2025-01-31`` or an ISO timestamp; naive values are UTC."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"start date must be a date (YYYY-MM-DD) or an ISO timestamp, "
                           f"got {value!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def default_start_date(window_days: int, now: datetime | None = None) -> datetime:
    """Where a new source's first sync starts: ``window_days`` back (never all history)."""
    return (now or datetime.now(UTC)) - timedelta(days=window_days)


def set_start_date(session: Session, source: Source, start: datetime) -> None:
    """Move the first-sync start of a source whose streams have not fetched anything yet; a
    source that already synced keeps its cursors (use ``backfill`` for older history)."""
    cursors = session.scalars(select(SyncCursor).where(SyncCursor.source_id == source.id)
                              .with_for_update()).all()
    if any(c.last_run_at is not None for c in cursors):
        raise InvalidInput(f"source {source.name!r} has already synced: its start date cannot "
                           "move (use `ml-connector backfill --since DATE` for older history)")
    for c in cursors:
        c.watermark = start
        c.seen_ids = []
    source.settings = {**(source.settings or {}), "start_date": start.isoformat()}


def update_source(session: Session, source: Source, *, base_url: str | None = None,
                  poll_interval_s: int | None = None, key_owner: str | None = None,
                  settings: dict[str, Any] | None = None, unset: tuple[str, ...] = (),
                  start_date: datetime | None = None) -> list[str]:
    """Change what an operator may change on a source; returns the names of what changed."""
    changed = []
    if base_url is not None:
        source.base_url = check_url(base_url, "source base URL")
        changed.append("base_url")
    if poll_interval_s is not None:
        source.poll_interval_s = poll_interval_s
        changed.append("interval")
    if key_owner is not None:
        source.key_owner = key_owner
        changed.append("key_owner")
    if settings or unset:
        merged = {**(source.settings or {}), **(settings or {})}
        missing = [k for k in unset if k not in merged]
        if missing:
            raise InvalidInput(f"source {source.name!r} has no setting {', '.join(missing)}")
        for key in unset:
            merged.pop(key)
        source.settings = merged
        changed += [f"setting {k}" for k in (*(settings or {}), *unset)]
    if start_date is not None:
        set_start_date(session, source, start_date)
        changed.append("start_date")
    if not changed:
        raise InvalidInput("nothing to change (see `ml-connector source set --help`)")
    audit_operator(session, source.tenant_id, "source", source.name,
                   ("update " + ", ".join(changed))[:40])
    return changed
