"""BigCommerce history and one-off reads for ``backfill`` and ``sync --order``: the same
keyset and per-order reads as polling (:mod:`connector.stores.bigcommerce.flow`), returning
records instead of staging them (the generic backfill stages, or only plans for a dry-run)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from connector.db import session_scope
from connector.http.paging import position_start, scan_position, take_window
from connector.models import Source, Tenant
from connector.pipeline.records import Incoming
from connector.stores.base import HistoryWindow
from connector.stores.bigcommerce.flow import order_records
from connector.stores.bigcommerce.order_reads import OrderReads, order_reads, read_order
from connector.stores.bigcommerce.settings import bc_client
from connector.stores.bigcommerce.versions import customer_version, order_modified

#: The boundary second is read again when a window resumes (the store's filter is exclusive
#: and a second can hold more orders than a window); already-read versions are skipped.
RESUME_OVERLAP = timedelta(seconds=1)


def _source(source_id: int) -> tuple[Source, OrderReads]:
    with session_scope() as s:
        source = s.get(Source, source_id)
        tenant = s.get(Tenant, source.tenant_id) if source is not None else None
        assert source is not None and tenant is not None
        return source, order_reads(tenant, source)


def read_one(source_id: int, entity: str, external_id: str) -> list[Incoming]:
    """Read one order (with payments, shipments, refunds) or customer by id, staging nothing
    (``sync --order ID --dry-run``)."""
    source, reads = _source(source_id)
    client = bc_client(source)
    if entity == "order":
        return order_records(client, read_order(client, int(external_id), reads), reads)
    customer = client.get_customer(int(external_id))
    return [Incoming("customer", str(customer["id"]), customer_version(customer), customer)]


def read_history(source_id: int, position: dict[str, Any], *, since: datetime,
                 until: datetime, max_rows: int) -> HistoryWindow:
    """One window of orders modified in ``[since, until)`` with their payments, shipments and
    refunds (``backfill``): the polling keyset (look-back of one second), resuming at
    ``position``; staging nothing."""
    source, reads = _source(source_id)
    client = bc_client(source)
    start, seen = position_start(position, since)
    scan = client.iter_orders_modified_since(start, seen=[(int(a), str(b)) for a, b in seen],
                                             overlap=RESUME_OVERLAP, embed=reads.embedded)
    orders, done = take_window(scan, until=until, max_rows=max_rows, modified=order_modified)
    rows = [r for o in orders for r in order_records(client, o, reads)]
    return HistoryWindow(rows, scan_position(scan), len(orders), scan.watermark, done)
