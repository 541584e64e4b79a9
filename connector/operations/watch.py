"""The watch: conditions checked every minute (beat ``maintenance.watch``) that open an alert
while they hold and resolve it when they clear.

* ``source_lagging``: a stream of an active source whose last successful fetch is more than
  ``MLC_ALERT_LAG_S`` past its interval (its view of the store is stale);
* ``failure_rate_high``: in the last ``MLC_ALERT_WINDOW_S``, at least ``MLC_ALERT_FAILURE_MIN``
  records of a source failed and they are ``MLC_ALERT_FAILURE_RATE`` or more of those finished;
* ``vault_decrypt_failed``: a stored secret (a tenant's IFS secret, a source's credentials)
  that none of ``MLC_ENCRYPTION_KEYS`` opens (a key removed too early).

Auth alerts resolve where the pipeline sees auth work again (a successful fetch or load); the
BigCommerce hook alerts in the hook health check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.config import Settings, get_settings
from connector.crypto import Vault, VaultError
from connector.db import session_scope
from connector.models import DONE, FAILED, Source, StagedRecord, SyncCursor, Tenant
from connector.pipeline.audit import (
    FAILURE_RATE_HIGH,
    SOURCE_LAGGING,
    VAULT_DECRYPT_FAILED,
    raise_alert,
    resolve_alerts,
)
from connector.pipeline.dispatch import stream_interval


@dataclass
class WatchResult:
    opened: list[str] = field(default_factory=list)
    resolved: int = 0


def _condition(s: Session, result: WatchResult, *, holds: bool, tenant_id: int,
               source_id: int | None, kind: str, message: str) -> None:
    if holds:
        if raise_alert(s, tenant_id=tenant_id, source_id=source_id, kind=kind,
                       message=message):
            result.opened.append(kind)
    else:
        result.resolved += resolve_alerts(s, tenant_id=tenant_id, source_id=source_id,
                                          kind=kind)


def _lag(s: Session, source: Source, now: datetime, settings: Settings) -> list[str]:
    behind = []
    for cursor in s.scalars(select(SyncCursor).where(SyncCursor.source_id == source.id)):
        base = cursor.last_success_at or source.created_at
        late = now - base - timedelta(seconds=stream_interval(source, cursor.stream))
        if late.total_seconds() > settings.alert_lag_s:
            error = f" (last error: {cursor.last_error[:200]})" if cursor.last_error else ""
            behind.append(f"{cursor.stream} last fetched successfully "
                          f"{base.isoformat(timespec='seconds')}{error}")
    return behind


def _failures(s: Session, source_id: int, since: datetime) -> tuple[int, int]:
    counts = dict(s.execute(
        select(StagedRecord.state, func.count())
        .where(StagedRecord.source_id == source_id, StagedRecord.updated_at >= since,
               StagedRecord.state.in_([DONE, FAILED]))
        .group_by(StagedRecord.state)).tuples().all())
    return counts.get(FAILED, 0), counts.get(DONE, 0)


def _opens(vault: Vault, token: str | None) -> bool:
    if not token:
        return True
    try:
        vault.decrypt(token)
    except VaultError:
        return False
    return True


def check(*, now: datetime | None = None, vault: Vault | None = None) -> WatchResult:
    """Check every condition once; open or resolve the alerts."""
    from connector.handles import get_vault

    now = now or datetime.now(UTC)
    settings = get_settings()
    vault = vault or get_vault()
    result = WatchResult()
    window_start = now - timedelta(seconds=settings.alert_window_s)
    with session_scope() as s:
        for tenant in s.scalars(select(Tenant).order_by(Tenant.id)):
            _condition(s, result, holds=not _opens(vault, tenant.ifs_secret_enc),
                       tenant_id=tenant.id, source_id=None, kind=VAULT_DECRYPT_FAILED,
                       message=f"{tenant.name}: the IFS client secret cannot be decrypted "
                       "with any key in MLC_ENCRYPTION_KEYS (was a key removed before "
                       "`ml-connector keys rotate`?); loads to IFS fail until it is restored "
                       "or the secret set again")
        for source in s.scalars(select(Source).order_by(Source.id)):
            _condition(s, result, holds=not _opens(vault, source.credentials_enc),
                       tenant_id=source.tenant_id, source_id=source.id,
                       kind=VAULT_DECRYPT_FAILED,
                       message=f"{source.name}: the store credentials cannot be decrypted "
                       "with any key in MLC_ENCRYPTION_KEYS; restore the key or set the "
                       "credentials again (`ml-connector source set-credentials`)")
            behind = _lag(s, source, now, settings) if source.status == "active" else []
            _condition(s, result, holds=bool(behind), tenant_id=source.tenant_id,
                       source_id=source.id, kind=SOURCE_LAGGING,
                       message=f"{source.name} is lagging more than {settings.alert_lag_s}s "
                       "behind its interval: " + "; ".join(behind))
            failed, done = _failures(s, source.id, window_start)
            high = (failed >= settings.alert_failure_min
                    and failed / (failed + done) >= settings.alert_failure_rate)
            _condition(s, result, holds=high, tenant_id=source.tenant_id, source_id=source.id,
                       kind=FAILURE_RATE_HIGH,
                       message=f"{source.name}: {failed} of {failed + done} records failed in "
                       f"the last {settings.alert_window_s // 60} min (see `ml-connector "
                       "records`)")
    return result
