"""Alert notifications (connector/pipeline/notify.py) and the watch, as thin tasks.

``notify.sweep`` runs on the beat tick: it leases due notifications and hands each to
``notify.deliver`` on the maintenance queue, so a slow or dead channel never holds up a fetch
or a load. A failed delivery is retried by a later sweep with back-off, up to a bound.
"""

from __future__ import annotations

from typing import Any

from connector.db import session_scope
from connector.operations.watch import check
from connector.pipeline import notify
from tasks.app import app
from tasks.base import ConnectorTask


@app.task(bind=True, base=ConnectorTask, name="notify.sweep")
def sweep(self: ConnectorTask) -> int:
    with session_scope() as s:
        ids = notify.claim_due(s)
    for notification_id in ids:  # after the commit
        deliver.delay(notification_id)
    return len(ids)


@app.task(bind=True, base=ConnectorTask, name="notify.deliver")
def deliver(self: ConnectorTask, notification_id: int) -> str:
    return notify.deliver(notification_id)


@app.task(bind=True, base=ConnectorTask, name="maintenance.watch")
def watch(self: ConnectorTask) -> dict[str, Any]:
    result = check()
    return {"opened": result.opened, "resolved": result.resolved}
