"""Thin BigCommerce maintenance tasks: the periodic webhook health check (bigcommerce.md
decision 3). Ids in, one service call, errors → retry (conventions habit 1)."""

from __future__ import annotations

from connector.errors import AuthError, ConnectorError
from connector.stores.bigcommerce.hooks import check_hooks, sources_with_hooks
from tasks.app import app
from tasks.base import ConnectorTask


@app.task(bind=True, base=ConnectorTask, name="bigcommerce.hooks_health_all")
def hooks_health_all(self: ConnectorTask) -> int:
    """Fan out one health check per BigCommerce source whose hooks were set up."""
    ids = sources_with_hooks()
    for source_id in ids:
        hooks_health.delay(source_id)
    return len(ids)


@app.task(bind=True, base=ConnectorTask, name="bigcommerce.hooks_health")
def hooks_health(self: ConnectorTask, source_id: int) -> str:
    """List the source's hooks, repair missing/deactivated ones, report blocked domains."""
    try:
        report = check_hooks(source_id)
    except AuthError as exc:
        from connector.pipeline.fetch import pause_for_auth

        pause_for_auth(source_id, exc)
        return "paused"
    except ConnectorError as exc:
        self.retry_on(exc)
        raise
    if report is None:
        return "skipped"
    return "repaired" if report.repaired else ("blocked" if report.blocked else "ok")
