"""WooCommerce → IFS end to end: real worker and beat, real Postgres/Redis, sandbox over HTTP."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from connector.db import session_scope
from connector.models import AuditEvent, RecordLink, StagedRecord
from tests.integration.harness import add_woo_source, make_tenant, states, sync_and_settle

pytestmark = pytest.mark.integration


def _ifs_orders(ifs: Any, prefix: str) -> dict[str, dict[str, Any]]:
    return {o["CustomerPoNo"]: o for o in ifs.orders() if o["CustomerPoNo"].startswith(prefix)}


def test_first_and_incremental_sync(pipeline: dict[str, Any]) -> None:
    ifs, woo = pipeline["ifs"], pipeline["woo"]
    ifs.seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    summary = woo.seed(customers=15, orders=40, seed=7, guest_ratio=0.2, silent=True)
    tenant = make_tenant(pipeline["ifs_url"])
    source = add_woo_source(tenant, pipeline["woo_url"])
    sync_and_settle(tenant, source, ("orders",))

    store_orders = woo.orders()
    invalid = {str(i["id"]) for i in summary.get("invalid", [])}
    prefix = f"W{source}-"
    in_ifs = _ifs_orders(ifs, prefix)
    assert len(in_ifs) == len(store_orders) - len(invalid)
    for order in store_orders:
        po = f"{prefix}{order['number']}"
        assert po in in_ifs, po
        ifs_order = in_ifs[po]
        lines = ifs.order_lines(ifs_order["OrderNo"])
        assert len(lines) == len(order["line_items"])
        net = sum(Decimal(str(x["BuyQtyDue"])) * Decimal(str(x["SaleUnitPrice"])) for x in lines)
        net += sum(Decimal(str(c["ChargeAmount"])) for c in ifs_order["Charges"])
        expected = Decimal(order["total"]) - Decimal(order["total_tax"])
        assert abs(net - expected) <= Decimal("0.01") * len(lines), (po, net, expected)
        if order["customer_id"]:
            assert ifs_order["CustomerNo"] == f"W{source}-{order['customer_id']}"
        else:
            assert ifs_order["CustomerNo"] == "WALKIN"
    # every registered buyer became exactly one IFS customer, with e-mail
    buyers = {o["customer_id"] for o in store_orders if o["customer_id"]}
    customers = {c["CustomerId"]: c for c in ifs.customers()}
    for buyer in buyers:
        c = customers[f"W{source}-{buyer}"]
        assert any(m["MethodId"] == "E_MAIL" for m in c["CommunicationMethods"])
    assert states(tenant).get("pending", 0) == 0
    with session_scope() as s:
        writes = s.scalars(select(AuditEvent).where(AuditEvent.tenant_id == tenant,
                                                    AuditEvent.direction == "store->ifs")).all()
        assert writes and all("shop-admin" in w.actor for w in writes)
        assert {w.action for w in writes} >= {"create"}

    # incremental: a changed order lands as an If-Match update, nothing is duplicated
    first = store_orders[0]
    woo.mutate_order(first["id"], status="completed", customer_note="leave at door")
    requests_before = len(ifs.state.requests)
    sync_and_settle(tenant, source, ("orders",))
    after = _ifs_orders(ifs, prefix)
    assert len(after) == len(in_ifs)
    changed = after[f"{prefix}{first['number']}"]
    assert changed["LabelNote"] == "woo:completed"
    assert changed["NoteText"] == "leave at door"
    patches = [r for r in ifs.state.requests[requests_before:] if r["method"] == "PATCH"]
    assert patches and all(r["if_match"] for r in patches)


def test_invalid_records_fail_with_reasons_and_replay(pipeline: dict[str, Any]) -> None:
    ifs, woo = pipeline["ifs"], pipeline["woo"]
    ifs.seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    summary = woo.seed(customers=5, orders=12, seed=11, invalid=3, silent=True)
    assert len(summary["invalid"]) == 3
    tenant = make_tenant(pipeline["ifs_url"])
    source = add_woo_source(tenant, pipeline["woo_url"])
    sync_and_settle(tenant, source, ("orders",))
    with session_scope() as s:
        failed = s.scalars(select(StagedRecord).where(StagedRecord.tenant_id == tenant,
                                                      StagedRecord.state == "failed")).all()
        assert {r.external_id for r in failed} == {str(i["id"]) for i in summary["invalid"]}
        assert all(r.last_error and r.error_kind == "data" for r in failed)
        reasons = " ".join(r.last_error or "" for r in failed)
        assert any(w in reasons for w in ("SKU", "negative", "e-mail"))
    # the operator fixes the data in the store; the fixed version is fetched and loads
    for item in summary["invalid"]:
        order = next(o for o in woo.orders() if o["id"] == item["id"])
        fixed_lines = [{"id": li["id"], "sku": li["sku"] or "SKU-0001",
                        "quantity": abs(li["quantity"]) or 1} for li in order["line_items"]]
        woo.mutate_order(item["id"], line_items=fixed_lines,
                         billing={**order["billing"],
                                  "email": order["billing"]["email"] or "fixed@example.org"})
    sync_and_settle(tenant, source, ("orders",))
    in_ifs = _ifs_orders(ifs, f"W{source}-")
    assert len(in_ifs) == 12
    with session_scope() as s:
        links = s.scalars(select(RecordLink).where(RecordLink.tenant_id == tenant,
                                                   RecordLink.entity == "order")).all()
        assert len(links) == 12
