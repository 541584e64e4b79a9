"""The dispatcher (design.md §3.1): which (source, stream) pairs are due, one at a time each.

Beat ticks every few seconds; each tick claims due cursors with ``FOR UPDATE SKIP LOCKED`` and
marks them running, so a second beat (or two ticks overlapping) never double-fetches a stream.
A fetch that died is retried once its ``running_since`` is older than the stale limit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connector.http.paging import KeysetScan
from connector.logs import scrub
from connector.models import Source, SyncCursor
from connector.stores.registry import get_store

STALE_FETCH_S = 600


def stream_interval(source: Source, stream: str) -> int:
    """Seconds between two fetches of a stream, as its store declares it (the WooCommerce
    customers stream is a full scan and runs less often: ``customer_scan_interval_s``)."""
    return get_store(source.system).stream(stream).interval(source)


def claim_due(session: Session, *, limit: int = 100,
              now: datetime | None = None) -> list[tuple[int, str]]:
    """Claim due fetches (oldest due first, across tenants) and mark them running."""
    now = now or datetime.now(UTC)
    stale = now - timedelta(seconds=STALE_FETCH_S)
    rows = session.execute(
        select(SyncCursor, Source)
        .join(Source, Source.id == SyncCursor.source_id)
        .where(Source.status == "active", SyncCursor.next_run_at <= now,
               or_(SyncCursor.running_since.is_(None), SyncCursor.running_since < stale))
        .order_by(SyncCursor.next_run_at)
        .limit(limit)
        .with_for_update(of=SyncCursor, skip_locked=True)
    ).all()
    claimed = []
    for cursor, source in rows:
        cursor.running_since = now
        cursor.next_run_at = now + timedelta(seconds=stream_interval(source, cursor.stream))
        claimed.append((source.id, cursor.stream))
    return claimed


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
