"""A per-process cache of a load's tenant and source (issue 14: each task re-read both).

A load's first statement reads the record, takes its lock and returns the *row versions* of
its tenant and source (Postgres ``xmin``: the transaction that wrote the row's current
version). Every change an operator makes — settings, IFS target or secret, credentials,
pause/resume, key owner — is an ``UPDATE`` of the row and so gives it a new ``xmin``; a
removed tenant or source makes the record's join come back empty. So the cache is checked on
every record at no extra cost and a change takes effect on the next record, in every worker
process, with no TTL and no invalidation message to lose.

The cached objects are detached ORM instances: read them, never change them (a change goes
through an operator command, which writes the row and so invalidates the entry).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import literal_column
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnClause

from connector.handles import on_reset
from connector.models import Source, Tenant

#: ``xmin`` of the tenant and source rows, as text (the revision a cache entry was read at).
TENANT_REVISION: ColumnClause[str] = literal_column("tenants.xmin::text")
SOURCE_REVISION: ColumnClause[str] = literal_column("sources.xmin::text")


@dataclass(frozen=True)
class LoadContext:
    tenant: Tenant
    source: Source
    revision: tuple[str, str]


_cache: dict[tuple[int, int], LoadContext] = {}
on_reset(_cache.clear)


def load_context(session: Session, tenant_id: int, source_id: int,
                 revision: tuple[str, str]) -> LoadContext:
    """The tenant and source at ``revision`` (their row versions, read with the record): from
    the cache when neither row changed since, else read (two primary-key reads) and cached."""
    key = (tenant_id, source_id)
    hit = _cache.get(key)
    if hit is not None and hit.revision == revision:
        return hit
    tenant = session.get(Tenant, tenant_id, populate_existing=True)
    source = session.get(Source, source_id, populate_existing=True)
    if tenant is None or source is None:  # removed between the two statements
        raise LookupError(f"tenant {tenant_id} or source {source_id} no longer exists")
    session.expunge(tenant)
    session.expunge(source)
    ctx = LoadContext(tenant, source, revision)
    _cache[key] = ctx
    return ctx


def forget() -> None:
    """Drop every entry (tests; a forked worker starts with its parent's, which is correct)."""
    _cache.clear()
