"""Fairness across 10 tenants: does one tenant's big backlog delay the others' new orders?

    .venv/bin/python bench/fairness.py [--backlog 2000] [--small 9] [--orders 20] [--out PATH]

Ten tenants on one fleet (4 worker processes) and one IFS simulator, each tenant with its own
WooCommerce simulator (so each store is separate) and its own id prefix. Two phases:

1. *alone*: the 9 small tenants each get ``--orders`` new orders (guests, walk-in customer) and
   a sync is requested for all of them at once; the clock runs from the request to each order's
   first appearance in IFS;
2. *beside the backlog*: the big tenant's sync of ``--backlog`` orders (and a fifth as many
   customers) is requested; once all of it is staged (its fetch is done) and loading, the
   small tenants get the same number of new orders and the same request, timed the same way.

The delay a backlog causes is phase 2 minus phase 1 per small tenant (time to its last order in
IFS); the target is at most a dispatch interval or two (``MLC_DISPATCH_INTERVAL_S``, 2 s here).
The big tenant is not drained: the stage ends when the small tenants are done.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet import (
    ROOT,
    BenchError,
    Fleet,
    IfsWatch,
    env_dispatch_interval,
    percentiles,
    run_stage,
    say,
)


def request(source_ids: list[int]) -> float:
    from connector.db import session_scope
    from connector.pipeline.dispatch import request_now

    with session_scope() as s:
        request_now(s, source_ids)
    return time.time()


def wait_seen(fleet: Fleet, watch: IfsWatch, pos: set[str], timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        fleet.check_alive()
        if pos <= set(watch.seen):
            return
        time.sleep(0.1)
    missing = len(pos - set(watch.seen))
    raise BenchError(f"{missing} small-tenant orders not in IFS after {timeout:.0f} s; see "
                     f"{fleet.worker_log}")


def seed_small(sims: list[Any], orders: int, anchor: datetime, phase: int) -> list[list[str]]:
    """New guest orders in every small store, dated in the day before ``anchor`` (later than
    any earlier phase's, so the cursor of a modified-since poll sees them)."""
    out = []
    for n, sim in enumerate(sims):
        before = {o["id"] for o in sim.orders()}
        sim.seed(customers=0, orders=orders, seed=100 * phase + n, guest_ratio=1.0, silent=True,
                 days=1, anchor=anchor)
        out.append([o["number"] for o in sim.orders() if o["id"] not in before])
    return out


def phase_result(started: float, watch: IfsWatch, pos_by_tenant: list[list[str]]
                 ) -> dict[str, Any]:
    per_tenant = [round(max(watch.seen[p] for p in pos) - started, 2) for pos in pos_by_tenant]
    per_order = [watch.seen[p] - started for pos in pos_by_tenant for p in pos]
    return {"time_to_last_order_s": per_tenant, "per_order_s": percentiles(per_order),
            "median_tenant_s": round(statistics.median(per_tenant), 2),
            "max_tenant_s": max(per_tenant)}


def big_done(watch: IfsWatch, prefix: str) -> int:
    return sum(1 for po in list(watch.seen) if po.startswith(prefix))


def run(opts: argparse.Namespace) -> dict[str, Any]:
    from sandbox.common import ServerThread
    from sandbox.ifs import IfsConfig
    from sandbox.woocommerce.simulator import WooSimulator

    fleet = Fleet("fairness", workers=opts.workers, ifs_config=IfsConfig(budget_per_min=1_000_000))
    servers: list[Any] = []
    sims: list[Any] = []
    watch: IfsWatch | None = None
    try:
        fleet.start_services()
        big_tenant = fleet.tenant(f"fair-big-{fleet.stamp}")
        big_source = fleet.woo_source(big_tenant, fleet.sandbox.urls["woocommerce"], prefix="WB")
        fleet.sandbox.woo.seed(customers=max(1, opts.backlog // 5), orders=opts.backlog,
                               seed=42, guest_ratio=0.2, silent=True)
        small_sources = []
        for n in range(opts.small):
            sim = WooSimulator()
            server = ServerThread(sim.app).start()
            sims.append(sim)
            servers.append(server)
            tid = fleet.tenant(f"fair-s{n}-{fleet.stamp}")
            small_sources.append(fleet.woo_source(tid, server.url, prefix=f"WS{n}"))
        fleet.start_processes()
        watch = IfsWatch(fleet.sandbox.ifs, every=0.05)
        watch.start()

        def pos_of(numbers: list[list[str]]) -> list[list[str]]:
            return [[f"WS{n}-{num}" for num in nums] for n, nums in enumerate(numbers)]

        now = datetime.now(UTC)
        # warm-up: one order per small tenant, so cursors and connections exist in both phases
        warm = pos_of(seed_small(sims, 1, now - timedelta(days=2), 0))
        request(small_sources)
        wait_seen(fleet, watch, {p for pos in warm for p in pos}, 120)

        say(f"fairness: {opts.small} small tenants x {opts.orders} orders, alone")
        alone_pos = pos_of(seed_small(sims, opts.orders, now - timedelta(days=1), 1))
        started = request(small_sources)
        wait_seen(fleet, watch, {p for pos in alone_pos for p in pos}, opts.timeout)
        alone = phase_result(started, watch, alone_pos)

        say(f"fairness: big tenant's backlog of {opts.backlog} orders, then the small tenants")
        big_started = request([big_source])
        deadline = time.time() + opts.timeout
        # the whole backlog staged (the fetch is done) and loading: then the small tenants
        while staged_orders(big_tenant) < opts.backlog or big_done(watch, "WB-") < 1:
            fleet.check_alive()
            if time.time() > deadline:
                raise BenchError("the big tenant's backlog is not staged and loading; see "
                                 f"{fleet.worker_log}")
            time.sleep(0.5)
        head = big_done(watch, "WB-")
        beside_pos = pos_of(seed_small(sims, opts.orders, datetime.now(UTC), 2))
        started = request(small_sources)
        backlog_at_start = pending(big_tenant)
        wait_seen(fleet, watch, {p for pos in beside_pos for p in pos}, opts.timeout)
        beside = phase_result(started, watch, beside_pos)
        backlog_at_end = pending(big_tenant)
        delays = [round(b - a, 2) for a, b in zip(alone["time_to_last_order_s"],
                                                  beside["time_to_last_order_s"], strict=True)]
        interval = env_dispatch_interval()
        return {"benchmark": "fairness across tenants (sandbox)", "machine": fleet.facts,
                "workers": opts.workers, "small_tenants": opts.small,
                "orders_per_small_tenant": opts.orders, "backlog": opts.backlog,
                "dispatch_interval_s": interval, "alone": alone, "beside_backlog": beside,
                "big_orders_in_ifs_at_start": head,
                "records_per_s_beside": round(
                    (backlog_at_start - backlog_at_end + opts.small * opts.orders)
                    / max(beside["max_tenant_s"], 0.1), 1),
                "load_inflight_per_tenant": fleet.settings.load_inflight_per_tenant,
                "big_pending_at_start": backlog_at_start, "big_pending_at_end": backlog_at_end,
                "big_running_s": round(time.time() - big_started, 1),
                "delay_s": delays, "median_delay_s": round(statistics.median(delays), 2),
                "max_delay_s": max(delays),
                "target_delay_s": 2 * interval}
    finally:
        if watch is not None:
            watch.stop()
        fleet.stop()
        for server in servers:
            server.stop()
        for sim in sims:
            close = getattr(sim, "close", None)
            if close is not None:
                close()


def staged_orders(tenant_id: int) -> int:
    from sqlalchemy import func, select

    from connector.db import session_scope
    from connector.models import StagedRecord

    with session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(StagedRecord).where(
            StagedRecord.tenant_id == tenant_id, StagedRecord.entity == "order")) or 0)


def pending(tenant_id: int) -> int:
    from sqlalchemy import func, select

    from connector.db import session_scope
    from connector.models import PENDING, StagedRecord

    with session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(StagedRecord).where(
            StagedRecord.tenant_id == tenant_id, StagedRecord.state == PENDING)) or 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--backlog", type=int, default=2000, help="the big tenant's orders")
    parser.add_argument("--small", type=int, default=9, help="small tenants")
    parser.add_argument("--orders", type=int, default=20, help="new orders per small tenant")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "fairness.json")
    return run_stage(run, parser.parse_args(argv), lambda result: (
        f"fairness: median delay {result['median_delay_s']} s, max {result['max_delay_s']} s "
        f"(target <= {result['target_delay_s']} s)"))


if __name__ == "__main__":
    sys.exit(main())
