"""WooCommerce history and one-off reads for ``backfill`` and ``sync --order``: the same
keyset and reads as polling (:mod:`connector.stores.woocommerce.flow`), returning records
instead of staging them (the generic backfill stages, or only plans for a dry-run)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from connector.db import session_scope
from connector.http.paging import position_start, scan_position, take_window
from connector.models import Source
from connector.pipeline.records import Incoming
from connector.stores.base import HistoryWindow
from connector.stores.woocommerce.flow import (
    customer_incoming,
    order_incoming,
    referenced_customers,
    woo_client,
)
from connector.stores.woocommerce.paging import order_modified

#: The boundary second is read again when a window resumes (the store's filter is exclusive
#: and a second can hold more orders than a window); already-read versions are skipped.
RESUME_OVERLAP = timedelta(seconds=1)


def read_one(source_id: int, entity: str, external_id: str) -> list[Incoming]:
    """Read one order (with the customers it references that were never staged) or customer
    by id, staging nothing (``sync --order ID --dry-run``)."""
    with session_scope() as s:
        source = s.get(Source, source_id)
        assert source is not None
        client = woo_client(source)
        if entity == "order":
            order = client.get_order(int(external_id))
            return [*referenced_customers(s, source, client, [order]), order_incoming(order)]
        return [customer_incoming(client.get_customer(int(external_id)))]


def read_history(source_id: int, position: dict[str, Any], *, since: datetime,
                 until: datetime, max_rows: int) -> HistoryWindow:
    """One window of orders modified in ``[since, until)`` (``backfill``), read with the same
    keyset as polling (look-back of one second), resuming at ``position``; staging nothing."""
    with session_scope() as s:
        source = s.get(Source, source_id)
        assert source is not None
        client = woo_client(source, "bulk")
        start, seen = position_start(position, since)
        scan = client.iter_orders_since(start, seen=[(int(a), str(b)) for a, b in seen],
                                        overlap=RESUME_OVERLAP)
        orders, done = take_window(scan, until=until, max_rows=max_rows,
                                   modified=order_modified, ordered=client.order_by_modified)
        rows = [*referenced_customers(s, source, client, orders),
                *(order_incoming(o) for o in orders)]
    return HistoryWindow(rows, scan_position(scan), len(orders), scan.watermark, done)
