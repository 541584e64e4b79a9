"""Progress of a sync, for ``ml-connector sync --wait`` and the demo."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select

from connector.db import session_scope
from connector.models import FAILED, PARKED, PENDING, StagedRecord, SyncCursor


@dataclass
class Progress:
    counts: dict[str, int] = field(default_factory=dict)
    streams_done: int = 0
    streams_total: int = 0
    settled: bool = False
    #: Records of the synced sources touched since the sync started, by state.
    recent: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items())) or "no records"
        return f"streams {self.streams_done}/{self.streams_total} fetched; records: {parts}"

    @property
    def failed(self) -> int:
        return self.recent.get(FAILED, 0)

    @property
    def parked(self) -> int:
        return self.recent.get(PARKED, 0)

    @property
    def total(self) -> int:
        """Records this sync is about (touched since it started)."""
        return sum(self.recent.values())

    @property
    def finished(self) -> int:
        return self.total - self.recent.get(PENDING, 0)


def tenant_progress(tenant_id: int, *, since: float, source_ids: list[int]) -> Progress:
    """Where a sync requested at ``since`` (epoch seconds) stands."""
    moment = datetime.fromtimestamp(since, tz=UTC)
    with session_scope() as s:
        counts = dict(s.execute(
            select(StagedRecord.state, func.count()).where(StagedRecord.tenant_id == tenant_id)
            .group_by(StagedRecord.state)).tuples().all())
        recent = dict(s.execute(
            select(StagedRecord.state, func.count())
            .where(StagedRecord.source_id.in_(source_ids), StagedRecord.updated_at >= moment)
            .group_by(StagedRecord.state)).tuples().all())
        cursors = s.scalars(select(SyncCursor).where(SyncCursor.source_id.in_(source_ids))).all()
        done = sum(1 for c in cursors if c.last_run_at is not None and c.last_run_at >= moment
                   and c.running_since is None and c.next_run_at > c.last_run_at)
    progress = Progress(counts=counts, streams_done=done, streams_total=len(cursors),
                        recent=recent)
    progress.settled = done == len(cursors) and counts.get(PENDING, 0) == 0
    return progress
