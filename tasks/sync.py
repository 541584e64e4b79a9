"""Thin pipeline tasks (conventions habit 1): ids in, one service call, errors → retry/failure.

``sync.dispatch`` (beat) → ``sync.fetch`` (one stream of one source) → the pump hands staged
rows to ``sync.transform``, which plans *and* loads the record in one task (nothing waits in
between; ``sync.load`` does the same, for messages queued by an older release). Every message
carries ids only.

The pump refills a tenant's in-flight window in batches: each finished record counts in Redis,
and every ``window // 4``-th one claims the free slots in one statement (the sweeper, every few
seconds, is the safety net), instead of a claim after every load. The claimed records go out
``MLC_LOAD_BATCH_SIZE`` to a message (``sync.transform_batch``): one task loads a handful of one
tenant's records in turn, so the per-message work of the broker, the worker and its events is
paid once per handful (issue 14). A lone record goes out as ``sync.transform``; what a
webhook's ``sync.fetch_one`` staged loads in that task when the tenant has room in its window.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from celery import Task

from connector.config import get_settings
from connector.crypto import VaultError
from connector.db import session_scope
from connector.errors import AuthError, ConnectorError, RateLimited
from connector.faults import fault_kind
from connector.models import StagedRecord
from connector.pipeline import records
from connector.pipeline.audit import raise_alert
from connector.pipeline.dispatch import claim_due
from connector.pipeline.fetch import hold_for_retry, run_fetch
from connector.pipeline.fetch import release as release_fetch
from connector.pipeline.load import load as load_record
from tasks.app import FIRST_LANE, app
from tasks.base import ConnectorTask, RetryDecision, budget_countdown, decide_retry

log = logging.getLogger(__name__)


def pump_after_finish(tenant_id: int | None, count: int = 1) -> None:
    """``count`` records of ``tenant_id`` finished: refill the tenant's window once a quarter
    of it is free (one Redis INCRBY per task, one claim per batch)."""
    if tenant_id is None or count <= 0:
        return
    from connector.handles import get_redis

    every = max(1, get_settings().load_inflight_per_tenant // 4)
    try:
        finished = int(get_redis().incrby(f"mlc:pump:tenant-{tenant_id}", count))
    except Exception:  # Redis trouble must not fail a finished record; the sweeper pumps
        log.warning("could not count a finished record of tenant %s", tenant_id, exc_info=True)
        return
    if finished // every > (finished - count) // every:
        pump(tenant_id)


def pump(tenant_id: int | None = None) -> int:
    """Hand pending rows to the transform queue within each tenant's in-flight budget."""
    return len(_pump(tenant_id)[0])


def _pump(tenant_id: int | None, keep: frozenset[int] = frozenset()) -> tuple[list[int],
                                                                               list[int]]:
    """Claim pending rows within each tenant's in-flight budget and send them to the
    transform queue, except the claimed ids in ``keep``, which the caller loads itself.
    Returns (ids sent, ids kept)."""
    settings = get_settings()
    with session_scope() as s:
        claims = records.claim_by_tenant(
            s, inflight_per_tenant=settings.load_inflight_per_tenant,
            stale_after_s=settings.sweep_after_s, tenant_id=tenant_id)
    size = settings.load_batch_size
    sent: list[int] = []
    kept: list[int] = []
    for claim in claims:  # after the commit (habit 8)
        # A tenant with nothing in flight takes the fast lane; a busy tenant's refills queue
        # behind it (workers take the lanes in turn).
        options = {"queue": FIRST_LANE} if claim.first else {}
        kept += [i for i in claim.ids if i in keep]
        sent += _send([i for i in claim.ids if i not in keep], size, **options)
    return sent, kept


def _send(ids: list[int], size: int, **options: Any) -> list[int]:
    """Send ``ids`` to the transform queue, ``size`` to a message (a lone one on its own)."""
    for batch in _batches(ids, size):
        if len(batch) == 1:
            transform.apply_async((batch[0],), **options)
        else:
            transform_batch.apply_async((batch,), **options)
    return ids


def _batches(ids: list[int], size: int) -> list[list[int]]:
    """``ids`` in messages of at most ``size``, as even as they go (9 by 4: 3, 3, 3), so the
    fleet's processes share a claim instead of one taking a full batch and another a stray."""
    if not ids:
        return []
    count = -(-len(ids) // max(1, size))
    per, extra = divmod(len(ids), count)
    out, start = [], 0
    for i in range(count):
        end = start + per + (1 if i < extra else 0)
        out.append(ids[start:end])
        start = end
    return out


@app.task(bind=True, base=ConnectorTask, name="sync.dispatch")
def dispatch(self: Task) -> int:
    with session_scope() as s:
        due = claim_due(s)
    for source_id, stream, token in due:
        fetch.delay(source_id, stream, token)
    return len(due)


@app.task(bind=True, base=ConnectorTask, name="sync.fetch")
def fetch(self: ConnectorTask, source_id: int, stream: str,
          claim: str | None = None) -> dict[str, Any]:
    """One bounded run of a stream; ``claim`` is the dispatch's lease token. A retry keeps
    the stream claimed over its wait, so no second fetch of the stream starts meanwhile."""
    try:
        # Each committed page of new rows is handed out at once (loads start while the
        # store is still read); the pump at the end picks up the rest.
        result = run_fetch(source_id, stream, token=claim, on_staged=pump)
    except ConnectorError as exc:
        error = str(exc)
        self.retry_on(
            exc,
            before_wait=lambda wait: hold_for_retry(source_id, stream, claim, wait, error),
            on_give_up=lambda reason: release_fetch(source_id, stream, claim, error=reason))
        raise
    pump(_tenant_of_source(source_id))
    return {"staged": result.staged, "more": result.more, "paused": result.paused}


@app.task(bind=True, base=ConnectorTask, name="sync.fetch_one")
def fetch_one(self: ConnectorTask, source_id: int, entity: str, external_id: str,
              origin: str = "webhook") -> int:
    from connector.pipeline.webhooks import fetch_resource

    try:
        staged = fetch_resource(source_id, entity, external_id, origin)
    except AuthError as exc:
        from connector.pipeline.fetch import pause_for_auth

        pause_for_auth(source_id, exc)
        return 0
    except VaultError:
        from connector.pipeline.fetch import pause_for_vault

        pause_for_vault(source_id)
        return 0
    except ConnectorError as exc:
        self.retry_on(exc)
        raise
    # What this webhook staged loads in this task when the tenant's window has room for it
    # (one task and one queue wait per webhook order, not two); the rest goes out as usual.
    _, mine = _pump(_tenant_of_source(source_id), keep=frozenset(staged))
    if mine:
        try:
            _, finished, tenant_id = _load_each(mine)
        except Exception as exc:
            if fault_kind(exc) is None:
                raise
            # A lost database mid-load: the fetch is done; its records go to the queue
            # (their loads retry there) instead of the store being read again.
            log.warning("fetch_one: %s while loading; records %s go to the queue",
                        type(exc).__name__, mine)
            _send(mine, get_settings().load_batch_size)
            return len(staged)
        pump_after_finish(tenant_id, finished)
    return len(staged)


@app.task(bind=True, base=ConnectorTask, name="sync.transform")
def transform(self: ConnectorTask, staged_id: int) -> str:
    """Plan and load one staged record (the load plans a record that has no plan yet)."""
    return _load(self, staged_id)


@app.task(bind=True, base=ConnectorTask, name="sync.load")
def load(self: ConnectorTask, staged_id: int) -> str:
    return _load(self, staged_id)


@app.task(bind=True, base=ConnectorTask, name="sync.transform_batch")
def transform_batch(self: ConnectorTask, staged_ids: list[int]) -> dict[str, int]:
    """Plan and load a handful of one tenant's staged records, in turn, in one task.

    A record that must wait goes on as its own ``sync.transform`` message (a retry with its
    backoff, or a deferral for the budget) and the others load on; once the tenant's budget is
    spent, the records not yet tried are deferred with it instead of each asking again. A
    record that fails for good fails alone. Loads are idempotent, so a batch redelivered after
    a lost worker loads only what is not done yet."""
    states, finished, tenant_id = _load_each(staged_ids)
    pump_after_finish(tenant_id, finished)
    return states


def _load_each(staged_ids: list[int]) -> tuple[dict[str, int], int, int | None]:
    """Load ``staged_ids`` in turn (see :func:`transform_batch`). Returns the outcomes, how
    many records finished (done, failed, superseded, parked: their slots are free) and their
    tenant."""
    states: dict[str, int] = {}
    finished, tenant_id = 0, None
    for index, staged_id in enumerate(staged_ids):
        try:
            result = load_record(staged_id)
            state, tenant_id = result.state, result.tenant_id or tenant_id
        except VaultError:
            _vault_fail(staged_id)
            state = "failed"
        except ConnectorError as exc:
            state, failed_tenant = _hand_on(staged_id, exc)
            tenant_id = tenant_id or failed_tenant
            if state == "deferred":
                for later in staged_ids[index + 1:]:
                    _defer(later, exc)
                    states["deferred"] = states.get("deferred", 0) + 1
                states[state] = states.get(state, 0) + 1
                break
        except Exception as exc:
            if fault_kind(exc) is not None:
                raise  # a lost database or broker: the whole batch retries (ConnectorTask)
            # Anything else is a bug this record meets: it goes on in a task of its own (as
            # before batches), so it cannot hold its batch-mates back.
            log.exception("record %s: unexpected error in a batch; it goes on on its own",
                          staged_id)
            transform.apply_async((staged_id,))
            state = "handed_on"
        states[state] = states.get(state, 0) + 1
        if state not in ("retrying", "deferred", "handed_on"):
            finished += 1
    return states, finished, tenant_id


def _hand_on(staged_id: int, exc: ConnectorError) -> tuple[str, int | None]:
    """A record of a batch that hit ``exc``: deferred for the budget, retried on its own
    (``sync.transform`` with its backoff, counted from the row's first failure), or failed
    with a reason an operator understands. Returns the outcome and, for a failed record, its
    tenant."""
    if isinstance(exc, RateLimited) and exc.code == "BUDGET_EXHAUSTED":
        _defer(staged_id, exc)
        return "deferred", None
    reason = str(exc)
    if exc.retryable:
        decision = _decide(staged_id, exc, attempt=0)
        if decision.retry:
            transform.signature((staged_id,), retries=1).apply_async(
                countdown=decision.countdown)
            log.info("record %s: %s; retry on its own in %.1fs", staged_id,
                     type(exc).__name__, decision.countdown)
            return "retrying", None
        reason = decision.reason
    return "failed", _fail(staged_id, exc, reason)


def _defer(staged_id: int, exc: ConnectorError) -> None:
    """Run the record again, on its own, once the budget has tokens (flow control, not a
    failure: see :meth:`ConnectorTask.defer_for_budget`)."""
    countdown = budget_countdown(exc)
    records.touch(staged_id, countdown)
    transform.apply_async((staged_id,), countdown=countdown)


def _load(task: ConnectorTask, staged_id: int) -> str:
    try:
        result = load_record(staged_id)
    except VaultError:
        _vault_fail(staged_id)
        return "failed"
    except ConnectorError as exc:
        return _retry_or_fail(task, staged_id, exc)
    pump_after_finish(result.tenant_id)
    return result.state


def _retry_or_fail(task: ConnectorTask, staged_id: int, exc: ConnectorError) -> str:
    """Retry a retryable error until its kind's deadline, counted from the row's first
    failure (keeping the row 'in flight' for the sweeper), or end the row as failed with a
    reason an operator understands."""
    retries = int(task.request.retries or 0)
    countdown = task.defer_for_budget(exc)
    if countdown is not None:
        # The row stays in flight (for the sweeper) until the deferred run is due.
        records.touch(staged_id, countdown)
        return "deferred"
    reason = str(exc)
    if exc.retryable:
        decision = _decide(staged_id, exc, attempt=retries)
        if decision.retry:
            raise task.retry(exc=exc, countdown=decision.countdown, max_retries=None)
        reason = decision.reason
    tenant_id = _fail(staged_id, exc, reason)
    pump(tenant_id)
    return "failed"


def _decide(staged_id: int, exc: ConnectorError, *, attempt: int) -> RetryDecision:
    """Whether the record retries ``exc``, its deadline counted from the row's first failure;
    a retry is noted on the row (it stays in flight for the sweeper over the wait)."""
    since = records.failing_since(staged_id) or datetime.now(UTC)
    decision = decide_retry(exc, attempt=attempt, failing_since=since)
    if decision.retry:
        records.note_failure(staged_id, decision.countdown)
    return decision


def _fail(staged_id: int, exc: ConnectorError, reason: str) -> int | None:
    """End the record as failed with ``reason``; returns its tenant (None if it was no longer
    pending)."""
    kind = "auth" if isinstance(exc, AuthError) else ("exhausted" if exc.retryable else "data")
    tenant_id = None
    with session_scope() as s:
        rec = s.get(StagedRecord, staged_id)
        if rec is not None and rec.state == "pending":
            records.mark_failed(s, rec, reason, kind=kind)
            tenant_id = rec.tenant_id
            if kind == "auth":
                raise_alert(s, tenant_id=rec.tenant_id, source_id=None, kind="ifs_auth_failed",
                            message=f"IFS rejected the connector's credentials: {exc}")
    log.warning("record %s failed (%s): %s", staged_id, kind, reason)
    return tenant_id


def _vault_fail(staged_id: int) -> None:
    """A stored secret this worker cannot decrypt: the record fails (replayable after the
    keys are fixed) and its source gets the ``vault`` alert, instead of a traceback."""
    from connector.pipeline.fetch import pause_for_vault

    source_id = None
    with session_scope() as s:
        rec = s.get(StagedRecord, staged_id)
        if rec is not None and rec.state == "pending":
            records.mark_failed(s, rec, "a stored secret cannot be decrypted with the keys in "
                                "MLC_ENCRYPTION_KEYS (vault); fix the keys, then replay",
                                kind="vault")
            source_id = rec.source_id
    if source_id is not None:
        pause_for_vault(source_id)
    log.warning("record %s failed: a stored secret cannot be decrypted", staged_id)


def _tenant_of_source(source_id: int) -> int | None:
    from connector.models import Source

    with session_scope() as s:
        src = s.get(Source, source_id)
        return src.tenant_id if src is not None else None
