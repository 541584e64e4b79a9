"""Read-only views of staged records for the operator console: the filtered, paged list and a
record's whole journey (every staged version and how it came, the plan, every IFS call from the
audit trail, the IFS key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from connector.models import AuditEvent, RecordLink, Source, StagedRecord, Tenant

PER_PAGE = 50
#: ``age`` filter values: records last changed longer ago than this.
AGES = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "7d": timedelta(days=7)}


@dataclass(frozen=True)
class RecordFilter:
    """What the records list (and a bulk replay) selects. Empty fields select everything."""

    tenant: str = ""
    source: str = ""
    entity: str = ""
    state: str = ""
    reason: str = ""
    age: str = ""  # one of AGES: older than
    store_id: str = ""
    ifs_key: str = ""

    @classmethod
    def from_mapping(cls, args: Any) -> RecordFilter:
        return cls(**{k: str(args.get(k, "") or "").strip() for k in cls.__dataclass_fields__})

    def as_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if getattr(self, k)}


@dataclass
class RecordRow:
    id: int
    tenant: str
    source: str
    system: str
    entity: str
    store_id: str
    version: str
    origin: str
    state: str
    reason: str | None
    ifs_key: str | None
    updated_at: datetime


@dataclass
class Page:
    rows: list[RecordRow]
    total: int
    page: int
    pages: int


def _link_join() -> Any:
    return and_(RecordLink.source_id == StagedRecord.source_id,
                RecordLink.entity == StagedRecord.entity,
                RecordLink.external_id == StagedRecord.external_id)


def filtered(f: RecordFilter, *, now: datetime | None = None) -> Any:
    """The records the filter selects (staged row, tenant, source, IFS key)."""
    q = (select(StagedRecord, Tenant.name, Source.name, Source.system, RecordLink.ifs_key)
         .join(Tenant, Tenant.id == StagedRecord.tenant_id)
         .join(Source, Source.id == StagedRecord.source_id)
         .outerjoin(RecordLink, _link_join()))
    if f.tenant:
        q = q.where(Tenant.name == f.tenant)
    if f.source:
        q = q.where(Source.name == f.source)
    if f.entity:
        q = q.where(StagedRecord.entity == f.entity)
    if f.state:
        q = q.where(StagedRecord.state == f.state)
    if f.reason:
        q = q.where(StagedRecord.last_error.ilike(f"%{_like(f.reason)}%", escape="\\"))
    if f.age in AGES:
        q = q.where(StagedRecord.updated_at < (now or datetime.now(UTC)) - AGES[f.age])
    if f.store_id:
        q = q.where(StagedRecord.external_id == f.store_id)
    if f.ifs_key:
        q = q.where(RecordLink.ifs_key == f.ifs_key)
    return q


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_records(session: Session, f: RecordFilter, page: int = 1,
                 per_page: int = PER_PAGE) -> Page:
    """One page of the filtered records, newest change first."""
    q = filtered(f)
    total = int(session.scalar(select(func.count()).select_from(q.subquery())) or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = session.execute(q.order_by(StagedRecord.updated_at.desc(), StagedRecord.id.desc())
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return Page([_row(*r) for r in rows], total, page, pages)


def filtered_ids(session: Session, f: RecordFilter, limit: int = 10_000) -> list[int]:
    return list(session.scalars(
        filtered(f).with_only_columns(StagedRecord.id).order_by(StagedRecord.id).limit(limit)))


def _row(rec: StagedRecord, tenant: str, source: str, system: str,
         ifs_key: str | None) -> RecordRow:
    return RecordRow(rec.id, tenant, source, system, rec.entity, rec.external_id, rec.version,
                     rec.origin, rec.state, rec.last_error, ifs_key, rec.updated_at)


@dataclass
class Journey:
    record: StagedRecord
    tenant: Tenant
    source: Source
    versions: list[StagedRecord]
    link: RecordLink | None
    events: list[AuditEvent] = field(default_factory=list)

    @property
    def ifs_calls(self) -> list[AuditEvent]:
        return [e for e in self.events if e.system == "ifs"]


def journey(session: Session, record_id: int) -> Journey | None:
    """Everything known about one store record, from the staged row ``record_id``."""
    rec = session.get(StagedRecord, record_id)
    if rec is None:
        return None
    tenant = session.get(Tenant, rec.tenant_id)
    source = session.get(Source, rec.source_id)
    assert tenant is not None and source is not None
    same = (StagedRecord.source_id == rec.source_id, StagedRecord.entity == rec.entity,
            StagedRecord.external_id == rec.external_id)
    versions = list(session.scalars(select(StagedRecord).where(*same)
                                    .order_by(StagedRecord.version, StagedRecord.id)))
    link = session.scalar(select(RecordLink).where(
        RecordLink.source_id == rec.source_id, RecordLink.entity == rec.entity,
        RecordLink.external_id == rec.external_id))
    keys = [k for k in (link.ifs_key if link else None,) if k]
    events = list(session.scalars(select(AuditEvent).where(
        AuditEvent.tenant_id == rec.tenant_id,
        or_(and_(AuditEvent.source_id == rec.source_id, AuditEvent.entity == rec.entity,
                 AuditEvent.external_id == rec.external_id),
            *([AuditEvent.ifs_key.in_(keys)] if keys else [])))
        .order_by(AuditEvent.at, AuditEvent.id)))
    return Journey(rec, tenant, source, versions, link, events)


def tenants_and_sources(session: Session) -> list[tuple[str, list[str]]]:
    """Names for the filter menus."""
    out: dict[str, list[str]] = {}
    for tname, sname in session.execute(select(Tenant.name, Source.name).join(
            Source, Source.tenant_id == Tenant.id, isouter=True).order_by(Tenant.name,
                                                                         Source.name)):
        out.setdefault(tname, [])
        if sname:
            out[tname].append(sname)
    return list(out.items())
