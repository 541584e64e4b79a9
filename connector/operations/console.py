"""What an operator does from the console: replay (one record or a filtered set, each with a
preview first), resolve or dismiss a record with a note, pause and resume a source, request a
sync now. Every action writes an audit row with the operator's name (direction ``operator``).

These functions change Postgres only; the web layer hands the work to Celery after the commit
(conventions habit 8): ``tasks.sync.pump`` for replayed rows, ``sync.dispatch`` for a sync.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.models import DONE, FAILED, PARKED, SUPERSEDED, Source, StagedRecord, Tenant
from connector.operations.record_compare import PlanPreview, preview_plan, read_current
from connector.operations.records_view import RecordFilter, filtered_ids
from connector.pipeline import records
from connector.pipeline.audit import audit
from connector.pipeline.dispatch import request_now

#: At most this many records get their plan computed in a bulk-replay preview.
PREVIEW_SAMPLE = 20
#: At most this many records are replayed by one bulk replay.
BULK_LIMIT = 5000


class ActionRefused(ValueError):
    """The action does not apply (unknown record, wrong state, …): the message says why."""


def _record(session: Session, record_id: int) -> tuple[StagedRecord, Tenant, Source]:
    rec = session.get(StagedRecord, record_id)
    if rec is None:
        raise ActionRefused(f"no record #{record_id}")
    tenant = session.get(Tenant, rec.tenant_id)
    source = session.get(Source, rec.source_id)
    assert tenant is not None and source is not None
    return rec, tenant, source


def audit_record(session: Session, rec: StagedRecord, source: Source, action: str,
                 operator: str, detail: str | None = None) -> None:
    audit(session, tenant_id=rec.tenant_id, source_id=rec.source_id, system="connector",
          entity=rec.entity, external_id=rec.external_id, action=action, actor=operator,
          outcome="ok", detail=detail, direction="operator")


# --- replay -----------------------------------------------------------------------------------


@dataclass
class ReplayPreview:
    """What replaying one record would do. ``refetched``: the store holds a newer version than
    the stored one, and that version is what would be staged and loaded."""

    record_id: int
    state: str
    stored_version: str
    store_version: str | None
    store_note: str | None
    refetched: bool
    plan: PlanPreview

    @property
    def replayable(self) -> bool:
        return self.state in records.REPLAYABLE


def preview_replay(session: Session, record_id: int) -> ReplayPreview:
    """The plan a replay would load, computed by the store's planner; nothing is written."""
    rec, tenant, source = _record(session, record_id)
    current, note = read_current(source, rec)
    newer = current is not None and current.version > rec.version
    basis_version = current.version if newer and current else rec.version
    payload = current.payload if newer and current else rec.payload
    plan = preview_plan(session, tenant, source, rec.entity, rec.external_id, basis_version,
                        payload)
    return ReplayPreview(rec.id, rec.state, rec.version,
                         current.version if current else None, note, newer, plan)


def replay_record(session: Session, record_id: int, *, operator: str,
                  note: str | None = None) -> tuple[int, str]:
    """Replay one failed or parked record: when the store now holds a newer version (the data
    was fixed in the store), that version is staged (origin ``replay``) and the old one is
    superseded; otherwise the stored version goes back to pending. Returns (tenant id, what
    happened). Idempotent: a record that is no longer failed or parked is refused."""
    rec, _, source = _record(session, record_id)
    if rec.state not in records.REPLAYABLE:
        raise ActionRefused(f"record #{rec.id} is {rec.state}: only failed or parked records "
                            "are replayed")
    current, _ = read_current(source, rec)
    if current is not None and current.version > rec.version:
        staged = records.stage(session, tenant_id=rec.tenant_id, source_id=rec.source_id,
                               records=[current], origin="replay")
        what = (f"re-read version {current.version} from the store"
                + (f" (record #{staged[0]})" if staged else " (already staged)"))
        records.mark_superseded(session, rec, f"replaced on replay by {operator}: {what}")
    else:
        records.replay(session, tenant_id=rec.tenant_id, ids=[rec.id])
        what = f"version {rec.version} back to pending"
    audit_record(session, rec, source, "replay", operator,
                 what + (f" — note: {note}" if note else ""))
    return rec.tenant_id, what


@dataclass
class BulkPreview:
    ids: list[int]
    sample: list[tuple[StagedRecord, PlanPreview]]

    @property
    def outcomes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, p in self.sample:
            out[p.outcome] = out.get(p.outcome, 0) + 1
        return out


def _replayable_filter(f: RecordFilter) -> RecordFilter:
    if f.state and f.state not in records.REPLAYABLE:
        raise ActionRefused(f"only failed or parked records are replayed, not {f.state}")
    return f


def preview_bulk_replay(session: Session, f: RecordFilter) -> BulkPreview:
    """The failed/parked records a bulk replay would put back (stored versions), with the
    plans of the first ``PREVIEW_SAMPLE`` of them."""
    f = _replayable_filter(f)
    states = (f.state,) if f.state else records.REPLAYABLE
    ids = [i for s in states
           for i in filtered_ids(session, RecordFilter(**{**f.__dict__, "state": s}),
                                 limit=BULK_LIMIT)][:BULK_LIMIT]
    sample = []
    for rid in sorted(ids)[:PREVIEW_SAMPLE]:
        rec, tenant, source = _record(session, rid)
        sample.append((rec, preview_plan(session, tenant, source, rec.entity, rec.external_id,
                                         rec.version, rec.payload)))
    return BulkPreview(sorted(ids), sample)


def replay_filtered(session: Session, f: RecordFilter, *, operator: str,
                    expected: list[int] | None = None) -> tuple[list[int], int]:
    """Put the filtered failed/parked records back to pending (their stored versions).
    ``expected``: the ids the operator previewed; only those are replayed, so a record that
    failed after the preview is not replayed unseen. Returns (tenant ids, rows reset)."""
    preview = preview_bulk_replay(session, f)
    seen = set(expected) if expected is not None else None
    ids = [i for i in preview.ids if seen is None or i in seen]
    tenants: set[int] = set()
    count = 0
    for rid in ids:
        rec, _, source = _record(session, rid)
        if rec.state not in records.REPLAYABLE:
            continue
        count += records.replay(session, tenant_id=rec.tenant_id, ids=[rec.id])
        audit_record(session, rec, source, "replay", operator,
                     f"bulk replay of {len(ids)} record(s) ({_describe(f)})")
        tenants.add(rec.tenant_id)
    return sorted(tenants), count


def _describe(f: RecordFilter) -> str:
    return ", ".join(f"{k}={v}" for k, v in f.as_dict().items()) or "no filter"


# --- resolve / dismiss ------------------------------------------------------------------------


def resolve_record(session: Session, record_id: int, *, operator: str, note: str) -> None:
    """The operator fixed it by hand (e.g. keyed the order in IFS): the record is done."""
    _close(session, record_id, DONE, "resolved", operator, note)


def dismiss_record(session: Session, record_id: int, *, operator: str, note: str) -> None:
    """The record will not go to IFS (a test order, a duplicate): it is set aside."""
    _close(session, record_id, SUPERSEDED, "dismissed", operator, note)


def _close(session: Session, record_id: int, state: str, kind: str, operator: str,
           note: str) -> None:
    if not note.strip():
        raise ActionRefused(f"say why in a note: the record is {kind} on your word")
    rec, _, source = _record(session, record_id)
    if rec.state not in (FAILED, PARKED):
        raise ActionRefused(f"record #{rec.id} is {rec.state}: only failed or parked records "
                            f"are {kind}")
    before = rec.last_error
    records.finish(session, rec, state, reason=f"{kind} by {operator}: {note.strip()}",
                   kind=kind)
    audit_record(session, rec, source, kind, operator, f"{note.strip()} (was: {before})")


# --- sources ----------------------------------------------------------------------------------


def set_source_paused(session: Session, source_id: int, paused: bool, *, operator: str,
                      note: str | None = None) -> Source:
    """Pause (no polling, no webhook fetches) or resume a source."""
    source = session.get(Source, source_id)
    if source is None:
        raise ActionRefused(f"no source #{source_id}")
    if paused:
        source.status = "paused"
        source.status_reason = f"paused by {operator}" + (f": {note}" if note else "")
    else:
        source.status = "active"
        source.status_reason = None
    audit(session, tenant_id=source.tenant_id, source_id=source.id, system="connector",
          entity="source", external_id=source.name, action="pause" if paused else "resume",
          actor=operator, outcome="ok", detail=note or None, direction="operator")
    return source


def tenant_source_ids(session: Session, tenant_id: int) -> list[int]:
    return list(session.scalars(select(Source.id).where(Source.tenant_id == tenant_id)
                                .order_by(Source.id)))


def request_sync(session: Session, source_ids: list[int], *, operator: str) -> list[int]:
    """Make every stream of the active sources among ``source_ids`` due now (like
    ``ml-connector sync``); the caller enqueues ``sync.dispatch`` after the commit."""
    active = []
    for sid in source_ids:
        source = session.get(Source, sid)
        if source is None:
            continue
        if source.status != "active":
            continue
        active.append(sid)
        audit(session, tenant_id=source.tenant_id, source_id=source.id, system="connector",
              entity="source", external_id=source.name, action="sync-now", actor=operator,
              outcome="ok", direction="operator")
    if not active:
        raise ActionRefused("no active source to sync (resume a paused source first)")
    request_now(session, active)
    return active
