"""Transform (design.md §3.3): validate a staged record and map it to a plan.

The store's planner (from its plugin, through the registry) does the validating and the pure
mapping; invalid data ends here as a failed record with a plain-words reason, and a record that
waits for an operator (e.g. BigCommerce ``skip`` policy, no IFS customer yet) is parked.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from connector.db import session_scope
from connector.logformat import bind, correlation_id
from connector.models import PENDING, Source, StagedRecord, Tenant
from connector.pipeline import records
from connector.pipeline.records import Parked
from connector.stores.mapping import MappingError
from connector.stores.registry import get_store


def transform(staged_id: int) -> bool:
    """Plan one staged record. True when it is ready to load; False when it ended here."""
    with session_scope() as s:
        rec = s.get(StagedRecord, staged_id)
        if rec is None or rec.state != PENDING:
            return False
        bind_record(rec)
        return plan_record(s, rec)


def bind_record(rec: StagedRecord) -> None:
    """Every log line of this task names the record (and its correlation id)."""
    bind(tenant=rec.tenant_id, source=rec.source_id, record=rec.id,
         correlation_id=correlation_id(rec.source_id, rec.entity, rec.external_id))


def plan_record(s: Session, rec: StagedRecord, tenant: Tenant | None = None,
                source: Source | None = None) -> bool:
    """Plan ``rec`` in ``s``; the load passes its (cached) tenant and source."""
    source = source or s.get(Source, rec.source_id)
    tenant = tenant or s.get(Tenant, rec.tenant_id)
    assert source is not None and tenant is not None
    fn = get_store(source.system).planners.get(rec.entity)
    if fn is None:
        records.mark_failed(s, rec, f"no mapping for {source.system} {rec.entity} records")
        return False
    try:
        rec.plan = fn(s, tenant, source, rec)
    except MappingError as exc:
        records.mark_failed(s, rec, "; ".join(exc.problems), kind="data")
        return False
    except Parked as exc:
        records.mark_parked(s, rec, str(exc))
        return False
    return True
