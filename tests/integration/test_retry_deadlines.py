"""Retries by time, not count (issue 10, seen 5): an IFS outage longer than any fixed number of
quick retries is survived, because a record retries until its kind's deadline."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from sqlalchemy import select

from connector.db import session_scope
from connector.models import StagedRecord
from tests.integration.harness import (
    add_woo_source,
    make_tenant,
    settled,
    states,
    sync_now,
    wait_until,
)

pytestmark = pytest.mark.integration

PROJECTIONS = "/main/ifsapplications/projection/"


def test_an_ifs_outage_longer_than_the_quick_retries_is_survived(
        pipeline: dict[str, Any]) -> None:
    ifs, woo = pipeline["ifs"], pipeline["woo"]
    ifs.seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    woo.seed(customers=2, orders=3, seed=5, silent=True)
    tenant = make_tenant(pipeline["ifs_url"])
    source = add_woo_source(tenant, pipeline["woo_url"])
    # Every IFS projection call answers 503 for a while: a connection-error storm.
    requests.post(f"{pipeline['ifs_url']}/_sandbox/faults", timeout=10, json={
        "error_5xx_ratio": 1.0, "error_5xx_status": 503, "path_prefix": PROJECTIONS})
    try:
        sync_now(source)
        started = time.time()
        # The storm lasts well past what a fixed count of quick retries covers (the test
        # settings cap the backoff at 3 s), and each row has failed many times.
        wait_until(lambda: sum(1 for r in ifs.state.requests if r["status"] == 503) >= 30,
                   180, what="the storm to be felt")
        with session_scope() as s:
            failing = s.scalars(select(StagedRecord.failing_since).where(
                StagedRecord.tenant_id == tenant)).all()
        assert any(failing), "the first failure time is kept on the row"
        wait_until(lambda: time.time() - started > 35 or None, 60, what="a long storm")
        assert states(tenant).get("failed", 0) == 0, "a record gave up during the storm"
    finally:
        requests.delete(f"{pipeline['ifs_url']}/_sandbox/faults", timeout=10)
    wait_until(lambda: settled(tenant), 180, what="recovery after the storm")
    assert states(tenant) == {"done": states(tenant).get("done", 0)}
    assert states(tenant)["done"] >= 3
    with session_scope() as s:
        assert not any(s.scalars(select(StagedRecord.failing_since).where(
            StagedRecord.tenant_id == tenant)).all()), "done rows are not failing"
