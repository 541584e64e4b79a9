"""Maintenance tasks: the sweeper (Postgres is the queue of record) and IFS enrichment."""

from __future__ import annotations

import logging

from sqlalchemy import select

from connector.db import session_scope
from connector.errors import ConnectorError
from connector.models import Tenant
from connector.operations.enrichment import enrich_page, start_run
from tasks.app import app
from tasks.base import ConnectorTask
from tasks.sync import pump

log = logging.getLogger(__name__)


@app.task(bind=True, base=ConnectorTask, name="maintenance.sweep")
def sweep(self: ConnectorTask) -> int:
    """Re-enqueue rows whose message was lost (dead worker, flushed Redis) and feed every
    tenant's pipeline up to its in-flight budget; hand out webhook deliveries whose fetch was
    never enqueued; free streams whose fetch stopped renewing its lease."""
    from connector.pipeline.dispatch import expire_leases
    from connector.pipeline.webhooks import claim_unenqueued
    from tasks.sync import fetch_one

    with session_scope() as s:
        freed = expire_leases(s)  # streams whose fetch died: due again now
    if freed:
        log.info("sweeper: %d stream(s) freed from a fetch that stopped renewing", freed)
    for source_id, entity, external_id in claim_unenqueued():
        fetch_one.delay(source_id, entity, external_id, "webhook")
    return pump(None)


@app.task(bind=True, base=ConnectorTask, name="maintenance.enrich_all")
def enrich_all(self: ConnectorTask) -> int:
    """Start an enrichment run for every tenant that has none under way (beat, every 5 min):
    a run still paging is left alone, so runs never pile up."""
    with session_scope() as s:
        ids = list(s.scalars(select(Tenant.id)))
    started = 0
    for tenant_id in ids:
        run = start_run(tenant_id)
        if run is not None:
            enrich.delay(tenant_id, run)
            started += 1
    return started


@app.task(bind=True, base=ConnectorTask, name="maintenance.enrich")
def enrich(self: ConnectorTask, tenant_id: int, run: str | None = None) -> bool:
    """One page of a tenant's enrichment run, then the next page as a new task."""
    if run is None:  # a message from before paged runs: start one
        run = start_run(tenant_id)
        if run is None:
            return False
    try:
        more = enrich_page(tenant_id, run)
    except ConnectorError as exc:
        self.retry_on(exc)
        raise
    if more:
        enrich.delay(tenant_id, run)
    return more


@app.task(bind=True, base=ConnectorTask, name="maintenance.reconcile")
def reconcile(self: ConnectorTask, tenant_name: str, operator: str) -> int:
    """Run a reconciliation of one tenant and store it (the console's "run one" button)."""
    from connector.operations.reconcile_history import run_and_store

    return run_and_store(tenant_name, operator=operator).unexplained
