"""Thin pipeline tasks (conventions habit 1): ids in, one service call, errors → retry/failure.

``sync.dispatch`` (beat) → ``sync.fetch`` (one stream of one source) → the pump hands staged
rows to ``sync.transform``, which plans *and* loads the record in one task (nothing waits in
between; ``sync.load`` does the same, for messages queued by an older release). Every message
carries ids only.

The pump refills a tenant's in-flight window in batches: each finished record counts in Redis,
and every ``window // 4``-th one claims the free slots in one statement (the sweeper, every few
seconds, is the safety net), instead of a claim after every load.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from celery import Task

from connector.config import get_settings
from connector.crypto import VaultError
from connector.db import session_scope
from connector.errors import AuthError, ConnectorError
from connector.models import StagedRecord
from connector.pipeline import records
from connector.pipeline.audit import raise_alert
from connector.pipeline.dispatch import claim_due
from connector.pipeline.fetch import hold_for_retry, run_fetch
from connector.pipeline.fetch import release as release_fetch
from connector.pipeline.load import load as load_record
from tasks.app import FIRST_LANE, app
from tasks.base import ConnectorTask, decide_retry

log = logging.getLogger(__name__)


def pump_after_finish(tenant_id: int | None) -> None:
    """A record of ``tenant_id`` finished: refill the tenant's window once a quarter of it is
    free (one Redis INCR per record, one claim per batch)."""
    if tenant_id is None:
        return
    from connector.handles import get_redis

    every = max(1, get_settings().load_inflight_per_tenant // 4)
    try:
        finished = int(get_redis().incr(f"mlc:pump:tenant-{tenant_id}"))
    except Exception:  # Redis trouble must not fail a finished record; the sweeper pumps
        log.warning("could not count a finished record of tenant %s", tenant_id, exc_info=True)
        return
    if finished % every == 0:
        pump(tenant_id)


def pump(tenant_id: int | None = None) -> int:
    """Hand pending rows to the transform queue within each tenant's in-flight budget."""
    settings = get_settings()
    with session_scope() as s:
        claims = records.claim_by_tenant(
            s, inflight_per_tenant=settings.load_inflight_per_tenant,
            stale_after_s=settings.sweep_after_s, tenant_id=tenant_id)
    sent = 0
    for claim in claims:  # after the commit (habit 8)
        # A tenant with nothing in flight takes the fast lane; a busy tenant's refills queue
        # behind it (workers take the lanes in turn).
        queue = FIRST_LANE if claim.first else None
        for staged_id in claim.ids:
            if queue is None:
                transform.delay(staged_id)
            else:
                transform.apply_async((staged_id,), queue=queue)
        sent += len(claim.ids)
    return sent


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
        result = run_fetch(source_id, stream, token=claim)
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
    pump(_tenant_of_source(source_id))
    return staged


@app.task(bind=True, base=ConnectorTask, name="sync.transform")
def transform(self: ConnectorTask, staged_id: int) -> str:
    """Plan and load one staged record (the load plans a record that has no plan yet)."""
    return _load(self, staged_id)


@app.task(bind=True, base=ConnectorTask, name="sync.load")
def load(self: ConnectorTask, staged_id: int) -> str:
    return _load(self, staged_id)


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
        since = records.failing_since(staged_id) or datetime.now(UTC)
        decision = decide_retry(exc, attempt=retries, failing_since=since)
        if decision.retry:
            records.note_failure(staged_id, decision.countdown)
            raise task.retry(exc=exc, countdown=decision.countdown, max_retries=None)
        reason = decision.reason
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
    pump(tenant_id)
    return "failed"


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
