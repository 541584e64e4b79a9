"""Fixtures of the BigCommerce simulator tests: one simulator and one webhook receiver for
the package, reset for each test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sandbox.bigcommerce.support import Receiver, Sim


@pytest.fixture(scope="package")
def shared_sim() -> Iterator[Sim]:
    s = Sim()
    yield s
    s.close()


@pytest.fixture(scope="package")
def shared_receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.stop()


@pytest.fixture
def bc(shared_sim: Sim) -> Sim:
    """The package's simulator, reset (data, config, hooks, faults, clock) for each test."""
    shared_sim.sim.reset()
    return shared_sim


@pytest.fixture
def receiver(shared_receiver: Receiver) -> Receiver:
    with shared_receiver.lock:
        shared_receiver.calls.clear()
    shared_receiver.respond = lambda n: 200
    return shared_receiver
