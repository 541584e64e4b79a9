"""Staged records: staging, state changes, the pump and the sweeper (design.md §3–4).

Postgres is the queue of record. Fetch stages rows (``INSERT … ON CONFLICT DO NOTHING`` on the
natural key and version); the pump hands out pending rows to the transform queue, at most
``MLC_LOAD_INFLIGHT_PER_TENANT`` per tenant at a time, marking them ``enqueued_at``; a row whose
message was lost (dead worker, flushed Redis) is handed out again once it has been in flight for
longer than ``MLC_SWEEP_AFTER_S``. Every row ends done, failed, parked or superseded.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, bindparam, event, exists, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from connector import metrics
from connector.logformat import correlation_id
from connector.logs import scrub
from connector.models import (
    CLAIM_RANK,
    DONE,
    FAILED,
    PARKED,
    PENDING,
    SUPERSEDED,
    RecordLink,
    StagedRecord,
    Tenant,
)

log = logging.getLogger(__name__)


class Parked(Exception):
    """The record waits for an operator (e.g. BigCommerce skip policy, no IFS customer)."""


def content_hash(payload: Any) -> str:
    """Stable hash of a record's content (key order and whitespace do not matter)."""
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class Incoming:
    entity: str
    external_id: str
    version: str
    payload: dict[str, Any]


#: Set by a fetch for its run (``pipeline.fetch.run_fetch``): called with the tenant after each
#: commit that staged new rows, so the records start loading while the store is still being
#: read, instead of after the whole run (the fetch task pumps there).
after_staged: ContextVar[Callable[[int], None] | None] = ContextVar("after_staged",
                                                                    default=None)


def _call_after_commit(session: Session, tenant_id: int) -> None:
    hook = after_staged.get()
    if hook is None or session.info.get("mlc_after_staged"):
        return
    session.info["mlc_after_staged"] = True

    def after_commit(_: Session) -> None:
        session.info.pop("mlc_after_staged", None)
        try:
            hook(tenant_id)
        except Exception:  # the rows are committed; the end of the run (or the sweeper) pumps
            log.warning("could not hand out newly staged records", exc_info=True)

    event.listen(session, "after_commit", after_commit, once=True)


def stage(
    session: Session, *, tenant_id: int, source_id: int, records: Iterable[Incoming], origin: str
) -> list[int]:
    """Store record versions; returns the ids of rows that are new (re-stages are no-ops)."""
    rows = [
        {
            "tenant_id": tenant_id,
            "source_id": source_id,
            "entity": r.entity,
            "external_id": r.external_id,
            "version": r.version,
            "payload": r.payload,
            "content_hash": content_hash(r.payload),
            "origin": origin,
            "state": PENDING,
        }
        for r in records
    ]
    if not rows:
        return []
    stmt = (
        insert(StagedRecord)
        .values(rows)
        .on_conflict_do_nothing(constraint="uq_staged_records_natural")
        .returning(StagedRecord.id, StagedRecord.entity, StagedRecord.external_id,
                   StagedRecord.version)
    )
    staged = []
    for row_id, entity, external_id, version in session.execute(stmt).all():
        staged.append(row_id)
        log.info("staged %s %s version %s as record %s (%s)", entity, external_id, version,
                 row_id, origin, extra={"record": row_id, "source": source_id,
                                        "tenant": tenant_id,
                                        "correlation_id": correlation_id(source_id, entity,
                                                                         external_id)})
    if staged:
        _call_after_commit(session, tenant_id)
    return staged


def latest_hash(session: Session, source_id: int, entity: str, external_id: str) -> str | None:
    return session.scalar(
        select(StagedRecord.content_hash)
        .where(StagedRecord.source_id == source_id, StagedRecord.entity == entity,
               StagedRecord.external_id == external_id)
        .order_by(*newest_first())
        .limit(1)
    )


def version_staged(session: Session, source_id: int, entity: str, external_id: str,
                   version: str) -> bool:
    """This version of the store record is staged already (whatever its state)."""
    return session.scalar(
        select(StagedRecord.id).where(
            StagedRecord.source_id == source_id, StagedRecord.entity == entity,
            StagedRecord.external_id == external_id, StagedRecord.version == version).limit(1)
    ) is not None


def known_ids(session: Session, source_id: int, entity: str, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` have been staged at least once."""
    if not ids:
        return set()
    return set(
        session.scalars(
            select(StagedRecord.external_id).distinct().where(
                StagedRecord.source_id == source_id, StagedRecord.entity == entity,
                StagedRecord.external_id.in_(list(ids)))
        )
    )


def finish(session: Session, record: StagedRecord, state: str, *, reason: str | None = None,
           kind: str | None = None) -> None:
    record.state = state
    # Stored reasons are shown by `records` and on /ops/: they pass the one redaction path.
    record.last_error = scrub(reason)
    record.error_kind = kind
    record.enqueued_at = None
    metrics.record_finished(state)
    if state != FAILED:  # a failed row keeps when it started failing; replay clears it
        record.failing_since = None


def mark_done(session: Session, record: StagedRecord) -> None:
    finish(session, record, DONE)


def mark_done_by_id(session: Session, staged_id: int) -> None:
    """:func:`mark_done` without loading the row (its payload and plan stay in Postgres)."""
    session.execute(update(StagedRecord).where(StagedRecord.id == staged_id)
                    .values(state=DONE, last_error=None, error_kind=None, enqueued_at=None,
                            failing_since=None))
    metrics.record_finished(DONE)


def mark_failed(session: Session, record: StagedRecord, reason: str, kind: str = "data") -> None:
    finish(session, record, FAILED, reason=reason, kind=kind)


def mark_parked(session: Session, record: StagedRecord, reason: str) -> None:
    finish(session, record, PARKED, reason=reason, kind="parked")


def mark_superseded(session: Session, record: StagedRecord, reason: str) -> None:
    finish(session, record, SUPERSEDED, reason=reason)


# Versions order by what happened (issue 13, seen 8): by modification time, and within the same
# time by the order in which we saw them — the staged row's id, a monotonic sequence — never by
# the content hash some versions carry after the time (``2025-03-14T09:05:40#3f9a…``).
version_time_column: ColumnElement[str] = func.split_part(StagedRecord.version, "#", 1,
                                                          type_=String)


def version_time(version: str) -> str:
    """The time part of a version string (``stamp#hash`` → ``stamp``)."""
    return version.split("#", 1)[0]


def newest_first() -> tuple[Any, Any]:
    """ORDER BY terms for "latest version first"."""
    return version_time_column.desc(), StagedRecord.id.desc()


def oldest_first() -> tuple[Any, Any]:
    return version_time_column.asc(), StagedRecord.id.asc()


_newer = aliased(StagedRecord)
_newer_time = func.split_part(_newer.version, "#", 1, type_=String)
#: The load's planning read, built once: the record, its link and whether a newer version of
#: it is staged (not failed), in one round trip (they were three).
_FOR_LOAD = (
    select(StagedRecord, RecordLink, exists().where(
        _newer.source_id == StagedRecord.source_id, _newer.entity == StagedRecord.entity,
        _newer.external_id == StagedRecord.external_id,
        or_(_newer_time > version_time_column,
            and_(_newer_time == version_time_column, _newer.id > StagedRecord.id)),
        _newer.state.in_([PENDING, DONE])).label("newer"))
    .outerjoin(RecordLink, and_(RecordLink.source_id == StagedRecord.source_id,
                                RecordLink.entity == StagedRecord.entity,
                                RecordLink.external_id == StagedRecord.external_id))
    .where(StagedRecord.id == bindparam("staged_id")))


def read_for_load(session: Session,
                  staged_id: int) -> tuple[StagedRecord | None, RecordLink | None, bool]:
    """The record (as its last holder committed it: read after the load's lock), its record
    link, and whether a newer version of the same store record is staged and not failed (it
    will do the work: a later version time, or the same time and staged later)."""
    row = session.execute(_FOR_LOAD, {"staged_id": staged_id}).first()
    if row is None:
        return None, None, False
    return row[0], row[1], bool(row[2])


def _ready(stale: datetime) -> Any:
    """A pending row no worker holds: never handed out, or handed out so long ago that its
    message is considered lost."""
    return and_(StagedRecord.state == PENDING,
                or_(StagedRecord.enqueued_at.is_(None), StagedRecord.enqueued_at < stale))


def claim_statement(tenant_id: int, *, room: int, cap: int, stale: datetime,
                    now: datetime) -> Any:
    """One tenant's claim as one statement: up to ``room`` minus the rows already in flight
    (and at most ``cap``), customers first (so references exist), then oldest first, marked
    enqueued and returned.

    It reads O(batch) rows, not the backlog: the pick walks ``ix_staged_records_claim`` (the
    tenant's pending rows in exactly this order) and the in-flight count
    ``ix_staged_records_inflight``. ``SKIP LOCKED`` lets two pumps run at once without handing
    out the same row twice. Each returned row also carries the tenant's in-flight count before
    the claim (the statement's snapshot): 0 means the tenant had nothing in flight."""
    in_flight = (select(func.count()).select_from(StagedRecord)
                 .where(StagedRecord.tenant_id == tenant_id, StagedRecord.state == PENDING,
                        StagedRecord.enqueued_at.is_not(None), StagedRecord.enqueued_at >= stale)
                 .scalar_subquery())
    picked = (select(StagedRecord.id)
              .where(StagedRecord.tenant_id == tenant_id, _ready(stale))
              .order_by(CLAIM_RANK, StagedRecord.id)
              .limit(func.least(cap, func.greatest(0, room - in_flight)))
              .with_for_update(skip_locked=True)
              .cte("picked"))
    # ``= ANY(ARRAY(…))``, not a join: the planner cannot size a LIMIT computed in SQL, and
    # would hash-join the whole table for a join; with an array it probes the primary key.
    return (update(StagedRecord)
            .add_cte(picked)
            .where(text("staged_records.id = ANY(ARRAY(SELECT picked.id FROM picked))"))
            .values(enqueued_at=now, attempts=StagedRecord.attempts + 1)
            .returning(StagedRecord.id, StagedRecord.entity, in_flight.label("in_flight")))


def is_newer_than(session: Session, record: StagedRecord, applied_version: str) -> bool:
    """Whether ``record`` happened after the version already applied to IFS (the link's
    ``last_version``): a later time, or the same time and seen later."""
    if record.version == applied_version:
        return False
    mine, theirs = version_time(record.version), version_time(applied_version)
    if mine != theirs:
        return mine > theirs
    applied_id = session.scalar(select(StagedRecord.id).where(
        StagedRecord.source_id == record.source_id, StagedRecord.entity == record.entity,
        StagedRecord.external_id == record.external_id,
        StagedRecord.version == applied_version))
    return applied_id is None or record.id > applied_id


#: Advisory lock class of the pump (with the tenant id as the second key).
PUMP_LOCK = 0x6D6C63  # "mlc"


@dataclass(frozen=True)
class Claim:
    """One tenant's share of a pump: the rows handed out (customers first), and whether the
    tenant had less than half its window in flight before (``first``: its records take the
    transform queue's fast lane, so a quiet tenant's new orders do not wait behind a busy
    tenant's window; a busy tenant's refills, claimed as its window drains by a quarter, do
    not qualify)."""

    tenant_id: int
    ids: list[int]
    first: bool


def claim_pending(session: Session, *, inflight_per_tenant: int, stale_after_s: int,
                  tenant_id: int | None = None, limit: int = 1000) -> list[int]:
    """Pick pending rows to hand to the transform queue, respecting each tenant's in-flight
    budget, and mark them enqueued (one statement per tenant with ready rows). Rows in flight
    for longer than ``stale_after_s`` are considered lost and handed out again. Commit before
    enqueueing the returned ids."""
    return [i for claim in claim_by_tenant(
        session, inflight_per_tenant=inflight_per_tenant, stale_after_s=stale_after_s,
        tenant_id=tenant_id, limit=limit) for i in claim.ids]


def claim_by_tenant(session: Session, *, inflight_per_tenant: int, stale_after_s: int,
                    tenant_id: int | None = None, limit: int = 1000) -> list[Claim]:
    """:func:`claim_pending`, per tenant, with whether the tenant was quiet (less than half its
    window in flight before the claim)."""
    now = datetime.now(UTC)
    stale = now - timedelta(seconds=stale_after_s)
    if tenant_id is not None:
        tenants = [tenant_id]
    else:
        ready = select(StagedRecord.id).where(StagedRecord.tenant_id == Tenant.id,
                                              _ready(stale))
        tenants = list(session.scalars(select(Tenant.id).where(ready.exists())
                                       .order_by(Tenant.id)))
    claims: list[Claim] = []
    total = 0
    for tid in tenants:
        cap = limit - total
        if cap <= 0:
            break
        # One pump at a time per tenant (until this transaction commits): the in-flight count
        # of the claim statement then sees every earlier pump's claims, so two pumps at once
        # never hand out more than the cap.
        if not session.scalar(select(func.pg_try_advisory_xact_lock(PUMP_LOCK, tid))):
            continue  # another pump is filling this tenant's room right now
        stmt = claim_statement(tid, room=inflight_per_tenant, cap=cap, stale=stale, now=now)
        rows = session.execute(stmt).tuples().all()
        if not rows:
            continue
        ids = [i for _, i in sorted((entity != "customer", i) for i, entity, _ in rows)]
        before = max(int(n or 0) for _, _, n in rows)
        claims.append(Claim(tid, ids, first=before < max(1, inflight_per_tenant // 2)))
        total += len(ids)
    return claims


def touch(staged_id: int, seconds: float) -> None:
    """Keep a row 'in flight' while its retry waits, so the sweeper does not hand it out
    twice: its ``enqueued_at`` moves to when the retry is due."""
    from connector.db import session_scope

    with session_scope() as s:
        s.execute(update(StagedRecord).where(StagedRecord.id == staged_id,
                                             StagedRecord.state == PENDING)
                  .values(enqueued_at=func.now() + timedelta(seconds=seconds)))


def note_failure(staged_id: int, retry_in: float) -> datetime | None:
    """A retryable failure of a row: keep it in flight until its retry is due (like
    :func:`touch`) and remember when its run of failures began. Returns that time (None when
    the row is no longer pending)."""
    from connector.db import session_scope

    with session_scope() as s:
        since = s.execute(
            update(StagedRecord)
            .where(StagedRecord.id == staged_id, StagedRecord.state == PENDING)
            .values(enqueued_at=func.now() + timedelta(seconds=retry_in),
                    failing_since=func.coalesce(StagedRecord.failing_since, func.now()))
            .returning(StagedRecord.failing_since)).scalar()
    return since


def failing_since(staged_id: int) -> datetime | None:
    """When the row's current run of retryable failures began (None: it is not failing)."""
    from connector.db import session_scope

    with session_scope() as s:
        return s.scalar(select(StagedRecord.failing_since).where(StagedRecord.id == staged_id))


REPLAYABLE = (FAILED, PARKED)


def replay(session: Session, *, tenant_id: int, ids: Sequence[int] | None = None,
           source_id: int | None = None, entity: str | None = None,
           states: Sequence[str] = REPLAYABLE) -> int:
    """Put failed/parked rows back to pending (origin kept, error cleared). Idempotent: rows
    already pending or done are untouched. Returns how many rows were reset."""
    stmt = (update(StagedRecord)
            .where(StagedRecord.tenant_id == tenant_id, StagedRecord.state.in_(list(states)))
            .values(state=PENDING, enqueued_at=None, last_error=None, error_kind=None,
                    plan=None, failing_since=None))
    if ids:
        stmt = stmt.where(StagedRecord.id.in_(list(ids)))
    if source_id is not None:
        stmt = stmt.where(StagedRecord.source_id == source_id)
    if entity is not None:
        stmt = stmt.where(StagedRecord.entity == entity)
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def counts_by_state(session: Session, tenant_id: int) -> dict[str, int]:
    rows = session.execute(
        select(StagedRecord.state, func.count()).where(StagedRecord.tenant_id == tenant_id)
        .group_by(StagedRecord.state)).tuples().all()
    return dict(rows)


TERMINAL = (DONE, FAILED, PARKED, SUPERSEDED)
