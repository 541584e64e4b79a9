"""Fetch one stream of one source (design.md §3.2), and what happens when a store key dies.

A store key that stops working (WooCommerce: owner deleted or key revoked → 401, woocommerce.md
Decisions 5; BigCommerce: API account deleted) pauses its source and raises one alert, instead
of failing every record; the cursor stays where it was, so resuming after new credentials
continues with nothing lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select

from connector.crypto import VaultError
from connector.db import session_scope
from connector.errors import AuthError, ConnectorError
from connector.logformat import bind
from connector.logs import scrub
from connector.models import Source, SyncCursor
from connector.pipeline import records
from connector.pipeline.audit import SOURCE_AUTH_FAILED, audit, raise_alert, resolve_alerts
from connector.pipeline.dispatch import claim_now, finish_fetch, lease_s, owned_by, renew_lease
from connector.stores.registry import get_store

log = logging.getLogger(__name__)

MAX_ROWS_PER_RUN = 2000

@dataclass(frozen=True)
class FetchResult:
    staged: int
    more: bool
    paused: bool = False


def run_fetch(source_id: int, stream: str, *, token: str | None = None,
              max_rows: int = MAX_ROWS_PER_RUN,
              on_staged: Callable[[int], None] | None = None) -> FetchResult:
    """Read one bounded window of changes and stage it, holding the stream's lease (renewed
    while the store is read). ``token`` is the claim dispatch made; a message whose claim is
    no longer the cursor's (a stale copy) does nothing; without one (a direct run) the stream
    is claimed here if it is free. Retryable errors propagate with the
    stream still claimed: the task extends the lease over its wait (:func:`hold_for_retry`)
    or releases it when it gives up (:func:`release`). Auth errors pause the source.
    ``on_staged(tenant_id)`` runs after each commit that staged new rows (the task pumps)."""
    if token is None:  # a direct run (tooling, tests): claim the stream if it is free
        with session_scope() as s:
            token = claim_now(s, source_id, stream)
        if token is None:
            log.info("fetch %s/%s: another fetch holds the stream; nothing to do", source_id,
                     stream)
            return FetchResult(0, False)
    with session_scope() as s:
        if not renew_lease(s, source_id, stream, token, lease_s()):
            log.info("fetch %s/%s: claim %s is not the stream's; nothing to do", source_id,
                     stream, token)
            return FetchResult(0, False)
        source = s.get(Source, source_id)
        system = source.system if source is not None else ""
        active = source is not None and source.status == "active"
        tenant_id = source.tenant_id if source is not None else None
    if not active:
        release(source_id, stream, token, error=None)
        return FetchResult(0, False, paused=source is not None)
    assert tenant_id is not None
    bind(tenant=tenant_id, source=source_id)
    try:
        fn = get_store(system).stream(stream).fetch
        hook = records.after_staged.set(on_staged)
        try:
            with _renewing(source_id, stream, token):
                staged, more = fn(source_id, max_rows=max_rows)
        finally:
            records.after_staged.reset(hook)
    except AuthError as exc:
        pause_for_auth(source_id, exc)
        release(source_id, stream, token, error=str(exc))
        return FetchResult(0, False, paused=True)
    except VaultError as exc:
        pause_for_vault(source_id)
        release(source_id, stream, token, error=str(exc))
        return FetchResult(0, False, paused=True)
    except ConnectorError as exc:
        if not exc.retryable:
            release(source_id, stream, token, error=str(exc))
        raise
    except Exception as exc:
        release(source_id, stream, token, error=f"{type(exc).__name__}: {exc}")
        raise
    release(source_id, stream, token, error=None, more=more)
    with session_scope() as s:  # the store takes our key again
        resolve_alerts(s, tenant_id=tenant_id, source_id=source_id, kind=SOURCE_AUTH_FAILED)
    return FetchResult(staged, more)


@contextmanager
def _renewing(source_id: int, stream: str, token: str | None) -> Iterator[None]:
    """Renew the stream's lease every third of its length while the body runs (a thread of
    this process: when the process dies, renewal stops and the lease lapses)."""
    stop = threading.Event()
    every = max(1.0, lease_s() / 3)

    def renew() -> None:
        while not stop.wait(every):
            try:
                with session_scope() as s:
                    renew_lease(s, source_id, stream, token, lease_s())
            except Exception as exc:  # a lost database: the next round tries again
                log.warning("fetch %s/%s: lease renewal failed: %s", source_id, stream,
                            type(exc).__name__)

    thread = threading.Thread(target=renew, name=f"lease-{source_id}-{stream}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def hold_for_retry(source_id: int, stream: str, token: str | None, wait_s: float,
                   error: str) -> None:
    """The fetch waits ``wait_s`` to retry: keep the stream claimed over the wait (plus one
    lease), so dispatch does not start a second fetch of it meanwhile."""
    with session_scope() as s:
        renew_lease(s, source_id, stream, token, wait_s + lease_s())
        cursor = s.scalar(select(SyncCursor).where(owned_by(source_id, stream, token)))
        if cursor is not None:
            cursor.last_error = error


def release(source_id: int, stream: str, token: str | None, *, error: str | None,
            more: bool = False) -> None:
    """End the claim ``token`` on the stream (a stale token releases nothing)."""
    with session_scope() as s:
        cursor = s.scalar(select(SyncCursor).where(owned_by(source_id, stream, token)))
        if cursor is not None:
            finish_fetch(cursor, error=error, more=more)


def pause_for_auth(source_id: int, exc: AuthError) -> None:
    """Pause the source and raise (or count) its one auth alert, naming the key's owner."""
    with session_scope() as s:
        source = s.get(Source, source_id)
        assert source is not None
        worked_before = s.scalar(select(SyncCursor.id).where(
            SyncCursor.source_id == source_id, SyncCursor.last_run_at.is_not(None),
            SyncCursor.last_error.is_(None)).limit(1)) is not None
        owner = source.key_owner or "unknown user"
        cause = get_store(source.system).auth_failure_cause(owner, worked_before)
        message = (f"{source.name}: {cause}: HTTP {exc.status} {exc.code or ''}".strip()
                   + ". Polling is paused; set new credentials and resume the source.")
        source.status = "auth_failed"
        source.status_reason = scrub(message)
        opened = raise_alert(s, tenant_id=source.tenant_id, source_id=source.id,
                             kind=SOURCE_AUTH_FAILED, message=message)
        if opened:
            audit(s, tenant_id=source.tenant_id, source_id=source.id, system=source.system,
                  entity="source", external_id=source.name, action="pause", actor="system",
                  outcome="error", http_status=exc.status, detail=message, direction="connector")
    log.warning("source %s paused: %s", source_id, message)


VAULT_FAILED = "vault_failed"


def pause_for_vault(source_id: int) -> None:
    """The source's stored secret cannot be decrypted with this process's
    ``MLC_ENCRYPTION_KEYS`` (a key was removed, or this worker still has only old keys): pause
    the source and raise (or count) its one ``vault`` alert, instead of a traceback per task.
    Fix the keys (``ml-connector keys check``), then resume the source."""
    with session_scope() as s:
        source = s.get(Source, source_id)
        if source is None:
            return
        message = (f"{source.name}: its stored credentials cannot be decrypted with the keys "
                   "in MLC_ENCRYPTION_KEYS (key removed, or this process has old keys). "
                   "Polling is paused; fix the keys (`ml-connector keys check`) and resume "
                   "the source.")
        if source.status == "active":
            source.status = VAULT_FAILED
            source.status_reason = message
        opened = raise_alert(s, tenant_id=source.tenant_id, source_id=source.id, kind="vault",
                             message=message)
        if opened:
            audit(s, tenant_id=source.tenant_id, source_id=source.id, system=source.system,
                  entity="source", external_id=source.name, action="pause", actor="system",
                  outcome="error", detail=message, direction="connector")
    log.warning("source %s paused: stored credentials cannot be decrypted", source_id)
