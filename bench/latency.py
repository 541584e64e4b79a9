"""Webhook latency: BigCommerce webhook received -> IFS order created, real ``web`` + workers.

    .venv/bin/python bench/latency.py [--rates 5:20,10:20,20:40] [--workers 4] [--out PATH]

The BigCommerce simulator creates orders at a steady rate (``RATE:SECONDS``, one stage after
the other, each drained before the next) and delivers its own signed ``store/order/created``
webhooks over real HTTP to a real ``ml-connector web`` (gunicorn); real workers fetch each order
by id and load it into the IFS simulator. Per order:

- *received*: when the simulator started the first webhook POST of the order that reached the
  web process (its delivery log: end of the attempt minus its duration; an attempt that timed
  out on the simulator's side counts, as the web process may have accepted it);
- *in IFS*: when the order first appeared in the IFS simulator's order table (watched every
  10 ms by a thread of this process; the resolution is the watch interval);
- latency = in IFS - received (also from ``create_order`` to in IFS, which adds the simulator's
  own delivery queue).

Also the BigCommerce store requests per webhook-driven order, from the simulator's request log
(everything the connector asked the store during the stage, divided by the orders). The store
quota is raised (100 000 per window) so the pipeline is measured, not the plan's rate limit;
the report derives the Standard plan's intake cap from the requests per order.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet import (
    ROOT,
    BenchError,
    Fleet,
    IfsWatch,
    percentiles,
    run_stage,
    say,
)

LINES = [{"sku": "SKU-0101", "name": "Linen apron", "quantity": 2, "price": "12.50"},
         {"sku": "SKU-0102", "name": "Oak board", "quantity": 1, "price": "7.00"}]
STANDARD_PLAN = (150, 30)  # requests per window, window seconds (reference/bigcommerce.md §6)


def store_request_kind(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    # /stores/<hash>/v2/orders/<id>/products -> v2 orders/{id}/products
    if "v2" in parts:
        parts = parts[parts.index("v2"):]
    elif "v3" in parts:
        parts = parts[parts.index("v3"):]
    return "/".join("{id}" if p.isdigit() else p for p in parts)


def run_rate(fleet: Fleet, source_id: int, rate: float, seconds: float,
             watch: IfsWatch, drain_timeout: float) -> dict[str, Any]:
    bc = fleet.sandbox.bc
    with bc.state.lock:
        bc.state.requests.clear()
    bc.webhooks.clear_deliveries()
    total = max(1, round(rate * seconds))
    say(f"latency: {total} orders at {rate}/s")
    created: dict[int, float] = {}
    started = time.time()
    for i in range(total):
        due = started + i / rate
        pause = due - time.time()
        if pause > 0:
            time.sleep(pause)
        order = bc.create_order(lines=LINES, currency_code="EUR", default_currency_code="EUR")
        created[int(order["id"])] = time.time()
    send_s = time.time() - started
    deadline = time.time() + drain_timeout
    missing = set(created)
    while missing and time.time() < deadline:
        fleet.check_alive()
        found = {po_order_id(po) for po in list(watch.seen)}
        missing -= found
        time.sleep(0.2)
    drained_s = time.time() - started
    received: dict[int, float] = {}
    for d in bc.webhooks.deliveries():
        # the first attempt that reached the web process (a timed-out attempt may have been
        # accepted; its retry comes much later)
        if d["outcome"] not in ("success", "failed") or d["duration_ms"] is None \
                or not d["scope"].startswith("store/order/created"):
            continue
        oid = int(json.loads(d["body"])["data"]["id"])
        start = float(d["at"]) - float(d["duration_ms"] or 0) / 1000
        received[oid] = min(received.get(oid, start), start)
    in_ifs = {po_order_id(po): t for po, t in watch.seen.items()}
    lat = [in_ifs[o] - received[o] for o in created if o in in_ifs and o in received]
    lat_created = [in_ifs[o] - created[o] for o in created if o in in_ifs]
    with bc.state.lock:
        store_requests = list(bc.state.requests)
    kinds = Counter(f"{r['method']} {store_request_kind(r['path'])}" for r in store_requests
                    if "/hooks" not in r["path"])
    delivered = bc.webhooks.deliveries()
    return {"rate": rate, "orders": total, "send_s": round(send_s, 1),
            "drained_s": round(drained_s, 1), "in_ifs": len(lat_created),
            "missing": len(missing),
            "webhooks": dict(Counter(f"{d['scope']} {d['outcome']}" for d in delivered)),
            "webhook_post_ms": percentiles([float(d["duration_ms"] or 0) for d in delivered
                                            if d["duration_ms"] is not None]),
            "latency_s": percentiles(lat),
            "latency_from_create_s": percentiles(lat_created),
            "orders_per_s_in_ifs": round(len(lat_created) / drained_s, 1) if drained_s else None,
            "store_requests": sum(kinds.values()),
            "store_requests_per_order": round(sum(kinds.values()) / total, 2),
            "store_requests_by_kind": dict(kinds.most_common())}


def po_order_id(po: str) -> int:
    try:
        return int(po.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return -1


def run(opts: argparse.Namespace) -> dict[str, Any]:
    from sandbox.bigcommerce import BcConfig
    from sandbox.ifs import IfsConfig

    fleet = Fleet("latency", workers=opts.workers, web=True,
                  ifs_config=IfsConfig(budget_per_min=1_000_000),
                  bc_config=BcConfig(quota=100_000))
    watch: IfsWatch | None = None
    try:
        fleet.start_services()
        tenant = f"lat-{fleet.stamp}"
        tenant_id = fleet.tenant(tenant, settings={"bc_customer_policy": "create",
                                                   "bc_order_labels": {}})
        source_id = fleet.bc_source(tenant_id)
        fleet.start_processes()
        from connector.stores.bigcommerce.hooks import sync_hooks

        sync_hooks(source_id, f"{fleet.web_url}/webhooks/bc/{tenant}/bc")
        watch = IfsWatch(fleet.sandbox.ifs)
        watch.start()
        # one order end to end first: imports, connections and the IFS token are warm
        warm = run_rate(fleet, source_id, 1, 1, watch, 120)
        if warm["missing"]:
            raise BenchError(f"the warm-up order never reached IFS; see {fleet.logs}")
        stages = []
        for rate, seconds in opts.rates:
            fleet.memory.start_cpu()
            cpu0 = fleet.cpu_snapshot()
            stage = run_rate(fleet, source_id, rate, seconds, watch, opts.drain_timeout)
            cpu1 = fleet.cpu_snapshot()
            fleet.memory.sample()
            stage["cpu_s"] = {"workers": fleet.memory.report()["cpu_s"],
                              **{k: round(cpu1[k] - cpu0[k], 1) for k in cpu0},
                              "available": round(stage["drained_s"] * fleet.facts["nproc"], 1)}
            lat = stage["latency_s"]
            say(f"  {rate}/s: p50 {lat['p50']} s, p95 {lat['p95']} s, p99 {lat['p99']} s, "
                f"max {lat['max']} s; {stage['store_requests_per_order']} store requests per "
                f"order; {stage['missing']} missing")
            stages.append(stage)
            time.sleep(1)
        return {"benchmark": "webhook latency, BigCommerce -> IFS (sandbox)",
                "machine": fleet.facts, "workers": opts.workers, "web_workers": 2,
                "stages": stages, "standard_plan": {"requests": STANDARD_PLAN[0],
                                                    "window_s": STANDARD_PLAN[1]}}
    finally:
        if watch is not None:
            watch.stop()
        fleet.stop()


def parse_rates(text: str) -> list[tuple[float, float]]:
    out = []
    for part in text.split(","):
        rate, _, seconds = part.partition(":")
        out.append((float(rate), float(seconds or 20)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rates", type=parse_rates, default=parse_rates("5:20,10:20,20:40"),
                        help="RATE:SECONDS,... events per second and for how long")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--drain-timeout", type=float, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latency.json")
    return run_stage(run, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
