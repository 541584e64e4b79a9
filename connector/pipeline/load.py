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
from dataclasses import dataclass, replace

from sqlalchemy import func, select

from connector import metrics
from connector.db import get_engine, session_scope
from connector.errors import Conflict
from connector.fleetbudget import FleetBudget, class_of_origin
from connector.logformat import bind, correlation_id
from connector.models import PARKED, PENDING, Source, StagedRecord, Tenant
from connector.pipeline import intents, records
from connector.pipeline.audit import IFS_AUTH_FAILED, WriteContext, resolve_alerts
from connector.pipeline.executor import PlanExecutor
from connector.pipeline.links import get_link, index_customer, save_link, snapshot
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
    """A load's budget: nothing is taken until the first request, which reserves the plan's
    expected cost at once (as :meth:`PrepaidBudget.reserve`)."""

    def __init__(self, budget: Budget, cost: int) -> None:
        super().__init__(budget, 0)
        self.cost = cost
        self.reserved = False

    def acquire_or_raise(self, n: int = 1) -> None:
        if not self.reserved:
            first = max(1, min(max(n, self.cost), self.budget.burst))
            self.budget.acquire_or_raise(first)
            self.prepaid = first
            self.reserved = True
        super().acquire_or_raise(n)


@dataclass(frozen=True)
class LoadResult:
    state: str
    ifs_key: str | None = None
    detail: str = ""
    tenant_id: int | None = None


def load(staged_id: int) -> LoadResult:
    """Load one staged record into IFS (idempotent; safe to call again after any failure).

    The record's key is read and its lock taken on one connection, in one transaction, without
    loading the payload: a session-level advisory lock on the store record, held across the
    IFS calls (a dead worker's connection closes and the lock goes with it)."""
    with get_engine().connect() as conn:
        row = conn.execute(select(
            StagedRecord.state, StagedRecord.tenant_id, StagedRecord.source_id,
            StagedRecord.entity, StagedRecord.external_id).where(
            StagedRecord.id == staged_id)).first()
        if row is None:
            conn.rollback()
            return LoadResult("missing")
        if row.state != PENDING:
            conn.rollback()
            return LoadResult(row.state, detail="already finished", tenant_id=row.tenant_id)
        bind(tenant=row.tenant_id, source=row.source_id, record=staged_id,
             correlation_id=correlation_id(row.source_id, row.entity, row.external_id))
        key = _lock_key(row.source_id, row.entity, row.external_id)
        got = bool(conn.execute(select(func.pg_try_advisory_lock(key))).scalar())
        conn.commit()
        if not got:
            raise Busy(f"{row.entity} {row.external_id} is being loaded by another worker",
                       retry_after=1.0)
        started = time.monotonic()
        try:
            result = _load_locked(staged_id)
        finally:
            conn.execute(select(func.pg_advisory_unlock(key)))
            conn.commit()
    metrics.load_finished(result.state, time.monotonic() - started)
    log.info("load of record %s: %s%s", staged_id, result.state,
             f" ({result.ifs_key})" if result.ifs_key else "")
    return replace(result, tenant_id=row.tenant_id)


def _load_locked(staged_id: int) -> LoadResult:
    with session_scope() as s:
        rec = s.get(StagedRecord, staged_id)
        assert rec is not None
        if rec.state != PENDING:
            return LoadResult(rec.state, detail="already finished")
        if rec.plan is None and not plan_record(s, rec):
            return LoadResult(rec.state, detail=rec.last_error or "")
        link = get_link(s, rec.source_id, rec.entity, rec.external_id)
        if link is not None and link.last_version is not None and not records.is_newer_than(
                s, rec, link.last_version):
            records.mark_superseded(
                s, rec, f"version {rec.version} is not newer than the applied {link.last_version}")
            return LoadResult(rec.state)
        if records.newer_version_exists(s, rec):
            records.mark_superseded(s, rec, "a newer version of this record is staged")
            return LoadResult(rec.state)
        tenant = s.get(Tenant, rec.tenant_id)
        source = s.get(Source, rec.source_id)
        assert tenant is not None and source is not None
        plan = dict(rec.plan or {})
        link_snapshot = snapshot(link)
        ctx = WriteContext(tenant.id, source.id, rec.entity, rec.external_id,
                           ifs_actor(tenant, source))
        version, chash = rec.version, rec.content_hash
        budget_class = class_of_origin(rec.origin)
    client = ifs_client(tenant, budget_class)
    if isinstance(client.budget, FleetBudget):
        # Reserve the plan's usual cost at its first request (raises RateLimited to defer), so
        # a load that needs no request (a record seen again unchanged) takes no token. A plan
        # that knows it needs more (an inline buyer, a voucher with a label) says so, so that
        # it never starts without the tokens to finish.
        cost = int(plan.get("ifs_requests") or PLAN_COST)
        client.budget = ReserveOnFirstRequest(client.budget, cost)
    executor = PlanExecutor(client, ctx, tenant, source, _load_dependency)
    try:
        ifs_key, etag, details = executor.execute(plan, link_snapshot, chash)
    except Parked as exc:
        with session_scope() as s:
            rec = s.get(StagedRecord, staged_id)
            assert rec is not None
            intents.complete(s, tenant.id, executor.outcomes)
            records.mark_parked(s, rec, str(exc))
        return LoadResult(PARKED, detail=str(exc))
    except BaseException:
        # What was created before the failure stays known, so the retry needs no lookup for it.
        if executor.outcomes:
            try:
                with session_scope() as s:
                    intents.complete(s, tenant.id, executor.outcomes)
            except Exception:
                log.warning("could not record write outcomes of record %s", staged_id,
                            exc_info=True)
        raise
    with session_scope() as s:
        intents.complete(s, tenant.id, executor.outcomes)
        save_link(s, tenant_id=tenant.id, source_id=source.id, entity=ctx.entity,
                  external_id=str(ctx.external_id), ifs_key=ifs_key, etag=etag,
                  version=version, content_hash=chash, details=details)
        if plan.get("kind") == "customer" and plan.get("email"):
            index_customer(s, tenant.id, str(plan["email"]), ifs_key, origin="connector")
        records.mark_done_by_id(s, staged_id)
        # IFS took a write: an open "IFS rejects our credentials" alert is over.
        resolve_alerts(s, tenant_id=tenant.id, source_id=None, kind=IFS_AUTH_FAILED)
    return LoadResult("done", ifs_key=ifs_key)


def _load_dependency(staged_id: int) -> tuple[str, str | None]:
    result = load(staged_id)
    return result.state, result.ifs_key
