"""Fetch one stream of one source (design.md §3.2), and what happens when a store key dies.

A store key that stops working (WooCommerce: owner deleted or key revoked → 401, woocommerce.md
Decisions 5; BigCommerce: API account deleted) pauses its source and raises one alert, instead
of failing every record; the cursor stays where it was, so resuming after new credentials
continues with nothing lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from connector.crypto import VaultError
from connector.db import session_scope
from connector.errors import AuthError, ConnectorError
from connector.logformat import bind
from connector.logs import scrub
from connector.models import Source, SyncCursor
from connector.pipeline.audit import SOURCE_AUTH_FAILED, audit, raise_alert, resolve_alerts
from connector.pipeline.dispatch import finish_fetch
from connector.stores.registry import get_store

log = logging.getLogger(__name__)

MAX_ROWS_PER_RUN = 2000

@dataclass(frozen=True)
class FetchResult:
    staged: int
    more: bool
    paused: bool = False


def run_fetch(source_id: int, stream: str, *, max_rows: int = MAX_ROWS_PER_RUN) -> FetchResult:
    """Read one bounded window of changes and stage it. Retryable errors propagate (the task
    retries); auth errors pause the source. The stream is released in every case."""
    with session_scope() as s:
        source = s.get(Source, source_id)
        if source is None or source.status != "active":
            _release(source_id, stream, error=None, more=False)
            return FetchResult(0, False, paused=source is not None)
        system, tenant_id = source.system, source.tenant_id
    bind(tenant=tenant_id, source=source_id)
    try:
        fn = get_store(system).stream(stream).fetch
        staged, more = fn(source_id, max_rows=max_rows)
    except AuthError as exc:
        pause_for_auth(source_id, exc)
        _release(source_id, stream, error=str(exc), more=False)
        return FetchResult(0, False, paused=True)
    except VaultError as exc:
        pause_for_vault(source_id)
        _release(source_id, stream, error=str(exc), more=False)
        return FetchResult(0, False, paused=True)
    except ConnectorError as exc:
        _release(source_id, stream, error=str(exc), more=False)
        raise
    except Exception as exc:
        _release(source_id, stream, error=f"{type(exc).__name__}: {exc}", more=False)
        raise
    _release(source_id, stream, error=None, more=more)
    with session_scope() as s:  # the store takes our key again
        resolve_alerts(s, tenant_id=tenant_id, source_id=source_id, kind=SOURCE_AUTH_FAILED)
    return FetchResult(staged, more)


def _release(source_id: int, stream: str, *, error: str | None, more: bool) -> None:
    with session_scope() as s:
        cursor = s.scalar(select(SyncCursor).where(SyncCursor.source_id == source_id,
                                                   SyncCursor.stream == stream))
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
