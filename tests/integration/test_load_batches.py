"""Loads in batches (issue 14): the pump hands a tenant's claimed records to
``sync.transform_batch``, ``MLC_LOAD_BATCH_SIZE`` to a message, and one task loads them in turn.

Proven with the real fleet against the sandbox: a backlog goes out in batches; a record that
fails for good inside a batch fails alone with its reason, the others of its batch load; a
record that must wait (its customer is being loaded by another worker, or is not fetched yet)
is retried on its own and loads; nothing is loaded twice and every new record costs one IFS
request.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from connector.db import session_scope
from connector.models import StagedRecord
from tasks.sync import _batches
from tests.integration.bigcommerce_harness import bc_sim_fixture  # noqa: F401 - fixture
from tests.integration.harness import (
    add_woo_source,
    hold_enrichment,
    make_tenant,
    settled,
    states,
    sync_and_settle,
    sync_now,
    wait_until,
)
from tests.integration.test_request_counts import (  # noqa: F401 - fixture
    LINES,
    ODATA,
    IfsLog,
    _buyer,
    bc_tenant,
)

pytestmark = pytest.mark.integration


def test_claims_are_split_into_even_batches() -> None:
    assert _batches([], 4) == []
    assert _batches([1], 4) == [[1]]
    assert _batches(list(range(9)), 4) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert _batches(list(range(20)), 4) == [list(range(i, i + 4)) for i in range(0, 20, 4)]
    assert _batches(list(range(5)), 1) == [[i] for i in range(5)]
    batches = _batches(list(range(23)), 4)
    assert sorted(i for batch in batches for i in batch) == list(range(23))
    assert max(map(len, batches)) <= 4 and max(map(len, batches)) - min(map(len, batches)) <= 1


def _batch_tasks_since(log_path: Any, offset: int) -> int:
    with open(log_path, "rb") as handle:
        handle.seek(offset)
        text = handle.read().decode(errors="replace")
    return len(re.findall(r"Task sync\.transform_batch\[[^\]]+\] received", text))


def test_a_backlog_loads_in_batches_and_a_bad_record_fails_alone(
        pipeline: dict[str, Any]) -> None:
    ifs, woo, worker = pipeline["ifs"], pipeline["woo"], pipeline["worker"]
    ifs.seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    seeded = woo.seed(customers=10, orders=60, seed=21, guest_ratio=0.2, invalid=3,
                      silent=True)
    bad = {str(i["id"]) for i in seeded.get("invalid", [])}
    assert len(bad) == 3
    tenant = make_tenant(pipeline["ifs_url"])
    source = add_woo_source(tenant, pipeline["woo_url"], interval=3600)
    hold_enrichment(tenant)  # its requests are counted below
    log = IfsLog(pipeline["ifs_url"])
    log.clear()
    offset = worker.log_path.stat().st_size

    sync_and_settle(tenant, source, ("customers", "orders"), timeout=300)

    with session_scope() as s:
        rows = s.execute(select(StagedRecord.entity, StagedRecord.external_id,
                                StagedRecord.state, StagedRecord.last_error)
                         .where(StagedRecord.tenant_id == tenant)).all()
    failed = {r.external_id: r.last_error for r in rows if r.state == "failed"}
    assert set(failed) == bad, failed
    assert all(reason for reason in failed.values())
    done = [r for r in rows if r.state == "done"]
    assert len(done) == len(rows) - 3
    # Batches did the work, and each record cost one request: nothing loaded twice.
    assert _batch_tasks_since(worker.log_path, offset) >= 5
    shapes = Counter(f"{r['method']} {r['path'].removeprefix(ODATA).split('(')[0]}"
                     for r in log.requests())
    assert sum(n for k, n in shapes.items() if k.endswith("$batch")) == len(done), shapes
    pos = Counter(o["CustomerPoNo"] for o in ifs.orders())
    assert set(pos.values()) == {1}
    assert states(tenant, "order")["done"] == 57


def test_a_record_that_must_wait_is_retried_on_its_own(pipeline: dict[str, Any]) -> None:
    """One buyer's store record is locked (another worker is loading it, as far as the fleet
    can tell): the buyer's orders cannot load their customer and go on as retries of their
    own while the rest of their batches load; once the lock is gone, they load too."""
    from sqlalchemy import func

    from connector.db import get_engine
    from connector.pipeline.load import _lock_key

    ifs, woo, worker = pipeline["ifs"], pipeline["woo"], pipeline["worker"]
    ifs.seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    woo.seed(customers=4, orders=24, seed=22, guest_ratio=0.0, silent=True)
    tenant = make_tenant(pipeline["ifs_url"])
    source = add_woo_source(tenant, pipeline["woo_url"], interval=3600)
    buyer = Counter(o["customer_id"] for o in woo.orders()).most_common(1)[0][0]
    theirs = {str(o["id"]) for o in woo.orders() if o["customer_id"] == buyer}
    offset = worker.log_path.stat().st_size

    with get_engine().connect() as holder:
        assert holder.scalar(select(func.pg_try_advisory_lock(
            _lock_key(source, "customer", str(buyer)))))
        holder.commit()
        sync_now(source, ("customers", "orders"))
        others = 24 - len(theirs)
        wait_until(lambda: states(tenant, "order").get("done") == others, 120,
                   what="the other buyers' orders")
        with session_scope() as s:
            pending = set(s.scalars(select(StagedRecord.external_id).where(
                StagedRecord.tenant_id == tenant, StagedRecord.entity == "order",
                StagedRecord.state == "pending")).all())
        assert pending == theirs
        holder.execute(select(func.pg_advisory_unlock_all()))
        holder.commit()
    wait_until(lambda: settled(tenant), 300, what="the buyer's orders to load")
    assert set(states(tenant)) == {"done"}, states(tenant)
    with open(worker.log_path, "rb") as handle:
        handle.seek(offset)
        assert b"retry on its own" in handle.read()
    assert len({o["CustomerPoNo"] for o in ifs.orders()}) == 24 == len(ifs.orders())


def test_an_unexpected_error_goes_on_alone_and_the_batch_loads_on(
        clean_db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug that one record meets (an exception outside the connector's error family) must
    not hold its batch-mates back: that record goes on in a task of its own, the others load.
    (The loader is replaced by one that raises for one id; broker and database are real.)"""
    from connector.pipeline.load import LoadResult
    from tasks import sync

    loaded: list[int] = []

    def fake_load(staged_id: int) -> LoadResult:
        if staged_id == -2:
            raise KeyError("a bug")
        loaded.append(staged_id)
        return LoadResult("done", tenant_id=None)

    monkeypatch.setattr(sync, "load_record", fake_load)
    states = sync.transform_batch.run([-1, -2, -3])
    assert loaded == [-1, -3]
    assert states == {"done": 2, "handed_on": 1}


def test_a_webhook_fetch_loads_what_it_staged(bc_tenant: dict[str, Any]) -> None:  # noqa: F811
    """The task behind a webhook loads the records it staged itself when the tenant has room
    in its window: when it returns, the order is in IFS (one task per webhook order, no second
    message and queue wait through ``sync.transform``)."""
    from tasks.sync import fetch_one

    p, bc, ifs = bc_tenant, bc_tenant["bc"], bc_tenant["ifs"]
    order = bc.create_order(lines=LINES, billing_address=_buyer("inline@example.org"))
    assert fetch_one.run(p["source"], "order", str(order["id"])) >= 1
    po = f"B{p['source']}-{order['id']}"
    assert [o["CustomerPoNo"] for o in ifs.orders()] == [po]  # already there, no waiting
    assert set(states(p["tenant"])) == {"done"}, states(p["tenant"])
    # The same webhook again (a redelivery): nothing new staged, nothing loaded twice.
    assert fetch_one.run(p["source"], "order", str(order["id"])) == 0
    assert [o["CustomerPoNo"] for o in ifs.orders()] == [po]
