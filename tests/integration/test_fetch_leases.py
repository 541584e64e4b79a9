"""One fetch per stream, ever (issue 10, seen 8 and 9): a fetch waiting to retry keeps its
stream claimed; a dead fetch frees it within a lease; BigCommerce order sub-resources are read
once per order version. In-process against the real database and the simulators over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from connector.db import session_scope
from connector.errors import RateLimited
from connector.models import StagedRecord, SyncCursor
from connector.pipeline.dispatch import claim_due, expire_leases, lease_s
from connector.pipeline.fetch import hold_for_retry, run_fetch
from tests.integration.bigcommerce_harness import add_bc_source, bc_sim_fixture, make_bc_tenant
from tests.integration.harness import add_woo_source, make_tenant

pytestmark = pytest.mark.integration
__all__ = ["bc_sim_fixture"]


def _cursor(source_id: int, stream: str) -> SyncCursor:
    with session_scope() as s:
        cursor = s.scalar(select(SyncCursor).where(SyncCursor.source_id == source_id,
                                                   SyncCursor.stream == stream))
        assert cursor is not None
        s.expunge(cursor)
        return cursor


def _claims(now: datetime) -> list[tuple[int, str, str]]:
    with session_scope() as s:
        return claim_due(s, now=now)


def test_a_fetch_waiting_to_retry_keeps_its_stream(clean_db: None, ifs_sim: Any,
                                                   woo_sim: Any) -> None:
    woo, woo_url = woo_sim
    requests.post(f"{woo_url}/_sandbox/reset", timeout=10).raise_for_status()
    woo.seed(customers=1, orders=2, seed=1, silent=True)
    tenant = make_tenant(ifs_sim[1])
    source = add_woo_source(tenant, woo_url, interval=1)
    now = datetime.now(UTC)
    (claim,) = [c for c in _claims(now) if c[:2] == (source, "orders")]
    token = claim[2]
    requests.post(f"{woo_url}/_sandbox/faults", timeout=10,
                  json={"error_5xx_ratio": 1.0, "error_5xx_status": 503})
    try:
        with pytest.raises(RateLimited):
            run_fetch(source, "orders", token=token)
    finally:
        requests.delete(f"{woo_url}/_sandbox/faults", timeout=10)
    assert _cursor(source, "orders").running_since is not None, "released while retrying"
    hold_for_retry(source, "orders", token, 120, "HTTP 503")
    # Beat ticks on while the fetch waits: the stream is due by its interval but stays claimed.
    later = [c for c in _claims(datetime.now(UTC) + timedelta(seconds=90))
             if c[:2] == (source, "orders")]
    assert later == [], "a second fetch of the stream was dispatched"
    # The retry carries the same claim and runs; a stale copy of the message does nothing.
    assert run_fetch(source, "orders", token="2001-01-01T00:00:00+00:00").staged == 0
    assert run_fetch(source, "orders", token=token).staged > 0
    assert _cursor(source, "orders").running_since is None


def test_a_dead_fetch_frees_its_stream_within_a_lease(clean_db: None, ifs_sim: Any,
                                                      woo_sim: Any) -> None:
    tenant = make_tenant(ifs_sim[1])
    source = add_woo_source(tenant, woo_sim[1], interval=1)
    t0 = datetime.now(UTC)
    assert (source, "orders") in [c[:2] for c in _claims(t0)]
    # The worker running the fetch is SIGKILLed: nothing renews the lease.
    soon = [c for c in _claims(t0 + timedelta(seconds=5)) if c[:2] == (source, "orders")]
    assert soon == []
    assert lease_s() <= 60
    expired = t0 + timedelta(seconds=lease_s() + 1)
    with session_scope() as s:
        assert expire_leases(s, now=expired) >= 1  # the sweeper's part
    cursor = _cursor(source, "orders")
    assert cursor.running_since is None and "lease" in (cursor.last_error or "")
    assert (source, "orders") in [c[:2] for c in _claims(expired)]


def test_bigcommerce_order_sub_resources_are_read_once_per_order_version(
        clean_db: None, ifs_sim: Any, bc_sim: tuple[Any, str]) -> None:
    from connector.stores.bigcommerce.flow import fetch_orders

    sim, url = bc_sim
    sim.reset()
    sim.seed(customers=3, orders=12, seed=4)
    tenant = make_bc_tenant(ifs_sim[1])
    source = add_bc_source(tenant, url)
    mark = len(sim.state.requests)
    fetch_orders(source, max_rows=1000)
    # A second run (the keyset overlap, a retried or a duplicate fetch) reads the order list
    # again but no order's transactions. Lines and addresses come embedded in the list pages
    # (issue 14): never read per order.
    with session_scope() as s:
        cursor = s.scalar(select(SyncCursor).where(SyncCursor.source_id == source,
                                                   SyncCursor.stream == "orders"))
        assert cursor is not None
        cursor.watermark, cursor.seen_ids = None, []
    fetch_orders(source, max_rows=1000)
    reads = sim.state.requests[mark:]
    transactions = [r for r in reads if r["path"].endswith("/transactions")]
    with session_scope() as s:
        orders = s.scalars(select(StagedRecord.external_id).where(
            StagedRecord.source_id == source, StagedRecord.entity == "order")).all()
    assert orders and len(transactions) == len(orders)
    assert len({r["path"] for r in transactions}) == len(transactions)
    assert not [r for r in reads if r["path"].endswith(("/products", "/shipping_addresses"))]
