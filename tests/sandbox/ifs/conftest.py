"""Fixtures of the IFS Cloud simulator tests: one server for the package, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from sandbox.common import ServerThread
from sandbox.ifs import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, IfsConfig, IfsSimulator
from tests.sandbox.ifs.support import OTHER_ID, OTHER_SECRET, Ifs


@pytest.fixture(scope="package")
def server() -> Iterator[tuple[IfsSimulator, ServerThread]]:
    config = IfsConfig(
        clients={
            DEFAULT_CLIENT_ID: {"secret": DEFAULT_CLIENT_SECRET, "companies": ["10", "20"]},
            OTHER_ID: {"secret": OTHER_SECRET, "companies": ["20"]},
        }
    )
    sim = IfsSimulator(config)
    srv = ServerThread(sim.app).start()
    yield sim, srv
    srv.stop()


@pytest.fixture
def ifs(server: tuple[IfsSimulator, ServerThread]) -> Ifs:
    sim, srv = server
    assert requests.post(srv.url + "/_sandbox/reset", timeout=10).status_code == 200
    return Ifs(sim, srv.url)
