"""Operating commands end to end: ``sync --wait`` exit codes, re-sync of named orders,
dry-runs and backfills, against a real worker and the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from sqlalchemy import select

from connector.db import session_scope
from connector.models import StagedRecord
from tests.integration.harness import ROOT, add_woo_source, make_tenant, wait_until

pytestmark = pytest.mark.integration


def _cli(*args: str, timeout: int = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "connector.cli", *args], capture_output=True,
                          text=True, env=dict(os.environ), cwd=ROOT, timeout=timeout)


def test_sync_wait_exits_1_and_counts_failed_records(pipeline: dict[str, Any]) -> None:
    woo = pipeline["woo"]
    pipeline["ifs"].seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    summary = woo.seed(customers=2, orders=6, seed=5, invalid=2, silent=True)
    assert len(summary["invalid"]) == 2
    tenant = make_tenant(pipeline["ifs_url"])
    add_woo_source(tenant, pipeline["woo_url"], interval=3600)
    r = _cli("sync", "--tenant", "acme", "--wait", "--timeout", "180")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "settled with 2 record(s) failed and 0 parked" in r.stderr
    assert len(pipeline["ifs"].orders()) == 4


# --- re-sync, dry-run, backfill --------------------------------------------------------------


def _ifs_writes(ifs_url: str) -> list[dict[str, Any]]:
    """Requests IFS received that write (the token endpoint is not a write)."""
    log = requests.get(f"{ifs_url}/_sandbox/requests", timeout=10).json()["requests"]
    return [r for r in log if r["method"] in ("POST", "PATCH", "PUT", "DELETE", "MERGE")
            and "/protocol/openid-connect/token" not in r["path"]]


def _source_starting_now(pipeline: dict[str, Any]) -> tuple[int, int]:
    """A source whose normal sync starts now (the seeded history is older), not polling."""
    from connector.models import Source
    from connector.operations.lifecycle import set_start_date

    pipeline["ifs"].seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    tenant = make_tenant(pipeline["ifs_url"])
    source_id = add_woo_source(tenant, pipeline["woo_url"], interval=3600)
    with session_scope() as s:
        src = s.get(Source, source_id)
        assert src is not None
        set_start_date(s, src, datetime.now(UTC))
    requests.delete(f"{pipeline['ifs_url']}/_sandbox/requests", timeout=10)
    return tenant, source_id


def _staged_orders() -> list[tuple[str, str]]:
    with session_scope() as s:
        return sorted(s.execute(select(StagedRecord.external_id, StagedRecord.version)
                                .where(StagedRecord.entity == "order")).tuples().all())


def test_resync_of_named_orders_and_its_dry_run(pipeline: dict[str, Any]) -> None:
    woo = pipeline["woo"]
    woo.seed(customers=2, orders=4, seed=8, silent=True)
    _source_starting_now(pipeline)
    order_id = str(woo.orders()[0]["id"])
    r = _cli("sync", "--tenant", "acme", "--source", "shop", "--order", order_id, "--dry-run",
             "--json")
    assert r.returncode == 0, r.stderr
    plans = [json.loads(line) for line in r.stdout.splitlines()]
    order_plan = [p for p in plans if p["entity"] == "order"]
    assert [p["store_id"] for p in order_plan] == [order_id]
    assert order_plan[0]["outcome"] == "would load" and order_plan[0]["plan"]
    assert "nothing was written" in r.stderr
    assert _ifs_writes(pipeline["ifs_url"]) == []
    assert _staged_orders() == [] and pipeline["ifs"].orders() == []
    r = _cli("sync", "--tenant", "acme", "--source", "shop", "--order", order_id, "--wait",
             "--timeout", "120")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"order {order_id}: staged (new version)" in r.stdout
    assert len(pipeline["ifs"].orders()) == 1
    r = _cli("sync", "--tenant", "acme", "--order", order_id)
    assert r.returncode == 2 and "--source" in r.stderr


def test_backfill_dry_run_writes_nothing_then_resumes_without_duplicates(
        pipeline: dict[str, Any]) -> None:
    from connector.models import BackfillRun, Source
    from connector.operations import backfill as ops

    woo = pipeline["woo"]
    woo.seed(customers=4, orders=12, seed=9, guest_ratio=0.0, silent=True)
    _, source_id = _source_starting_now(pipeline)
    r = _cli("backfill", "--tenant", "acme", "--source", "shop", "--since", "2000-01-01",
             "--dry-run", "--window", "5", "--json")
    assert r.returncode == 0, r.stderr
    plans = [json.loads(line) for line in r.stdout.splitlines()]
    assert len([p for p in plans if p["entity"] == "order"]) == 12
    assert "nothing was written" in r.stderr
    assert _ifs_writes(pipeline["ifs_url"]) == [] and _staged_orders() == []
    with session_scope() as s:
        assert s.scalars(select(BackfillRun)).all() == []
    # A first window, then "a crash": the run keeps its position.
    with session_scope() as s:
        src = s.get(Source, source_id)
        assert src is not None
        floor = datetime.fromisoformat(src.settings["start_date"])
        run = ops.start_or_resume(s, src, datetime(2000, 1, 1, tzinfo=UTC), floor)
        run_id = run.id
    first = ops.run_window(run_id, max_rows=5)
    assert first.read == 5 and not first.done
    assert len(_staged_orders()) == 5
    r = _cli("backfill", "--tenant", "acme", "--source", "shop", "--since", "2000-01-01",
             "--window", "4", "--timeout", "180")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "resuming the backfill" in r.stdout and "backfill settled" in r.stdout
    staged = _staged_orders()
    assert len(staged) == 12 and len({oid for oid, _ in staged}) == 12  # each once
    assert len(pipeline["ifs"].orders()) == 12
    with session_scope() as s:
        run = s.get(BackfillRun, run_id)
        assert run is not None and run.state == "done" and run.read == 12
        src = s.get(Source, source_id)
        assert src is not None and src.settings["start_date"].startswith("2000-01-01")
    # Again: a new run reads the same history and stages nothing new.
    r = _cli("backfill", "--tenant", "acme", "--source", "shop", "--since", "2000-01-01",
             "--until", floor.isoformat(), "--timeout", "120")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "staged 0 new record(s)" in r.stdout
    assert len(_staged_orders()) == 12 and len(pipeline["ifs"].orders()) == 12


def test_backfill_stopped_with_ctrl_c_resumes_where_it_stopped(
        pipeline: dict[str, Any]) -> None:
    import signal

    from connector.models import BackfillRun

    woo = pipeline["woo"]
    woo.seed(customers=0, orders=10, seed=10, guest_ratio=1.0, silent=True)
    _source_starting_now(pipeline)
    # IFS slow: the loads lag behind, so the backfill waits on its backlog (paced).
    requests.post(f"{pipeline['ifs_url']}/_sandbox/faults", json={"latency_ms": 1500},
                  timeout=10)
    args = [sys.executable, "-m", "connector.cli", "backfill", "--tenant", "acme", "--source",
            "shop", "--since", "2000-01-01", "--window", "2", "--max-backlog", "1"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ), cwd=ROOT)

    def window_read() -> bool:
        with session_scope() as s:
            return bool(s.scalar(select(BackfillRun.read).where(BackfillRun.state == "running")))

    try:
        wait_until(window_read, 120, what="a first window staged")
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err
    with session_scope() as s:
        run = s.scalar(select(BackfillRun))
        assert run is not None and run.state == "running" and 0 < run.read < 10
        read_before = run.read
    requests.delete(f"{pipeline['ifs_url']}/_sandbox/faults", timeout=10)
    r = _cli("backfill", "--tenant", "acme", "--source", "shop", "--since", "2000-01-01",
             "--window", "2", "--timeout", "180")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"resuming the backfill of shop ({read_before} order(s) read before)" in r.stdout
    staged = _staged_orders()
    assert len(staged) == 10 and len({oid for oid, _ in staged}) == 10
    assert len(pipeline["ifs"].orders()) == 10
