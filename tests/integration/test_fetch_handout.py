"""A fetch hands out each committed page of new rows at once (issue 14): loading starts while
the store is still being read, instead of after the whole run (before: the first of 600 orders
reached IFS only after the run had read all of them)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from connector.db import session_scope
from connector.models import StagedRecord
from connector.pipeline.fetch import run_fetch
from connector.stores.woocommerce.flow import BATCH
from tests.integration.harness import add_woo_source, make_tenant

pytestmark = pytest.mark.integration


def _staged(tenant: int) -> int:
    with session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(StagedRecord).where(
            StagedRecord.tenant_id == tenant, StagedRecord.entity == "order")) or 0)


def test_each_committed_page_is_handed_out_during_the_run(
        clean_db: None, sandbox: dict[str, Any]) -> None:
    woo = sandbox["woo"]
    woo.seed(customers=20, orders=2 * BATCH + 30, seed=8, guest_ratio=0.0, silent=True)
    tenant = make_tenant(sandbox["ifs_url"])
    source = add_woo_source(tenant, sandbox["woo_url"], interval=3600)
    seen: list[tuple[int, int]] = []

    def handed_out(tenant_id: int) -> None:
        seen.append((tenant_id, _staged(tenant)))  # read from another connection: committed

    result = run_fetch(source, "orders", on_staged=handed_out)

    assert result.staged >= 2 * BATCH + 30  # the orders, and buyers met in them
    assert seen == [(tenant, BATCH), (tenant, 2 * BATCH), (tenant, 2 * BATCH + 30)]
    # A run that stages nothing new hands nothing out.
    seen.clear()
    run_fetch(source, "orders", on_staged=handed_out)
    assert seen == []


def test_buyers_met_in_orders_are_read_a_page_at_a_time(
        clean_db: None, sandbox: dict[str, Any]) -> None:
    """The orders stream of a first sync meets buyers the customers stream has not staged yet:
    they are read with one ``include`` request per page of orders, not one request each (seen:
    60 single reads before the first order was staged, 3.5 s of a 10 s sync)."""
    import requests

    woo = sandbox["woo"]
    woo.seed(customers=40, orders=2 * BATCH + 30, seed=9, guest_ratio=0.0, silent=True)
    buyers = {o["customer_id"] for o in woo.orders() if o["customer_id"]}
    tenant = make_tenant(sandbox["ifs_url"])
    source = add_woo_source(tenant, sandbox["woo_url"], interval=3600)
    url = sandbox["woo_url"]
    requests.delete(f"{url}/_sandbox/requests", timeout=10).raise_for_status()

    run_fetch(source, "orders")

    log = requests.get(f"{url}/_sandbox/requests", timeout=10).json()["requests"]
    customer_reads = [r for r in log if "/wc/v3/customers" in r["path"]]
    assert customer_reads and all(r["path"].endswith("/customers") for r in customer_reads), \
        [r["path"] for r in customer_reads]
    assert len(customer_reads) <= 3  # one per page of orders at most
    with session_scope() as s:
        staged = set(s.scalars(select(StagedRecord.external_id).where(
            StagedRecord.tenant_id == tenant, StagedRecord.entity == "customer")).all())
    assert staged == {str(b) for b in buyers}
