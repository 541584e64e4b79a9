"""The dispatcher (design.md §3.1): which (source, stream) pairs are due, one at a time each.

Beat ticks every few seconds; each tick claims due cursors with ``FOR UPDATE SKIP LOCKED`` and
marks them running, so a second beat (or two ticks overlapping) never double-fetches a stream.

One fetch per stream, ever: a claim is a lease (``lease_until``) that the running fetch renews
while it works and extends over its wait when it retries, so a fetch waiting to retry keeps its
stream and no second fetch is dispatched. The claim's start (``running_since``) travels in the
message as its token: a message whose token is not the cursor's is a stale copy and does
nothing. A fetch that died stops renewing; its lease expires within ``MLC_FETCH_LEASE_S``
(60 s) and the sweeper (or the next dispatch) frees the stream.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from connector.config import get_settings
from connector.http.paging import KeysetScan
from connector.logs import scrub
from connector.models import Source, SyncCursor
from connector.stores.registry import get_store


def lease_s() -> int:
    """How long a fetch's claim lasts without renewal (``MLC_FETCH_LEASE_S``)."""
    return get_settings().fetch_lease_s


def claim_token(cursor: SyncCursor) -> str | None:
    """The token of the cursor's current claim (its start, ISO 8601)."""
    return cursor.running_since.isoformat() if cursor.running_since is not None else None


def _lease_expired(now: datetime) -> Any:
    """SQL: the cursor's claim has lapsed (no lease renewed in time)."""
    return func.coalesce(SyncCursor.lease_until,
                         SyncCursor.running_since + timedelta(seconds=lease_s())) < now


def stream_interval(source: Source, stream: str) -> int:
    """Seconds between two fetches of a stream, as its store declares it (the WooCommerce
    customers stream is a full scan and runs less often: ``customer_scan_interval_s``)."""
    return get_store(source.system).stream(stream).interval(source)


def claim_due(session: Session, *, limit: int = 100,
              now: datetime | None = None) -> list[tuple[int, str, str]]:
    """Claim due fetches (oldest due first, across tenants) and mark them running with a
    lease. Returns ``(source id, stream, claim token)``; the token goes in the message."""
    now = now or datetime.now(UTC)
    rows = session.execute(
        select(SyncCursor, Source)
        .join(Source, Source.id == SyncCursor.source_id)
        .where(Source.status == "active", SyncCursor.next_run_at <= now,
               or_(SyncCursor.running_since.is_(None), _lease_expired(now)))
        .order_by(SyncCursor.next_run_at)
        .limit(limit)
        .with_for_update(of=SyncCursor, skip_locked=True)
    ).all()
    claimed = []
    for cursor, source in rows:
        cursor.running_since = now
        cursor.lease_until = now + timedelta(seconds=lease_s())
        cursor.next_run_at = now + timedelta(seconds=stream_interval(source, cursor.stream))
        token = claim_token(cursor)
        assert token is not None
        claimed.append((source.id, cursor.stream, token))
    return claimed


def claim_now(session: Session, source_id: int, stream: str) -> str | None:
    """Claim one stream outside dispatch (a direct run) when it is free or its lease has
    lapsed; returns the claim token, or None when another fetch holds it."""
    now = datetime.now(UTC)
    cursor = session.scalar(
        select(SyncCursor).where(SyncCursor.source_id == source_id,
                                 SyncCursor.stream == stream,
                                 or_(SyncCursor.running_since.is_(None), _lease_expired(now)))
        .with_for_update(skip_locked=True))
    if cursor is None:
        return None
    cursor.running_since = now
    cursor.lease_until = now + timedelta(seconds=lease_s())
    return claim_token(cursor)


def renew_lease(session: Session, source_id: int, stream: str, token: str | None,
                seconds: float) -> bool:
    """Extend the claim ``token`` on the stream by ``seconds`` from now. False when the
    claim is not (or no longer) the cursor's: the caller must stop, another fetch owns it."""
    claimed = owned_by(source_id, stream, token)
    result = session.execute(update(SyncCursor).where(claimed).values(
        lease_until=func.now() + timedelta(seconds=seconds)))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def owned_by(source_id: int, stream: str, token: str | None) -> Any:
    where = and_(SyncCursor.source_id == source_id, SyncCursor.stream == stream,
                 SyncCursor.running_since.is_not(None))
    if token is not None:
        where = and_(where, SyncCursor.running_since == datetime.fromisoformat(token))
    return where


def expire_leases(session: Session, now: datetime | None = None) -> int:
    """Free streams whose fetch died (lease lapsed): the sweeper's part for cursors. The
    stream is due again at once and says why it was freed."""
    now = now or datetime.now(UTC)
    result = session.execute(
        update(SyncCursor)
        .where(SyncCursor.running_since.is_not(None), _lease_expired(now))
        .values(running_since=None, lease_until=None, next_run_at=now,
                last_error="the fetch stopped renewing its lease (worker lost); re-dispatched")
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def request_now(session: Session, source_ids: list[int], streams: list[str] | None = None) -> int:
    """Make streams due immediately (``ml-connector sync``)."""
    q = select(SyncCursor).where(SyncCursor.source_id.in_(source_ids))
    if streams:
        q = q.where(SyncCursor.stream.in_(streams))
    cursors = session.scalars(q.with_for_update()).all()
    now = datetime.now(UTC)
    for cursor in cursors:
        cursor.next_run_at = now
    return len(cursors)


def finish_fetch(cursor: SyncCursor, *, error: str | None, more: bool) -> None:
    """Release the stream; ``more`` (a bounded run stopped early) makes it due again now."""
    now = datetime.now(UTC)
    cursor.running_since = None
    cursor.lease_until = None
    cursor.last_run_at = now
    cursor.last_error = scrub(error)
    if error is None:
        cursor.last_success_at = now
    if more:
        cursor.next_run_at = now


def advance_cursor(cursor: SyncCursor, scan: KeysetScan) -> None:
    """Move the stream's watermark to where ``scan`` has read. Call it in the transaction that
    stages the rows it covers: the cursor only moves forward, and only with those rows."""
    mark = scan.watermark
    if mark is not None and (cursor.watermark is None or mark >= cursor.watermark):
        cursor.watermark = mark
        keys = cast(list[tuple[int, str]], sorted(scan.keys_at_watermark, key=str))
        cursor.seen_ids = [list(k) for k in keys]
