"""BigCommerce history reads for ``backfill``: windows over the simulator cover every order
modified in the range exactly once, resuming from the stored position."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connector.stores.bigcommerce.history import read_history
from tests.integration.bigcommerce_harness import (  # noqa: F401 - fixtures
    add_bc_source,
    bc_sim_fixture,
    make_bc_tenant,
)

pytestmark = pytest.mark.integration


def test_windows_cover_the_range_once_and_resume(clean_db: None,
                                                 bc_sim: tuple[Any, str]) -> None:
    sim, url = bc_sim
    sim.reset()
    sim.seed(customers=3, orders=9, seed=4)
    expected = {o.id for o in sim.store.orders.values()}  # none Incomplete (no ratio given)
    tenant = make_bc_tenant("http://127.0.0.1:9")
    source_id = add_bc_source(tenant, url)
    since = datetime(2000, 1, 1, tzinfo=UTC)
    until = datetime.now(UTC) + timedelta(days=1)
    position: dict[str, Any] = {}
    seen: list[str] = []
    windows = 0
    while True:
        window = read_history(source_id, position, since=since, until=until, max_rows=4)
        windows += 1
        seen += [r.external_id for r in window.records if r.entity == "order"]
        position = window.position
        if window.done:
            break
        assert window.read == 4
    assert windows >= 3
    assert len(seen) == len(set(seen)) == 9  # each order once
    assert {int(x) for x in seen} == expected
    # A window ending in the past reads nothing after it.
    early = read_history(source_id, {}, since=since, until=since + timedelta(days=1),
                         max_rows=50)
    assert early.done and early.read == 0
