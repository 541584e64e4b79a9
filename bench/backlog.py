"""Memory and cost per record at a large staged backlog (issue 14: 10 000 vs 100 000).

    .venv/bin/python bench/backlog.py [--sizes 10000,100000] [--slice 2000] [--out PATH]

Fetching 100 000 orders through the store and draining them all would take hours on 2 cores,
and what the target asks is whether a *record* costs more when the backlog is bigger. So per
size:

1. stage ``size`` pending orders in one transaction: the first ``--slice`` through the
   pipeline's own staging path (``connector.stores.woocommerce.flow.order_incoming`` +
   ``connector.pipeline.records.stage``, exactly what a poll stages) from the WooCommerce
   simulator's own API renderings of guest orders; the rest of the backlog behind them as
   copies of those staged rows made by one ``INSERT … SELECT`` (new external id, payload id
   and number, content hash; the same columns ``stage`` writes; seconds instead of minutes);
2. ``ANALYZE`` and ``CHECKPOINT`` (so neither the statistics nor the WAL of the bulk insert is
   paid for during the drain), then start fresh worker (4 processes) and beat processes;
3. measure the drain of the first ``--slice`` records (those are claimed first: oldest id
   first): wall time, worker CPU, embedded Postgres CPU, Postgres tuples read
   (``pg_stat_database`` ``tup_returned + tup_fetched``), worker peak RSS, Redis
   ``used_memory`` (peak of 1 s samples) and the Redis keys; then stop the processes and delete
   the tenant.

Costs are divided by the records loaded in the window (IFS orders created), and each size gets
its own tenant, id prefix and processes, so the two are comparable.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet import (
    ROOT,
    BenchError,
    Fleet,
    delete_tenant,
    pg_stats,
    redis_memory_mb,
    run_stage,
    say,
)

FILLER = """
INSERT INTO staged_records (tenant_id, source_id, entity, external_id, version, payload,
                            content_hash, origin, state)
SELECT t.tenant_id, t.source_id, t.entity, (:base + g)::text, t.version, p.payload,
       encode(sha256(convert_to(p.payload::text, 'UTF8')), 'hex'), t.origin, t.state
FROM generate_series(1, :n) AS g
JOIN staged_records AS t ON t.id = :first + ((g - 1) % :slice)
CROSS JOIN LATERAL (SELECT jsonb_set(jsonb_set(t.payload, '{id}', to_jsonb(:base + g)),
                                     '{number}', to_jsonb((:base + g)::text)) AS payload) AS p
ORDER BY g
"""


def stage_backlog(tenant_id: int, source_id: int, templates: list[dict[str, Any]],
                  size: int) -> float:
    """The slice through the pipeline's staging function, then the rest of the backlog as
    copies of the slice's staged rows made in SQL (new external id, payload id and number, and
    content hash; the same columns ``records.stage`` writes), in one transaction."""
    from sqlalchemy import text

    from connector.db import get_engine, session_scope
    from connector.pipeline.records import stage
    from connector.stores.woocommerce.flow import order_incoming

    started = time.time()
    with session_scope() as s:
        ids: list[int] = []
        for i in range(0, len(templates), 1000):
            ids += stage(s, tenant_id=tenant_id, source_id=source_id, origin="poll",
                         records=[order_incoming(o) for o in templates[i:i + 1000]])
        if len(ids) != len(templates) or ids != list(range(ids[0], ids[0] + len(ids))):
            raise BenchError("the slice was not staged as consecutive new rows")
        if size > len(templates):
            base = max(int(t["id"]) for t in templates)
            s.execute(text(FILLER), {"base": base, "n": size - len(templates),
                                     "first": ids[0], "slice": len(templates)})
    with get_engine().connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("ANALYZE staged_records"))
        try:
            conn.execute(text("CHECKPOINT"))
        except Exception as exc:  # not a superuser on an external server: say so, go on
            say(f"CHECKPOINT refused ({type(exc).__name__}); the drain may pay for it")
    return round(time.time() - started, 1)


def redis_keys() -> int:
    from connector.handles import get_redis

    return int(get_redis().dbsize())


def measure(fleet: Fleet, size: int, templates: list[dict[str, Any]], slice_: int,
            timeout: float) -> dict[str, Any]:
    ifs = fleet.sandbox.ifs
    name = f"backlog-{size}-{fleet.stamp}"
    tenant_id = fleet.tenant(name)
    source_id = fleet.woo_source(tenant_id, fleet.sandbox.urls["woocommerce"],
                                 prefix=f"W{size // 1000}K")
    say(f"backlog {size}: staging")
    staging_s = stage_backlog(tenant_id, source_id, templates, size)
    say(f"backlog {size}: staged in {staging_s} s; starting the fleet")
    fleet.start_processes()
    try:
        redis0 = redis_memory_mb()
        keys0 = redis_keys()
        orders0 = ifs.counts()["orders"]
        fleet.memory.start_cpu()
        cpu0 = fleet.cpu_snapshot()
        pg0 = pg_stats()
        started = time.time()
        redis_peak, keys_peak = redis0, keys0
        deadline = started + timeout
        while ifs.counts()["orders"] - orders0 < slice_:
            fleet.check_alive()
            if time.time() > deadline:
                raise BenchError(f"backlog {size}: the slice did not drain in {timeout:.0f} s; "
                                 f"see {fleet.worker_log}")
            fleet.memory.sample()
            redis_peak = max(redis_peak, redis_memory_mb())
            keys_peak = max(keys_peak, redis_keys())
            time.sleep(1.0)
        wall = time.time() - started
        pg1 = pg_stats()
        cpu1 = fleet.cpu_snapshot()
        fleet.memory.sample()
        loaded = ifs.counts()["orders"] - orders0
        mem = fleet.memory.report()
    finally:
        fleet.stop_processes()
    tuples = (pg1["tup_returned"] - pg0["tup_returned"]) + (pg1["tup_fetched"]
                                                            - pg0["tup_fetched"])
    pg_cpu = cpu1["postgres"] - cpu0["postgres"]
    say(f"backlog {size}: deleting the tenant")
    delete_tenant(name)
    fleet.tenants.remove(name)
    result = {"size": size, "slice": slice_, "loaded": loaded, "staging_s": staging_s,
              "wall_s": round(wall, 1), "records_per_s": round(loaded / wall, 1),
              "worker_peak_rss_mb": mem["peak_rss_mb"],
              "worker_child_peak_rss_mb": mem["child_peak_rss_mb"],
              "redis_used_mb_at_start": redis0, "redis_used_mb_peak": redis_peak,
              "redis_keys_at_start": keys0, "redis_keys_peak": keys_peak,
              "pg_tuples_per_record": round(tuples / loaded, 1),
              "pg_commits_per_record": round((pg1["xact_commit"] - pg0["xact_commit"])
                                             / loaded, 1),
              "pg_blocks_read": pg1["blks_read"] - pg0["blks_read"],
              "pg_cpu_ms_per_record": round(1000 * pg_cpu / loaded, 1),
              "worker_cpu_ms_per_record": round(1000 * mem["cpu_s"] / loaded, 1),
              "machine_busy_s": round(cpu1["machine"] - cpu0["machine"], 1),
              "available_s": round(wall * fleet.facts["nproc"], 1)}
    say(f"backlog {size}: {result['records_per_s']} records/s, worker RSS "
        f"{result['worker_peak_rss_mb']} MB, Redis peak {redis_peak} MB, "
        f"{result['pg_tuples_per_record']} tuples and {result['pg_cpu_ms_per_record']} ms of "
        f"Postgres per record, {result['worker_cpu_ms_per_record']} ms of worker CPU")
    return result


def run(opts: argparse.Namespace) -> dict[str, Any]:
    from sandbox.ifs import IfsConfig

    fleet = Fleet("backlog", workers=opts.workers,
                  ifs_config=IfsConfig(budget_per_min=1_000_000))
    try:
        fleet.start_services()
        fleet.sandbox.woo.seed(customers=0, orders=opts.slice, seed=7, guest_ratio=1.0,
                               silent=True)
        templates = fleet.sandbox.woo.orders()
        sizes = [measure(fleet, size, templates, opts.slice, opts.timeout)
                 for size in opts.sizes]
        return {"benchmark": "cost per record at a staged backlog (sandbox)",
                "machine": fleet.facts, "workers": opts.workers, "sizes": sizes}
    finally:
        fleet.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--sizes", type=lambda t: [int(x) for x in t.split(",")],
                        default=[10_000, 100_000])
    parser.add_argument("--slice", type=int, default=2000, help="records drained per size")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "backlog.json")
    return run_stage(run, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
