"""WooCommerce clients share each shop's capacity as one fleet (issue 10, "one fetch per stream,
ever": each store client reads its rate-limit headers before sending and waits through the
fleet limiter). Real workers (two worker processes, six pool processes) and beat fetch from
WooCommerce simulators whose hosting enforces a request limit; the simulators' request logs
are the independent count."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from connector.db import session_scope
from connector.models import StagedRecord
from sandbox.common import ServerThread
from tests.integration.harness import Worker, add_woo_source, make_tenant, states, wait_until

pytestmark = pytest.mark.integration

API = "/wp-json/"
#: A request is counted by the shop a little after the fleet budget granted it (network, the
#: server's own work); the budget is strict on Redis time, the shop counts arrivals.
SKEW_S = 2.0
#: Requests other workers had already been granted when one of them got the 429 are still in
#: flight, and on a busy machine arrive seconds after the refusal: not a breach of the hold. A
#: fleet that ignores the hold polls every second through the whole Retry-After. (At most
#: half the hint: a short hint still leaves a stretch that must be quiet.)
IN_FLIGHT_S = 5.0


def _busiest(stamps: list[float], width: float) -> int:
    stamps = sorted(stamps)
    best, lo = 0, 0
    for hi, t in enumerate(stamps):
        while stamps[lo] <= t - width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _api_calls(sim: Any) -> list[dict[str, Any]]:
    with sim.state.lock:
        return [dict(e) for e in sim.state.requests if e["path"].startswith(API)]


def _host_limit(url: str, **config: Any) -> None:
    requests.post(f"{url}/_sandbox/woo/config", json=config, timeout=10).raise_for_status()


@pytest.fixture
def second_shop(pipeline: dict[str, Any]) -> Iterator[tuple[Any, str]]:
    from sandbox.woocommerce import WooSimulator

    sim = WooSimulator()
    server = ServerThread(sim.app).start()
    try:
        yield sim, server.url
    finally:
        server.stop()
        sim.close()


@pytest.fixture(scope="module")
def more_workers(pipeline_processes: Any, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[Worker]:
    """A second worker process beside the session's: the budget is shared across processes."""
    log = tmp_path_factory.mktemp("pacing") / "worker-2.log"
    worker = Worker(concurrency=2, log_path=log, name="pacing2").start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def no_host_limit(pipeline: dict[str, Any]) -> Iterator[None]:
    yield
    # The session's simulator keeps its config across resets: switch the limit off again.
    _host_limit(pipeline["woo_url"], rate_limit_per_window=0, rate_limit_window_s=60.0)


def _staged_orders(source: int) -> int:
    with session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(StagedRecord).where(
            StagedRecord.source_id == source, StagedRecord.entity == "order")) or 0)


def test_the_fleet_never_sends_a_shop_more_than_its_budget_in_any_minute(
        pipeline: dict[str, Any], second_shop: tuple[Any, str], more_workers: Worker,
        no_host_limit: None) -> None:
    budget, host = 30, 40  # the source's budget below what the shop's host allows
    shops = [(pipeline["woo"], pipeline["woo_url"]), second_shop]
    pipeline["ifs"].seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    tenant = make_tenant(pipeline["ifs_url"])
    sources = []
    for n, (sim, url) in enumerate(shops):
        _host_limit(url, rate_limit_per_window=host, rate_limit_window_s=60.0)
        sim.seed(customers=20, orders=30, seed=11 + n, silent=True)
        # Polled every second: the fleet wants far more than 30 requests a minute.
        sources.append(add_woo_source(tenant, url, name=f"shop-{n}", interval=1,
                                      settings={"request_budget_per_min": budget}))
    # More than a budget's worth of requests per shop: the run spans more than one window.
    wait_until(lambda: all(len(_api_calls(sim)) > budget + 10 for sim, _ in shops), 300,
               interval=1, what="the fleet to send each shop more than one window's budget")
    wait_until(lambda: all(_staged_orders(s) == 30 for s in sources), 300, interval=1,
               what="every order of both shops to be staged")
    wait_until(lambda: states(tenant).get("done", 0) >= 60 and not states(tenant).get("pending"),
               300, interval=1, what="the orders to reach IFS")
    for sim, _ in shops:
        calls = _api_calls(sim)
        assert [c for c in calls if c["status"] == 429] == [], "the fleet caused a 429"
        assert len(calls) > budget + 10
        assert _busiest([c["at"] for c in calls], 60.0 - SKEW_S) <= budget


def test_a_hosts_retry_after_holds_the_whole_fleet(
        pipeline: dict[str, Any], more_workers: Worker, no_host_limit: None) -> None:
    woo, url = pipeline["woo"], pipeline["woo_url"]
    pipeline["ifs"].seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    # The source's budget (the default, 600/min) is above what this host allows: 10 per 20 s,
    # refused requests counted, so a client that comes back early stays locked out.
    _host_limit(url, rate_limit_per_window=10, rate_limit_window_s=20.0)
    woo.seed(customers=30, orders=40, seed=5, silent=True)
    tenant = make_tenant(pipeline["ifs_url"])
    add_woo_source(tenant, url, interval=1)

    def refusals() -> list[dict[str, Any]]:
        return [c for c in _api_calls(woo) if c["status"] == 429]

    wait_until(lambda: len(refusals()) >= 3 and len(_api_calls(woo)) >= 40, 300, interval=1,
               what="the host to refuse requests three times")
    calls = _api_calls(woo)
    held = 0
    for refusal in refusals():
        wait = float(refusal["retry_after"])
        start = refusal["at"] + min(IN_FLIGHT_S, wait / 2)
        end = refusal["at"] + wait - SKEW_S / 2
        if end <= start:
            continue
        held += 1
        early = [c for c in calls if start < c["at"] < end]
        assert early == [], f"sent within the host's Retry-After of {wait:.0f}s"
    assert held >= 2
