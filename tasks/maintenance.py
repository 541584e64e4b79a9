"""Maintenance tasks: the sweeper (Postgres is the queue of record) and IFS enrichment."""

from __future__ import annotations

from sqlalchemy import select

from connector.db import session_scope
from connector.errors import ConnectorError
from connector.models import Tenant
from connector.operations.enrichment import enrich as enrich_tenant
from tasks.app import app
from tasks.base import ConnectorTask
from tasks.sync import pump


@app.task(bind=True, base=ConnectorTask, name="maintenance.sweep")
def sweep(self: ConnectorTask) -> int:
    """Re-enqueue rows whose message was lost (dead worker, flushed Redis) and feed every
    tenant's pipeline up to its in-flight budget; hand out webhook deliveries whose fetch was
    never enqueued."""
    from connector.pipeline.webhooks import claim_unenqueued
    from tasks.sync import fetch_one

    for source_id, entity, external_id in claim_unenqueued():
        fetch_one.delay(source_id, entity, external_id, "webhook")
    return pump(None)


@app.task(bind=True, base=ConnectorTask, name="maintenance.enrich_all")
def enrich_all(self: ConnectorTask) -> int:
    with session_scope() as s:
        ids = list(s.scalars(select(Tenant.id)))
    for tenant_id in ids:
        enrich.delay(tenant_id)
    return len(ids)


@app.task(bind=True, base=ConnectorTask, name="maintenance.enrich")
def enrich(self: ConnectorTask, tenant_id: int) -> int:
    try:
        return enrich_tenant(tenant_id)
    except ConnectorError as exc:
        self.retry_on(exc)
        raise


@app.task(bind=True, base=ConnectorTask, name="maintenance.reconcile")
def reconcile(self: ConnectorTask, tenant_name: str, operator: str) -> int:
    """Run a reconciliation of one tenant and store it (the console's "run one" button)."""
    from connector.operations.reconcile_history import run_and_store

    return run_and_store(tenant_name, operator=operator).unexplained
