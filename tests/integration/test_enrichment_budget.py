"""Enrichment that finishes under a tight budget while new orders still flow (issue 10, seen 1),
and a tenant's IFS traffic never above its budget in any 60-second window (seen 2)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from connector.cli import cli
from connector.db import session_scope
from connector.models import CustomerIndex, Tenant
from tests.integration.harness import (
    add_woo_source,
    make_tenant,
    settled,
    states,
    sync_now,
    wait_until,
)

pytestmark = pytest.mark.integration

BUDGET = 120  # IFS requests per minute for the tenant
PROJECTIONS = "/main/ifsapplications/projection/"


def _busiest_minute(stamps: list[float]) -> int:
    stamps = sorted(stamps)
    best, lo = 0, 0
    for hi, t in enumerate(stamps):
        while stamps[lo] <= t - 60:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_enrichment_completes_on_a_tight_budget_while_orders_flow(
        pipeline: dict[str, Any]) -> None:
    from tasks.maintenance import enrich_all

    ifs, woo = pipeline["ifs"], pipeline["woo"]
    ifs.seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    for i in range(160):  # customers keyed in IFS by hand
        ifs.seed_customer({"CustomerId": f"HAND-{i:03d}", "Company": "10",
                           "Email": f"hand{i}@example.org"})
    woo.seed(customers=4, orders=12, seed=9, silent=True)
    tenant = make_tenant(pipeline["ifs_url"])
    with session_scope() as s:
        row = s.get(Tenant, tenant)
        assert row is not None
        row.ifs_settings = {**row.ifs_settings, "budget_per_min": BUDGET}
    source = add_woo_source(tenant, pipeline["woo_url"])
    mark = len(ifs.state.requests)
    started = time.time()
    enrich_all.delay()
    sync_now(source)

    def indexed() -> int:
        with session_scope() as s:
            return int(s.scalar(select(func.count()).select_from(CustomerIndex).where(
                CustomerIndex.tenant_id == tenant, CustomerIndex.origin == "enrichment")) or 0)

    wait_until(lambda: indexed() >= 160 or None, 300, interval=1,
               what="enrichment to index every hand-made customer")
    wait_until(lambda: settled(tenant) and states(tenant).get("done", 0) >= 12, 300,
               interval=1, what="the orders to load")
    with session_scope() as s:
        row = s.get(Tenant, tenant)
        assert row is not None
        progress = dict(row.enrichment)
    assert progress.get("last_complete_at") and progress.get("run") is None
    assert progress["last_indexed"] >= 160 and progress["last_pages"] >= 4
    calls = [r for r in ifs.state.requests[mark:] if r["path"].startswith(PROJECTIONS)]
    comm_reads = [r for r in calls if r["path"].endswith("/CommunicationMethods")]
    assert comm_reads == [], "CommunicationMethods are read in batches, not one GET each"
    assert _busiest_minute([r["at"] for r in calls]) <= BUDGET
    assert time.time() - started < 300
    status = CliRunner().invoke(cli, ["status"])
    assert status.exit_code == 0, status.output
    assert "acme: IFS enrichment last complete" in status.output
