"""Load (design.md §3.4): execute a staged record's plan against IFS, one record at a time.

A Postgres advisory lock per store record means two versions of one record never load at once.
An older version never overwrites a newer one: versions are compared with the link's
``last_version`` and with newer staged versions. The plan itself is run by
:class:`~connector.pipeline.executor.PlanExecutor`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, literal_column, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from connector import metrics
from connector.db import get_engine
from connector.errors import Conflict
from connector.fleetbudget import FleetBudget, class_of_origin
from connector.logformat import bind, correlation_id
from connector.models import PARKED, PENDING, Source, StagedRecord, Tenant
from connector.pipeline import intents, records
from connector.pipeline.audit import WriteContext
from connector.pipeline.context import SOURCE_REVISION, TENANT_REVISION, load_context
from connector.pipeline.executor import PlanExecutor
from connector.pipeline.finish import Done, finish_done
from connector.pipeline.links import snapshot
from connector.pipeline.records import Parked
from connector.pipeline.targets import ifs_actor, ifs_client
from connector.pipeline.transform import plan_record
from connector.ratelimit import Budget, PrepaidBudget

log = logging.getLogger(__name__)

PLAN_COST = 1  # IFS requests of a typical load: one change set (or one PATCH)


class Busy(Conflict):
    """Another worker holds this store record's lock: try again shortly."""


def _lock_key(source_id: int, entity: str, external_id: str) -> int:
    digest = hashlib.sha256(f"mlc:{source_id}:{entity}:{external_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class ReserveOnFirstRequest(PrepaidBudget):
    """A load's budget: nothing is taken until the first request (or :meth:`reserve_now`), which
    reserves the plan's expected cost at once (as :meth:`PrepaidBudget.reserve`).
    ``before_first`` runs before that first request (the load commits its planning transaction
    there)."""

    def __init__(self, budget: Budget, cost: int,
                 before_first: Callable[[], None] | None = None) -> None:
        super().__init__(budget, 0)
        self.cost = cost
        self.reserved = False
        self.before_first = before_first

    def reserve_now(self, n: int = 1) -> None:
        """Take the plan's tokens now, or raise :class:`~connector.errors.RateLimited` (a write
        intent is committed only once its create has the tokens to go out)."""
        if not self.reserved:
            first = max(1, min(max(n, self.cost), self.budget.burst))
            self.budget.acquire_or_raise(first)
            self.prepaid = first
            self.reserved = True

    def acquire_or_raise(self, n: int = 1) -> None:
        self.reserve_now(n)
        hook, self.before_first = self.before_first, None
        if hook is not None:
            hook()
        super().acquire_or_raise(n)


class BeforeFirstRequest:
    """A budget wrapper that only runs ``before_first`` before the first request (a client
    without a fleet budget)."""

    def __init__(self, budget: Budget | None, before_first: Callable[[], None]) -> None:
        self.budget = budget
        self.before_first: Callable[[], None] | None = before_first
        self.key = budget.key if budget is not None else "none"
        self.rate_per_min = budget.rate_per_min if budget is not None else 0
        self.burst = budget.burst if budget is not None else 1
        self.prepaid = 0

    def reserve_now(self, n: int = 1) -> None:
        """Take the first request's token now (see :meth:`ReserveOnFirstRequest.reserve_now`)."""
        if self.budget is not None and self.before_first is not None and not self.prepaid:
            self.budget.acquire_or_raise(n)
            self.prepaid = n

    def acquire_or_raise(self, n: int = 1) -> None:
        if self.prepaid >= n:
            self.prepaid -= n
        elif self.budget is not None:
            self.budget.acquire_or_raise(n)
        hook, self.before_first = self.before_first, None
        if hook is not None:
            hook()


@dataclass(frozen=True)
class LoadResult:
    state: str
    ifs_key: str | None = None
    detail: str = ""
    tenant_id: int | None = None


def lock_key_sql() -> Any:
    """:func:`_lock_key` computed by Postgres from the row (the first 8 bytes of the SHA-256,
    big-endian, signed), so the record's key and its lock come in one statement."""
    return literal_column(
        "('x' || left(encode(sha256(convert_to('mlc:' || staged_records.source_id || ':' || "
        "staged_records.entity || ':' || staged_records.external_id, 'UTF8')), 'hex'), 16))"
        "::bit(64)::bigint")


#: The load's first statement, built once: the record's state and key, its tenant's and
#: source's row versions, and its lock (taken only while it is pending).
_FIRST = (
    select(StagedRecord.state, StagedRecord.tenant_id, StagedRecord.source_id,
           StagedRecord.entity, StagedRecord.external_id,
           TENANT_REVISION.label("tenant_rev"), SOURCE_REVISION.label("source_rev"),
           lock_key_sql().label("lock_key"),
           case((StagedRecord.state == PENDING, func.pg_try_advisory_lock(lock_key_sql())),
                else_=None).label("locked"))
    .join(Tenant, Tenant.id == StagedRecord.tenant_id)
    .join(Source, Source.id == StagedRecord.source_id)
    .where(StagedRecord.id == bindparam("staged_id")))


def load(staged_id: int) -> LoadResult:
    """Load one staged record into IFS (idempotent; safe to call again after any failure).

    One connection for the whole load. Its first statement reads the record's state and the
    row versions of its tenant and source and takes the record's lock (a session-level
    advisory lock on the store record, held across the IFS calls; a dead worker's connection
    closes and the lock goes with it). Then, in the same *planning* transaction: the record,
    its plan, the version checks and the write intent, committed before the first IFS request;
    after the IFS write, one final transaction (audit rows, outcome, link, state). The lock is
    released after that commit, in autocommit (one round trip)."""
    with get_engine().connect() as conn:
        s = Session(bind=conn, expire_on_commit=False)
        try:
            row = s.execute(_FIRST, {"staged_id": staged_id}).first()
            if row is None:
                s.rollback()
                return LoadResult("missing")
            if row.state != PENDING:
                s.rollback()
                return LoadResult(row.state, detail="already finished", tenant_id=row.tenant_id)
            bind(tenant=row.tenant_id, source=row.source_id, record=staged_id,
                 correlation_id=correlation_id(row.source_id, row.entity, row.external_id))
            if not row.locked:
                s.rollback()
                raise Busy(f"{row.entity} {row.external_id} is being loaded by another worker",
                           retry_after=1.0)
            started = time.monotonic()
            try:
                result = _load_locked(s, staged_id, (row.tenant_rev, row.source_rev))
            except BaseException:
                s.rollback()
                _unlock(conn, int(row.lock_key), failing=True)
                raise
            s.rollback()  # every path above committed what it wrote; this ends a read
            _unlock(conn, int(row.lock_key))
        finally:
            s.close()
    metrics.load_finished(result.state, time.monotonic() - started)
    log.info("load of record %s: %s%s", staged_id, result.state,
             f" ({result.ifs_key})" if result.ifs_key else "")
    return replace(result, tenant_id=row.tenant_id)


def _unlock(conn: Connection, key: int, *, failing: bool = False) -> None:
    """Release the record's lock after the load's last commit: one statement in autocommit
    (no BEGIN/COMMIT round trips). When that fails while the load is failing anyway, the
    connection is dropped instead (its lock goes with it) and the load's own error stands."""
    try:
        auto = conn.execution_options(isolation_level="AUTOCOMMIT")
        auto.execute(select(func.pg_advisory_unlock(key)))
        auto.rollback()  # ends SQLAlchemy's bookkeeping; nothing is sent in autocommit
    except Exception:
        if not failing:
            raise
        log.warning("could not release the load lock; dropping the connection", exc_info=True)
        conn.invalidate()


def _load_locked(s: Session, staged_id: int, revision: tuple[str, str]) -> LoadResult:
    """The load, with the record's lock held; ``s`` has the planning transaction open."""
    # Read after the lock: what its last holder committed; with its link and whether a newer
    # version is staged (one statement).
    rec, link, newer_staged = records.read_for_load(s, staged_id)
    if rec is None or rec.state != PENDING:
        return LoadResult(rec.state if rec is not None else "missing",
                          detail="already finished")
    try:
        context = load_context(s, rec.tenant_id, rec.source_id, revision)
    except LookupError:  # the tenant or source was removed a moment ago
        return LoadResult("missing")
    tenant, source = context.tenant, context.source
    planned = rec.plan is None
    if planned:
        if not plan_record(s, rec, tenant, source):
            s.commit()
            return LoadResult(rec.state, detail=rec.last_error or "")
        # The plan is stored with the record's final state (one UPDATE, not two); a load that
        # stops before plans the record again.
        set_committed_value(rec, "plan", rec.plan)
    if link is not None and link.last_version is not None and not records.is_newer_than(
            s, rec, link.last_version):
        records.mark_superseded(
            s, rec, f"version {rec.version} is not newer than the applied {link.last_version}")
        s.commit()
        return LoadResult(rec.state)
    if newer_staged:
        records.mark_superseded(s, rec, "a newer version of this record is staged")
        s.commit()
        return LoadResult(rec.state)
    plan = dict(rec.plan or {})
    link_snapshot = snapshot(link)
    ctx = WriteContext(tenant.id, source.id, rec.entity, rec.external_id,
                       ifs_actor(tenant, source), defer_ok=True)
    version, chash = rec.version, rec.content_hash
    client = ifs_client(tenant, class_of_origin(rec.origin))
    executor = PlanExecutor(client, ctx, tenant, source, _load_dependency, planning=s)
    if isinstance(client.budget, FleetBudget):
        # Reserve the plan's usual cost at its first request (raises RateLimited to defer), so
        # a load that needs no request (a record seen again unchanged) takes no token. A plan
        # that knows it needs more (an inline buyer, a voucher with a label) says so, so that
        # it never starts without the tokens to finish.
        cost = int(plan.get("ifs_requests") or PLAN_COST)
        client.budget = ReserveOnFirstRequest(client.budget, cost, executor.end_planning)
    else:
        client.budget = BeforeFirstRequest(client.budget, executor.end_planning)
    try:
        ifs_key, etag, details = executor.execute(plan, link_snapshot, chash)
    except Parked as exc:
        # The same transaction when no request was made; a new one otherwise.
        intents.complete(s, tenant.id, executor.outcomes)
        ctx.flush(s)
        records.mark_parked(s, rec, str(exc))
        s.commit()
        return LoadResult(PARKED, detail=str(exc))
    except BaseException:
        # The planning transaction (if still open) goes; what was created before the failure
        # stays known (so the retry needs no lookup for it), with its audit rows.
        s.rollback()
        executor.planning = None
        if executor.outcomes or ctx.pending:
            try:
                intents.complete(s, tenant.id, executor.outcomes)
                ctx.flush(s)
                s.commit()
            except Exception:
                s.rollback()
                log.warning("could not record write outcomes of record %s", staged_id,
                            exc_info=True)
        raise
    # The final transaction (the planning one, when the record needed no request): one
    # statement (``finish``).
    executor.planning = None
    email = str(plan["email"]) if plan.get("kind") == "customer" and plan.get("email") else None
    finish_done(s, ctx, executor.outcomes, Done(
        staged_id, ifs_key, etag, version, chash, details, plan if planned else None, email))
    s.commit()
    return LoadResult("done", ifs_key=ifs_key)


def _load_dependency(staged_id: int) -> tuple[str, str | None]:
    result = load(staged_id)
    return result.state, result.ifs_key
