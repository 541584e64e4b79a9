"""Integration fixtures: the sandbox in-process over real HTTP, a real Celery worker and beat
as subprocesses, all against the session's real Postgres and Redis."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sandbox.common import ServerThread
from tests.integration.harness import FLEET, Beat, Worker

# Fast ticks for tests: beat dispatches every second, the sweeper reclaims after 6 s.
os.environ["MLC_DISPATCH_INTERVAL_S"] = "1"
os.environ["MLC_SWEEP_AFTER_S"] = "6"
os.environ["MLC_RETRY_BACKOFF_MAX_S"] = "3"
# A killed worker's fetch frees its stream after 10 s (not the production minute).
os.environ["MLC_FETCH_LEASE_S"] = "10"


@pytest.fixture(scope="session")
def ifs_sim() -> Iterator[tuple[object, str]]:
    from sandbox.ifs import IfsConfig, IfsSimulator

    sim = IfsSimulator(IfsConfig(budget_per_min=60_000))
    server = ServerThread(sim.app).start()
    yield sim, server.url
    server.stop()


@pytest.fixture(scope="session")
def woo_sim() -> Iterator[tuple[object, str]]:
    from sandbox.woocommerce import WooSimulator

    sim = WooSimulator()
    server = ServerThread(sim.app).start()
    yield sim, server.url
    server.stop()


@pytest.fixture(scope="session")
def pipeline_processes(services: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[Worker, Beat]]:
    from connector.config import Settings, set_settings

    set_settings(Settings.from_env())  # pick up the fast-tick variables above
    folder: Path = tmp_path_factory.mktemp("celery")
    worker = Worker(concurrency=4, log_path=folder / "worker.log").start()
    beat = Beat(folder).start()
    FLEET[:] = [worker, beat]
    yield worker, beat
    FLEET.clear()
    beat.stop()
    worker.stop()


@pytest.fixture
def sandbox(ifs_sim: tuple[object, str],
            woo_sim: tuple[object, str]) -> Iterator[dict[str, object]]:
    """Both simulators, reset before the test."""
    for _, url in (ifs_sim, woo_sim):
        requests.post(f"{url}/_sandbox/reset", timeout=10).raise_for_status()
    yield {"ifs": ifs_sim[0], "ifs_url": ifs_sim[1], "woo": woo_sim[0], "woo_url": woo_sim[1]}


@pytest.fixture
def pipeline(clean_db: None, sandbox: dict[str, object],
             pipeline_processes: tuple[Worker, Beat]) -> dict[str, object]:
    return {**sandbox, "worker": pipeline_processes[0]}
