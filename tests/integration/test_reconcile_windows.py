"""Windowed reconciliation for large tenants (issue 10, "Reconciliation as a good citizen"):
a window compares only the orders created in it, reads them a chunk at a time from the store
and exactly those from IFS (never the whole order, line, charge or voucher set), and reports
the differences inside it and none outside. Real pipeline, simulators over real HTTP; what was
read is asserted from the simulators' request logs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from connector.cli import cli
from connector.db import session_scope
from connector.models import SyncCursor
from connector.operations.reconcile import reconcile
from connector.stores.reconciling import Window
from connector.stores.woocommerce.paging import parse_gmt
from tests.integration.bigcommerce_harness import add_bc_source, bc_sim_fixture, make_bc_tenant
from tests.integration.harness import add_woo_source, make_tenant, sync_and_settle

pytestmark = pytest.mark.integration
__all__ = ["bc_sim_fixture"]

CHUNK = 4


def _since(log: list[dict[str, Any]], mark: int) -> list[dict[str, Any]]:
    return [dict(r, args=parse_qs(r["query"])) for r in log[mark:]]


def _terms(request: dict[str, Any], field: str) -> list[str]:
    """The values of ``field eq '…'`` in a request's $filter."""
    text = request["args"].get("$filter", [""])[0]
    return [v.replace("''", "'") for v in re.findall(rf"\b{field} eq '((?:[^']|'')*)'", text)]


def _edit_ifs_line(ifs: Any, po: str) -> str:
    """An IFS user changes the price of the order's first line: a mismatch to the cent."""
    with ifs.state.lock:
        order_no = next(str(row.data["OrderNo"]) for _, row in ifs.store.rows("order")
                        if row.data.get("CustomerPoNo") == po)
        _, line = ifs.store.tables["line"].children_of((order_no,))[0]
        line.data["SaleUnitPrice"] = float(Decimal(str(line.data["SaleUnitPrice"])) + 1)
    return order_no


def test_a_window_reconciles_only_its_orders_a_chunk_at_a_time(pipeline: dict[str, Any]
                                                               ) -> None:
    woo, ifs = pipeline["woo"], pipeline["ifs"]
    ifs.seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    woo.seed(customers=6, orders=30, seed=11, guest_ratio=0.5, days=60)
    tenant = make_tenant(pipeline["ifs_url"])
    source = add_woo_source(tenant, pipeline["woo_url"])
    sync_and_settle(tenant, source, timeout=240)
    with session_scope() as s:  # no more polling: what the simulators log next is ours
        for cursor in s.scalars(select(SyncCursor).where(SyncCursor.source_id == source)):
            cursor.next_run_at = datetime.now(UTC) + timedelta(days=1)
    assert reconcile("acme").unexplained == 0

    orders = sorted(woo.orders(), key=lambda o: (o["date_created_gmt"], o["id"]))
    assert len(orders) == 30
    lo = parse_gmt(orders[8]["date_created_gmt"])
    hi = parse_gmt(orders[22]["date_created_gmt"])
    assert lo and hi and lo < hi
    inside = [o for o in orders if lo <= parse_gmt(o["date_created_gmt"]) < hi]  # type: ignore
    outside = [o for o in orders if o not in inside]
    assert len(inside) > 2 * CHUNK and len(outside) > 4
    prefix = next(iter(ifs.orders()))["CustomerPoNo"].rsplit("-", 1)[0]

    def po(order: dict[str, Any]) -> str:
        return f"{prefix}-{order['number']}"

    # Differences inside and outside the window: a price edited in IFS (mismatch) and an order
    # deleted in the store (its IFS order has no counterpart).
    _edit_ifs_line(ifs, po(inside[1]))
    _edit_ifs_line(ifs, po(outside[0]))
    for gone in (inside[3], outside[-1]):
        requests.delete(f"{pipeline['woo_url']}/_sandbox/woo/orders/{gone['id']}",
                        params={"force": "1"}, timeout=10).raise_for_status()
    in_store = [o for o in inside if o is not inside[3]]

    woo_mark, ifs_mark = len(woo.state.requests), len(ifs.state.requests)
    result = reconcile("acme", window=Window(lo, hi), chunk_size=CHUNK)
    (report,) = result.sources
    assert report.error is None, report.error
    # Inside the window: exactly the window's orders compared, both differences reported.
    assert report.store_orders == len(in_store)
    assert [m["store_id"] for m in report.mismatched] == [str(inside[1]["id"])]
    assert report.extra == [po(inside[3])]
    assert report.missing == []
    assert report.ifs_orders == len(in_store) + 1
    assert report.orders_exact == len(in_store) - 1
    assert result.unexplained == 2

    # The store was read a chunk per request, only the window's orders.
    # (the pipeline's own polls, on modified_after, run beside it: not counted)
    lists = [r for r in _since(woo.state.requests, woo_mark) if r["path"].endswith("/orders")
             and r["args"].get("orderby") == ["id"]]
    assert all(r["args"]["per_page"] == [str(CHUNK)] for r in lists)
    assert all("after" in r["args"] and "before" in r["args"] for r in lists)
    assert len(lists) == -(-len(in_store) // CHUNK) + (len(in_store) % CHUNK == 0)
    assert report.chunks == -(-len(in_store) // CHUNK) and report.largest_chunk == CHUNK
    # IFS was asked for exactly the window's orders, a chunk per request, and never for a
    # whole set: orders by PO number, lines and charges by order number.
    ifs_reads = [r for r in _since(ifs.state.requests, ifs_mark) if r["method"] == "GET"
                 and "Set" in r["path"]]
    by_po = [r for r in ifs_reads if r["path"].endswith("/CustomerOrderSet")
             and _terms(r, "CustomerPoNo")]
    asked = [t for r in by_po for t in _terms(r, "CustomerPoNo")]
    assert sorted(asked) == sorted([po(o) for o in in_store] + [po(inside[3])])
    assert all(len(_terms(r, "CustomerPoNo")) <= CHUNK for r in by_po)
    for entity_set in ("CustomerOrderLineSet", "CustomerOrderChargeSet"):
        reads = [r for r in ifs_reads if r["path"].endswith(f"/{entity_set}")]
        assert reads and all(0 < len(_terms(r, "OrderNo")) <= CHUNK for r in reads), reads
    scans = [r for r in ifs_reads if r["path"].endswith("/CustomerOrderSet")
             and not _terms(r, "CustomerPoNo")]
    assert len(scans) == 1 and "WantedDeliveryDate ge" in scans[0]["args"]["$filter"][0]
    assert "WantedDeliveryDate lt" in scans[0]["args"]["$filter"][0]

    # Everything: the differences outside the window are there too (they were real).
    whole = reconcile("acme", chunk_size=CHUNK).sources[0]
    assert sorted(m["store_id"] for m in whole.mismatched) == sorted(
        [str(inside[1]["id"]), str(outside[0]["id"])])
    assert whole.extra == sorted([po(inside[3]), po(outside[-1])])
    assert whole.store_orders == 28

    # The command: the same window, and a range split into windows printed one by one.
    runner = CliRunner()
    r = runner.invoke(cli, ["reconcile", "--tenant", "acme", "--since", lo.isoformat(),
                            "--until", hi.isoformat(), "--chunk", str(CHUNK), "--json"])
    assert r.exit_code == 1, r.output
    body = json.loads(r.output)
    assert body["unexplained"] == 2 and body["since"] == lo.isoformat()
    assert body["sources"][0]["store_orders"] == len(in_store)
    days = max(1, (hi - lo).days // 2 + 1)
    r = runner.invoke(cli, ["reconcile", "--tenant", "acme", "--since", lo.isoformat(),
                            "--until", hi.isoformat(), "--window-days", str(days)])
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    assert "[window 1/" in r.output and "windows reconciled" in r.output
    assert "read in " in r.output and "chunk(s)" in r.output
    assert "unexplained differences: 2" in r.output
    # Without a window: the orders created in the last 30 days (a large tenant's default).
    r = runner.invoke(cli, ["reconcile", "--tenant", "acme", "--json"])
    body = json.loads(r.output)
    since = datetime.fromisoformat(body["since"])
    assert body["until"] is None
    assert abs((datetime.now(UTC) - since) - timedelta(days=30)) < timedelta(minutes=10)
    recent = [o for o in orders if parse_gmt(o["date_created_gmt"]) >= since  # type: ignore
              and o["id"] not in (inside[3]["id"], outside[-1]["id"])]
    assert body["sources"][0]["store_orders"] == len(recent) > 0
    r = runner.invoke(cli, ["reconcile", "--tenant", "acme", "--all", "--since", "2020-01-01"])
    assert r.exit_code == 2 and "--all" in r.output


def test_bigcommerce_window_reads_vouchers_of_its_orders_only(
        clean_db: None, ifs_sim: Any, bc_sim: tuple[Any, str]) -> None:
    sim, url = bc_sim
    sim.reset()
    sim.seed(customers=4, orders=24, seed=5, days=30)
    tenant = make_bc_tenant(ifs_sim[1])
    add_bc_source(tenant, url)
    visible = sorted((o for o in sim.store.orders.values()
                      if o.status_id and not getattr(o, "is_deleted", False)),
                     key=lambda o: (o.date_created, o.id))
    lo = visible[5].date_created
    hi = visible[17].date_created
    inside = [o for o in visible if lo <= o.date_created < hi]
    assert len(inside) > CHUNK
    mark, ifs_mark = len(sim.state.requests), len(ifs_sim[0].state.requests)
    (report,) = reconcile("acme", window=Window(lo, hi), chunk_size=CHUNK).sources
    assert report.error is None, report.error
    # Nothing was synced: every order of the window is missing, none from outside it.
    assert report.store_orders == len(inside) and report.largest_chunk <= CHUNK
    missing_orders = {m for m in report.missing if " " not in m}
    assert missing_orders == {str(o.id) for o in inside}
    lists = [r for r in _since(sim.state.requests, mark) if r["path"].endswith("/v2/orders")]
    assert lists and all(r["args"]["limit"] == [str(CHUNK)] for r in lists)
    assert all("min_date_created" in r["args"] for r in lists)
    # Sub-resources of the window's orders only.
    touched = {int(r["path"].split("/orders/")[1].split("/")[0])
               for r in _since(sim.state.requests, mark) if "/orders/" in r["path"]}
    assert touched <= {o.id for o in inside}
    vouchers = [r for r in _since(ifs_sim[0].state.requests, ifs_mark)
                if r["path"].endswith("/VoucherRowSet")]
    assert vouchers and all(_terms(r, "VoucherText2") for r in vouchers)
    texts = {t for r in vouchers for t in _terms(r, "VoucherText2")}
    assert {m.split("no voucher ")[1].rstrip(")") for m in report.missing if " " in m} == texts
    assert not any("startswith" in r["args"]["$filter"][0] for r in vouchers)
