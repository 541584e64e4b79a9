"""Reconciliation as a good citizen (issue 10, seen 3): it waits out the store's 429 with the
server's hint instead of dying, and one source that cannot be read is reported while the
others are reconciled. In-process against the simulators over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from click.testing import CliRunner

from connector.cli import cli
from connector.operations.reconcile import reconcile, render
from tests.integration.bigcommerce_harness import add_bc_source, bc_sim_fixture, make_bc_tenant
from tests.integration.harness import add_woo_source

pytestmark = pytest.mark.integration
__all__ = ["bc_sim_fixture"]


@pytest.fixture
def tight_store(bc_sim: tuple[Any, str]) -> Any:
    sim, _ = bc_sim
    sim.reset()
    saved = {"quota": sim.config.quota, "window_ms": sim.config.window_ms}
    sim.configure(quota=25, window_ms=2000)  # ~3 store calls per order overrun this fast
    yield sim
    sim.configure(**saved)


def test_reconciliation_waits_out_the_store_429(clean_db: None, ifs_sim: Any,
                                                tight_store: Any, bc_sim: tuple[Any, str]
                                                ) -> None:
    tight_store.seed(customers=5, orders=30, seed=6)
    tenant = make_bc_tenant(ifs_sim[1])
    add_bc_source(tenant, bc_sim[1])
    # The store answers 429 now and then (the quota spent by its other apps): the
    # connector's reads run into it however carefully they read the headers.
    requests.post(f"{bc_sim[1]}/_sandbox/faults", timeout=10,
                  json={"rate_limit_ratio": 0.15, "retry_after_s": 1})
    try:
        result = reconcile("acme")
    finally:
        requests.delete(f"{bc_sim[1]}/_sandbox/faults", timeout=10)
    (report,) = result.sources
    assert report.error is None, report.error
    # Every order the store holds was read (archived ones are hidden by default, bc §2).
    assert report.store_orders == len([o for o in tight_store.store.orders.values()
                                       if o.status_id and not getattr(o, "archived", False)])
    throttled = [r for r in tight_store.state.requests if r["status"] == 429]
    assert throttled, "the quota never bit: the test proves nothing"


def test_one_unreadable_source_is_reported_the_others_reconciled(
        clean_db: None, ifs_sim: Any, bc_sim: tuple[Any, str]) -> None:
    sim, url = bc_sim
    sim.reset()
    sim.seed(customers=3, orders=5, seed=2)
    tenant = make_bc_tenant(ifs_sim[1])
    add_woo_source(tenant, "http://127.0.0.1:9", name="gone")  # nothing listens there
    add_bc_source(tenant, url)
    result = reconcile("acme", patience_s=20)
    by_name = {r.source: r for r in result.sources}
    assert by_name["gone"].error and by_name["bc"].error is None
    assert by_name["bc"].store_orders > 0
    text = render(result)
    assert "NOT RECONCILED" in text and "Sources not reconciled: gone" in text
    r = CliRunner().invoke(cli, ["reconcile", "--tenant", "acme"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "NOT RECONCILED" in r.output
