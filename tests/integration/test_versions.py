"""Versions order by what happened (issue 13, seen 8): a WooCommerce customer changed twice
within one second has two versions ``stamp#hash`` with the same stamp; the later one we saw must
win in IFS, whichever hash sorts first. Both orders are staged, each in both ways the pipeline
meets them (the first already loaded, or both waiting)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import select

from connector.db import session_scope
from connector.models import StagedRecord, Tenant
from connector.pipeline import records
from connector.stores.woocommerce.flow import customer_version
from tests.integration.harness import add_woo_source, make_tenant, settled, wait_until

pytestmark = pytest.mark.integration


def _versions(customer: dict[str, Any], first: str, second: str,
              hash_order: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two same-second versions of ``customer`` named ``first`` then ``second`` (a suffix is
    added until their hashes sort as ``hash_order`` says: "ascending" or "descending")."""
    for n in range(200):
        a, b = copy.deepcopy(customer), copy.deepcopy(customer)
        a["first_name"], b["first_name"] = first, f"{second}{'.' * n}"
        if (customer_version(a) < customer_version(b)) == (hash_order == "ascending"):
            return a, b
    raise AssertionError("no such pair")


def _stage(tenant: int, source: int, payload: dict[str, Any]) -> int:
    with session_scope() as s:
        (staged_id,) = records.stage(s, tenant_id=tenant, source_id=source, origin="poll",
                                     records=[records.Incoming("customer", str(payload["id"]),
                                                               customer_version(payload),
                                                               payload)])
        return staged_id


def _state(staged_id: int) -> str:
    with session_scope() as s:
        row = s.get(StagedRecord, staged_id)
        assert row is not None
        return row.state


@pytest.mark.parametrize("hash_order", ["ascending", "descending"])
@pytest.mark.parametrize("first_loaded", [True, False])
def test_the_later_of_two_same_second_versions_wins(pipeline: dict[str, Any], hash_order: str,
                                                    first_loaded: bool) -> None:
    ifs, woo = pipeline["ifs"], pipeline["woo"]
    woo.seed(customers=1, orders=0, seed=3, silent=True)
    customer = woo.customers()[0]
    tenant = make_tenant(pipeline["ifs_url"])
    source = add_woo_source(tenant, pipeline["woo_url"], interval=3600)
    older, newer = _versions(customer, "Renamed", "Renamed again", hash_order)
    assert older["date_modified_gmt"] == newer["date_modified_gmt"]
    first = _stage(tenant, source, older)
    if first_loaded:
        wait_until(lambda: _state(first) == "done" or None, 60, what="the first version")
    second = _stage(tenant, source, newer)
    wait_until(lambda: settled(tenant), 60, what="the pipeline to settle")
    assert _state(second) == "done"
    assert _state(first) in ("done", "superseded")
    (ours,) = [c for c in ifs.customers() if c["CustomerId"] == f"W{source}-{customer['id']}"]
    assert ours["Name"].startswith("Renamed again")
    with session_scope() as s:
        tenant_row = s.get(Tenant, tenant)
        assert tenant_row is not None
        latest = s.scalar(select(StagedRecord.id).where(StagedRecord.source_id == source)
                          .order_by(*records.newest_first()).limit(1))
    assert latest == second
