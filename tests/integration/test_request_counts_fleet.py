"""IFS requests per record with a fleet of workers on a tight budget (issue 14).

``test_request_counts.py`` loads one record at a time in the test process. Here the real
pipeline (4 worker processes, beat) syncs a store while the tenant's IFS budget allows 4
requests per second: loads keep deferring for the budget, orders load their customers in the
same task and two orders of one buyer race for their customer's lock. Through all of that a
new record still costs exactly one request: no `GET` lookup before a create (seen before the
fix: 170 lookups for 145 records at 2 workers, 256 at 4), no duplicate.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from connector.db import session_scope
from connector.models import Tenant
from tests.integration.harness import (
    add_woo_source,
    hold_enrichment,
    make_tenant,
    states,
    sync_and_settle,
)
from tests.integration.test_request_counts import ODATA, IfsLog

pytestmark = pytest.mark.integration


def _budget(tenant_id: int, per_min: int) -> None:
    with session_scope() as s:
        tenant = s.scalar(select(Tenant).where(Tenant.id == tenant_id))
        assert tenant is not None
        tenant.ifs_settings = {**tenant.ifs_settings, "budget_per_min": per_min}


def test_a_budget_bound_fleet_pays_one_request_per_new_record(
        pipeline: dict[str, Any]) -> None:
    ifs, woo = pipeline["ifs"], pipeline["woo"]
    ifs.seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    woo.seed(customers=8, orders=32, seed=14, guest_ratio=0.0, silent=True)
    tenant = make_tenant(pipeline["ifs_url"])
    _budget(tenant, 120)  # 2 per second on average, 4 in any one second
    hold_enrichment(tenant)  # its requests are counted below
    source = add_woo_source(tenant, pipeline["woo_url"], interval=3600)
    log = IfsLog(pipeline["ifs_url"])
    log.clear()

    sync_and_settle(tenant, source, ("customers", "orders"), timeout=300)

    assert set(states(tenant)) == {"done"}, states(tenant)
    customers, orders = states(tenant, "customer")["done"], states(tenant, "order")["done"]
    assert orders == 32
    reqs = log.requests()
    shapes = Counter(f"{r['method']} {r['path'].removeprefix(ODATA).split('(')[0]}"
                     for r in reqs)
    lookups = {k: n for k, n in shapes.items() if k.startswith("GET ")}
    assert lookups == {}, f"lookups before creates: {lookups}"
    assert shapes["POST CustomerHandling.svc/$batch"] == customers, shapes
    assert shapes["POST CustomerOrderHandling.svc/$batch"] == 32, shapes
    assert not any(r["status"] == 429 for r in reqs), "the fleet overran IFS's budget"
    pos = Counter(o["CustomerPoNo"] for o in ifs.orders())
    assert len(pos) == 32 and set(pos.values()) == {1}
