"""WooCommerce flow under conflicts, crashes, races, moving data and dead keys."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from connector.cli import cli
from connector.db import session_scope
from connector.errors import Conflict
from connector.models import Alert, AuditEvent, RecordLink, Source, StagedRecord, SyncCursor
from connector.pipeline import records
from connector.pipeline.load import load as load_record
from connector.pipeline.records import Incoming
from connector.pipeline.transform import transform as transform_record
from tests.integration.harness import (
    add_woo_source,
    make_tenant,
    settled,
    states,
    sync_and_settle,
    sync_now,
    wait_until,
)

pytestmark = pytest.mark.integration


def _orders_by_po(ifs: Any, prefix: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for order in ifs.orders():
        if order["CustomerPoNo"].startswith(prefix):
            out.setdefault(order["CustomerPoNo"], []).append(order)
    return out


def _setup(pipeline: dict[str, Any], customers: int, orders: int,
           **tenant_settings: Any) -> tuple[int, int]:
    pipeline["ifs"].seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    pipeline["woo"].seed(customers=customers, orders=orders, seed=3, silent=True)
    tenant = make_tenant(pipeline["ifs_url"], settings=tenant_settings)
    source = add_woo_source(tenant, pipeline["woo_url"])
    return tenant, source


def test_412_is_resolved_by_reapplying_owned_fields(pipeline: dict[str, Any]) -> None:
    ifs, woo = pipeline["ifs"], pipeline["woo"]
    tenant, source = _setup(pipeline, 3, 4)
    sync_and_settle(tenant, source)
    order = woo.orders()[0]
    po = f"W{source}-{order['number']}"
    ifs_order = _orders_by_po(ifs, po)[po][0]
    # Another IFS user edits a field the connector does not own: the order's ETag changes.
    r = requests.patch(f"{pipeline['ifs_url']}/_sandbox/ifs/orders/{ifs_order['OrderNo']}",
                       json={"SalesmanCode": "JDOE"}, timeout=10)
    assert r.status_code == 200, r.text
    woo.mutate_order(order["id"], status="on-hold")
    mark = len(ifs.state.requests)
    sync_and_settle(tenant, source)
    after = _orders_by_po(ifs, po)[po]
    assert len(after) == 1
    assert after[0]["LabelNote"] == "woo:on-hold"
    assert after[0]["SalesmanCode"] == "JDOE"  # their change survived ours
    patches = [r for r in ifs.state.requests[mark:] if r["method"] == "PATCH"]
    assert [p["status"] for p in patches] == [412, 200]
    assert all(p["if_match"] for p in patches)


def test_worker_crash_between_ifs_create_and_link_does_not_duplicate(
        pipeline: dict[str, Any]) -> None:
    ifs, woo, worker = pipeline["ifs"], pipeline["woo"], pipeline["worker"]
    tenant, source = _setup(pipeline, 4, 8)
    # Slow IFS change sets down so the worker is killed while IFS is still writing them.
    batch_path = "/main/ifsapplications/projection/v1/CustomerOrderHandling.svc/$batch"
    requests.post(f"{pipeline['ifs_url']}/_sandbox/faults",
                  json={"latency_ms": 1500, "path_prefix": batch_path}, timeout=10)
    sync_now(source)
    wait_until(lambda: any(r["path"] == batch_path for r in ifs.state.requests) or None,
               60, interval=0.05, what="a change set in flight")
    time.sleep(0.3)
    worker.kill()
    time.sleep(1.7)  # IFS finishes the change sets it was given: orders exist, links do not
    requests.delete(f"{pipeline['ifs_url']}/_sandbox/faults", timeout=10)
    created_before_restart = len(_orders_by_po(ifs, f"W{source}-"))
    assert created_before_restart >= 1
    worker.start()  # the sweeper hands the orphaned rows out again
    # The killed fetch's stream is freed when its lease lapses (MLC_FETCH_LEASE_S), the rows
    # in flight when the sweeper finds them stale; a busy machine may take its time.
    wait_until(lambda: settled(tenant), 240, interval=1, what="recovery after the crash")
    by_po = _orders_by_po(ifs, f"W{source}-")
    assert len(by_po) == len(woo.orders())
    assert all(len(v) == 1 for v in by_po.values()), "an order was created twice"
    with session_scope() as s:
        adopted = s.scalars(select(AuditEvent).where(AuditEvent.tenant_id == tenant,
                                                     AuditEvent.action == "adopt")).all()
        assert adopted, "the retry should have found the order IFS already had"


def test_two_versions_racing_do_not_duplicate(pipeline: dict[str, Any]) -> None:
    ifs, woo = pipeline["ifs"], pipeline["woo"]
    tenant, source = _setup(pipeline, 2, 1)
    # Stage two versions of one order directly (the beat/fetch path is not involved here).
    order = woo.orders()[0]
    v1 = dict(order, status="processing", date_modified_gmt="2030-01-01T00:00:01")
    v2 = dict(order, status="completed", date_modified_gmt="2030-01-01T00:00:02")
    with session_scope() as s:
        src = s.get(Source, source)
        assert src is not None
        from connector.stores.woocommerce.flow import stage_orders, woo_client

        client = woo_client(src)
        stage_orders(s, src, client, [v1], "poll")
        ids = records.stage(s, tenant_id=tenant, source_id=source, origin="poll",
                            records=[Incoming("order", str(order["id"]), v2["date_modified_gmt"],
                                              v2)])
        assert ids
    with session_scope() as s:
        staged = s.scalars(select(StagedRecord).where(StagedRecord.entity == "order")
                           .order_by(StagedRecord.version)).all()
        order_ids = [r.id for r in staged]
        customer_ids = list(s.scalars(select(StagedRecord.id).where(
            StagedRecord.entity == "customer")))
    for cid in customer_ids:
        transform_record(cid)
        load_record(cid)
    for oid in order_ids:
        transform_record(oid)
    barrier = threading.Barrier(len(order_ids))
    errors: list[BaseException] = []

    def run(staged_id: int) -> None:
        barrier.wait()
        for _ in range(50):
            try:
                load_record(staged_id)
                return
            except Conflict:  # Busy: the other version holds the record lock
                time.sleep(0.1)
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=run, args=(i,)) for i in order_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    po = f"W{source}-{order['number']}"
    found = _orders_by_po(ifs, po)[po]
    assert len(found) == 1
    assert found[0]["LabelNote"] == "woo:completed"  # the newer version won
    with session_scope() as s:
        link = s.scalar(select(RecordLink).where(RecordLink.entity == "order"))
        assert link is not None and link.last_version == v2["date_modified_gmt"]
        final = dict(s.execute(select(StagedRecord.version, StagedRecord.state)
                               .where(StagedRecord.entity == "order")).tuples().all())
        assert final[v2["date_modified_gmt"]] == "done"
        assert final[v1["date_modified_gmt"]] in ("done", "superseded")


def test_orders_changed_during_paging_are_not_missed(pipeline: dict[str, Any]) -> None:
    ifs, woo = pipeline["ifs"], pipeline["woo"]
    tenant, source = _setup(pipeline, 20, 260)
    # After every store request, the two oldest orders (already paged) are modified.
    woo.set_mutating(1, 2, pick="oldest", limit=40, silent=True)
    sync_and_settle(tenant, source, timeout=240)
    woo.set_mutating(0)
    by_po = _orders_by_po(ifs, f"W{source}-")
    assert len(by_po) == 260, f"missed {260 - len(by_po)} order(s)"
    assert all(len(v) == 1 for v in by_po.values())


def test_deleted_key_owner_raises_one_alert_pauses_and_resumes(pipeline: dict[str, Any]) -> None:
    ifs, woo = pipeline["ifs"], pipeline["woo"]
    tenant, source = _setup(pipeline, 3, 5)
    sync_and_settle(tenant, source)
    woo.delete_user("shop-admin")
    changed = woo.orders()[0]
    woo.mutate_order(changed["id"], status="completed")
    sync_now(source)
    wait_until(lambda: _paused(source), 60, what="the pause")
    # A paused source is not polled again (no flood of failures or alerts) even when asked.
    since = sync_now(source)
    time.sleep(3)  # three beat ticks
    with session_scope() as s:
        cursor_runs = s.scalars(select(SyncCursor.last_run_at).where(
            SyncCursor.source_id == source)).all()
        assert all(run is not None and run.timestamp() < since for run in cursor_runs)
    with session_scope() as s:
        alerts = s.scalars(select(Alert).where(Alert.tenant_id == tenant)).all()
        assert len(alerts) == 1 and alerts[0].kind == "source_auth_failed"
        assert "shop-admin" in alerts[0].message
        src = s.get(Source, source)
        assert src is not None and src.status == "auth_failed"
        assert s.scalar(select(StagedRecord).where(StagedRecord.state == "failed")) is None
    # A new key (new owner) is set and the source resumed: the change made meanwhile lands.
    woo.add_key("ck_new_owner", "cs_new_owner_secret", user="ops-admin")
    runner = CliRunner()
    r = runner.invoke(cli, ["source", "set-credentials", "--tenant", "acme", "--source", "shop",
                            "--key-owner", "ops-admin"],
                      input="ck_new_owner\ncs_new_owner_secret\n")
    assert r.exit_code == 0, r.output
    assert runner.invoke(cli, ["source", "resume", "--tenant", "acme", "--source",
                               "shop"]).exit_code == 0
    sync_and_settle(tenant, source)
    po = f"W{source}-{changed['number']}"
    assert _orders_by_po(ifs, po)[po][0]["LabelNote"] == "woo:completed"
    with session_scope() as s:
        last = s.scalars(select(AuditEvent).where(AuditEvent.action == "update")
                         .order_by(AuditEvent.id.desc())).first()
        assert last is not None and "ops-admin" in last.actor


def _paused(source_id: int) -> bool:
    with session_scope() as s:
        src = s.get(Source, source_id)
        return src is not None and src.status == "auth_failed"


def test_failed_guest_order_is_replayed_after_the_fix(pipeline: dict[str, Any]) -> None:
    ifs, woo = pipeline["ifs"], pipeline["woo"]
    woo.seed(customers=2, orders=10, seed=5, guest_ratio=0.5, silent=True)
    tenant = make_tenant(pipeline["ifs_url"], settings={"walk_in_customer": None})
    source = add_woo_source(tenant, pipeline["woo_url"])
    sync_and_settle(tenant, source)
    guests = [o for o in woo.orders() if not o["customer_id"]]
    assert guests
    with session_scope() as s:
        failed = s.scalars(select(StagedRecord).where(StagedRecord.state == "failed")).all()
        assert {r.external_id for r in failed} == {str(o["id"]) for o in guests}
        assert all("walk-in customer" in (r.last_error or "") for r in failed)
    ifs.seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    runner = CliRunner()
    assert runner.invoke(cli, ["tenant", "set", "acme", "--setting",
                               "walk_in_customer=WALKIN"]).exit_code == 0
    r = runner.invoke(cli, ["replay", "--tenant", "acme"])
    assert r.exit_code == 0 and f"{len(guests)} record(s)" in r.output
    wait_until(lambda: settled(tenant) and not states(tenant).get("failed"), 90,
               what="the replay")
    by_po = _orders_by_po(ifs, f"W{source}-")
    assert len(by_po) == 10
    r = runner.invoke(cli, ["replay", "--tenant", "acme"])  # idempotent: nothing left
    assert "0 record(s)" in r.output


def test_sequential_mode_resumes_adding_only_the_missing_lines(pipeline: dict[str, Any]) -> None:
    ifs, woo = pipeline["ifs"], pipeline["woo"]
    tenant, source = _setup(pipeline, 4, 12, order_mode="sequential")
    # Line posts fail now and then (5xx): a retried load finds its order and adds what is
    # missing, recognising lines by CustomerPoLineNo.
    requests.post(f"{pipeline['ifs_url']}/_sandbox/faults", timeout=10, json={
        "error_5xx_ratio": 0.3, "error_5xx_status": 503, "methods": ["POST"],
        "path_prefix": "/main/ifsapplications/projection/v1/CustomerOrderHandling.svc/"
                       "CustomerOrderSet(",
        "extra": {"seed": 7}})
    try:
        sync_and_settle(tenant, source, timeout=180)
    finally:
        requests.delete(f"{pipeline['ifs_url']}/_sandbox/faults", timeout=10)
    # An order whose retries ran out before all its lines went through ends failed (bounded
    # retries) with part of its lines in IFS; replaying it completes it, adding only the rest.
    runner = CliRunner()
    r = runner.invoke(cli, ["replay", "--tenant", "acme"])
    assert r.exit_code == 0, r.output
    wait_until(lambda: settled(tenant), 120, what="the replay")
    failed_posts = [r for r in ifs.state.requests
                    if r["method"] == "POST" and r["status"] == 503]
    assert failed_posts, "the fault never fired: the test proves nothing"
    by_po = _orders_by_po(ifs, f"W{source}-")
    assert len(by_po) == 12 and all(len(v) == 1 for v in by_po.values())
    store = {f"W{source}-{o['number']}": o for o in woo.orders()}
    for po, (order,) in by_po.items():
        lines = ifs.order_lines(order["OrderNo"])
        positions = [line["CustomerPoLineNo"] for line in lines]
        assert sorted(positions, key=int) == [str(i) for i in
                                              range(1, len(store[po]["line_items"]) + 1)]
    assert states(tenant).get("failed", 0) == 0
