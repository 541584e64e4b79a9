"""Backfill, re-sync and dry-run: reading a store's history (or named records) on an
operator's request.

A backfill stages order history modified in ``[since, until)`` in windows through the store's
``read_history`` (its plugin). Each window is staged and its position stored in the
``backfill_runs`` row in one transaction, so a run stopped by Ctrl-C or a crash resumes where
the last window ended; staging is idempotent on the natural key (source, entity, id, version),
so nothing already synced is staged twice. The command waits while the source's backlog is
above a limit, so the pipeline's IFS budget sets the pace, not the store reads.

A dry-run reads the same records and runs the same planners in a transaction that is rolled
back: it prints what would be written to IFS and writes nothing, anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from connector.db import get_engine, session_scope
from connector.models import PENDING, BackfillRun, Source, StagedRecord, Tenant
from connector.operations.admin import InvalidInput
from connector.pipeline import records
from connector.pipeline.audit import audit_operator
from connector.pipeline.records import Incoming, Parked
from connector.stores.mapping import MappingError
from connector.stores.registry import get_store


@dataclass
class Window:
    """What one backfill window did."""

    read: int
    staged: int
    reached: datetime | None
    done: bool
    records: list[Incoming] = field(default_factory=list)


def _plugin_reader(source: Source) -> Any:
    reader = get_store(source.system).read_history
    if reader is None:
        raise InvalidInput(f"{source.system} sources cannot backfill")
    return reader


def start_or_resume(session: Session, source: Source, since: datetime,
                    until: datetime) -> BackfillRun:
    """The running backfill of ``source`` over ``[since, until)``, or a new one."""
    if since >= until:
        raise InvalidInput(f"--since ({since.isoformat()}) must be before --until "
                           f"({until.isoformat()})")
    _plugin_reader(source)
    session.execute(insert(BackfillRun).values(
        source_id=source.id, since=since, until=until, position={}, state="running")
        .on_conflict_do_nothing(index_elements=["source_id", "since", "until"],
                                index_where=BackfillRun.state == "running"))
    run = session.scalar(select(BackfillRun).where(
        BackfillRun.source_id == source.id, BackfillRun.since == since,
        BackfillRun.until == until, BackfillRun.state == "running"))
    assert run is not None
    if run.read == 0:
        audit_operator(session, source.tenant_id, "source", source.name,
                       f"backfill {since.date()}..{until.date()}")
    return run


def run_window(run_id: int, *, max_rows: int) -> Window:
    """Read, stage and record one window of a backfill (one transaction for the staging and
    the position)."""
    with session_scope() as s:
        run = s.get(BackfillRun, run_id)
        assert run is not None
        source = s.get(Source, run.source_id)
        assert source is not None
        reader = _plugin_reader(source)
        since, until, position = run.since, run.until, dict(run.position or {})
        source_id, tenant_id = source.id, source.tenant_id
    window = reader(source_id, position, since=since, until=until, max_rows=max_rows)
    with session_scope() as s:
        run = s.get(BackfillRun, run_id, with_for_update=True)
        assert run is not None
        staged = records.stage(s, tenant_id=tenant_id, source_id=source_id,
                               records=window.records, origin="backfill")
        run.position = window.position
        run.read += window.read
        run.staged += len(staged)
        if window.done:
            run.state = "done"
            run.finished_at = datetime.now(UTC)
            _move_floor(s, source_id, since)
    return Window(window.read, len(staged), window.reached, window.done)


def dry_window(source_id: int, position: dict[str, Any], *, since: datetime, until: datetime,
               max_rows: int) -> tuple[Window, dict[str, Any]]:
    """Read one window without staging anything: ``(window with its records, next position)``."""
    with session_scope() as s:
        source = s.get(Source, source_id)
        assert source is not None
        reader = _plugin_reader(source)
    window = reader(source_id, position, since=since, until=until, max_rows=max_rows)
    return (Window(window.read, 0, window.reached, window.done, list(window.records)),
            window.position)


def _move_floor(s: Session, source_id: int, since: datetime) -> None:
    """After a complete backfill the source syncs (and reconciles) from ``since``."""
    source = s.get(Source, source_id)
    assert source is not None
    settings = dict(source.settings or {})
    current = settings.get("start_date")
    if current is None or datetime.fromisoformat(str(current)) > since:
        settings["start_date"] = since.isoformat()
        source.settings = settings


def backlog(source_id: int) -> int:
    """Records of the source still waiting to be loaded."""
    with session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(StagedRecord).where(
            StagedRecord.source_id == source_id, StagedRecord.state == PENDING)) or 0)


def outcome(source_id: int, since: datetime) -> dict[str, int]:
    """Backfilled records of the source touched since ``since``, by state."""
    with session_scope() as s:
        return dict(s.execute(
            select(StagedRecord.state, func.count())
            .where(StagedRecord.source_id == source_id, StagedRecord.origin == "backfill",
                   StagedRecord.updated_at >= since)
            .group_by(StagedRecord.state)).tuples().all())


def plan(source_id: int, incoming: list[Incoming]) -> list[dict[str, Any]]:
    """What the transform step would plan for ``incoming`` (the IFS commands the load step
    would execute), computed in a transaction that is rolled back: nothing is written."""
    out: list[dict[str, Any]] = []
    with Session(get_engine()) as s:
        try:
            source = s.get(Source, source_id)
            assert source is not None
            tenant = s.get(Tenant, source.tenant_id)
            assert tenant is not None
            planners = get_store(source.system).planners
            for r in incoming:
                row: dict[str, Any] = {"entity": r.entity, "store_id": r.external_id,
                                       "version": r.version}
                rec = StagedRecord(tenant_id=tenant.id, source_id=source.id, entity=r.entity,
                                   external_id=r.external_id, version=r.version,
                                   payload=r.payload, content_hash=records.content_hash(
                                       r.payload), origin="dry-run", state=PENDING, attempts=0)
                fn = planners.get(r.entity)
                try:
                    if fn is None:
                        raise MappingError([f"no mapping for {source.system} {r.entity}"])
                    row["plan"] = fn(s, tenant, source, rec)
                    row["outcome"] = "would load"
                except MappingError as exc:
                    row["outcome"] = "would fail"
                    row["reason"] = "; ".join(exc.problems)
                except Parked as exc:
                    row["outcome"] = "would park"
                    row["reason"] = str(exc)
                out.append(row)
        finally:
            s.rollback()
    return out


def resync(session: Session, source: Source, order_ids: list[str]) -> dict[str, str]:
    """Fetch named orders from the store now and put them through the pipeline: a new version
    is staged; an unchanged one that failed or was parked is replayed. Returns, per id, what
    happened."""
    plugin = get_store(source.system)
    result: dict[str, str] = {}
    for oid in order_ids:
        new = plugin.fetch_one(source.id, "order", oid, "resync")
        if new:
            result[oid] = "staged (new version)"
            continue
        latest = session.scalar(
            select(StagedRecord).where(StagedRecord.source_id == source.id,
                                       StagedRecord.entity == "order",
                                       StagedRecord.external_id == oid)
            .order_by(StagedRecord.id.desc()).limit(1).with_for_update())
        if latest is None:
            result[oid] = "not staged (the store returned nothing to sync)"
        elif latest.state in ("failed", "parked"):
            records.replay(session, tenant_id=source.tenant_id, ids=[latest.id],
                           states=(latest.state,))
            result[oid] = f"replayed (was {latest.state})"
        else:
            result[oid] = f"unchanged since its last sync ({latest.state})"
    audit_operator(session, source.tenant_id, "source", source.name,
                   f"resync {len(order_ids)} order(s)")
    return result
