"""Company-scoped identity and guests matched by e-mail, end to end against the sandbox (issue
13, seen 3 and 4): the sandbox's IAM client sees companies 10 and 20, and the tenant is 10."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from connector.db import session_scope
from connector.models import CustomerIndex, StagedRecord, Tenant
from connector.operations.enrichment import enrich
from connector.pipeline import records
from tests.integration.harness import add_woo_source, make_tenant, sync_and_settle, wait_until

pytestmark = pytest.mark.integration


def _rows(tenant: int, entity: str) -> list[StagedRecord]:
    with session_scope() as s:
        rows = s.scalars(select(StagedRecord).where(StagedRecord.tenant_id == tenant,
                                                    StagedRecord.entity == entity)).all()
        s.expunge_all()
        return list(rows)


def test_a_customer_id_owned_by_another_company_is_never_linked_or_patched(
        pipeline: dict[str, Any]) -> None:
    ifs, woo = pipeline["ifs"], pipeline["woo"]
    woo.seed(customers=1, orders=2, seed=5, guest_ratio=0.0, silent=True)
    buyer = next(c for c in woo.customers()
                 if any(o["customer_id"] == c["id"] for o in woo.orders()))
    bought = [o for o in woo.orders() if o["customer_id"] == buyer["id"]]
    tenant = make_tenant(pipeline["ifs_url"])
    source = add_woo_source(tenant, pipeline["woo_url"])
    colliding = f"W{source}-{buyer['id']}"
    ifs.seed_customer({"CustomerId": colliding, "Name": "Another company's customer",
                       "Company": "20", "Country": "SE"})
    sync_and_settle(tenant, source)
    (customer,) = [r for r in _rows(tenant, "customer") if r.external_id == str(buyer["id"])]
    assert customer.state == "failed"
    assert "belongs to company 20, not to this tenant's company 10" in (customer.last_error or "")
    assert "customer_id_prefix" in (customer.last_error or "")
    theirs = next(c for c in ifs.customers() if c["CustomerId"] == colliding)
    assert theirs["Name"] == "Another company's customer" and theirs["Country"] == "SE"
    assert all(o["CustomerNo"] != colliding for o in ifs.orders())
    assert {r.state for r in _rows(tenant, "order")
            if r.external_id in {str(o["id"]) for o in bought}} == {"failed"}

    # The fix the reason names: a per-tenant customer id prefix, then replay.
    with session_scope() as s:
        row = s.get(Tenant, tenant)
        assert row is not None
        row.settings = {**(row.settings or {}), "customer_id_prefix": "A"}
    with session_scope() as s:
        assert records.replay(s, tenant_id=tenant) >= 1 + len(bought)
    wait_until(lambda: {r.state for r in _rows(tenant, "order")} == {"done"} or None, 120,
               what="the replayed orders")
    ours = next(c for c in ifs.customers() if c["CustomerId"] == f"A{colliding}")
    assert ours["Company"] == "10"
    assert len([o for o in ifs.orders() if o["CustomerNo"] == f"A{colliding}"]) == len(bought)
    theirs = next(c for c in ifs.customers() if c["CustomerId"] == colliding)
    assert theirs["Name"] == "Another company's customer"


def test_enrichment_indexes_only_the_tenants_company(pipeline: dict[str, Any]) -> None:
    ifs = pipeline["ifs"]
    ifs.seed_customer({"CustomerId": "OURS-1", "Company": "10", "Email": "a@example.org"})
    ifs.seed_customer({"CustomerId": "THEIRS-1", "Company": "20", "Email": "b@example.org"})
    tenant = make_tenant(pipeline["ifs_url"])
    assert enrich(tenant) == 1
    with session_scope() as s:
        index = dict(s.execute(select(CustomerIndex.email, CustomerIndex.customer_id))
                     .tuples().all())
    assert index == {"a@example.org": "OURS-1"}


def test_a_guest_matched_by_email_uses_the_matched_customer_once(
        pipeline: dict[str, Any]) -> None:
    ifs, woo = pipeline["ifs"], pipeline["woo"]
    woo.seed(customers=1, orders=6, seed=11, guest_ratio=1.0, silent=True)
    guest = next(o for o in woo.orders() if not o["customer_id"])
    email = guest["billing"]["email"]
    ifs.seed_customer({"CustomerId": "HAND-7", "Name": "Keyed by hand", "Company": "10",
                       "Email": email})
    tenant = make_tenant(pipeline["ifs_url"], settings={"guest_policy": "create"})
    source = add_woo_source(tenant, pipeline["woo_url"])
    assert enrich(tenant) == 1
    sync_and_settle(tenant, source)
    same_buyer = [o for o in woo.orders() if o["billing"]["email"] == email]
    orders = [o for o in ifs.orders() if o["CustomerNo"] == "HAND-7"]
    assert len(orders) == len(same_buyer)
    assert {r.state for r in _rows(tenant, "order")} == {"done"}
    with_email = [c for c in ifs.customers()
                  if any(m.get("Value") == email.lower() or m.get("Value") == email
                         for m in c.get("CommunicationMethods") or [])]
    assert [c["CustomerId"] for c in with_email] == ["HAND-7"]  # no duplicate
    with session_scope() as s:
        index = s.scalar(select(CustomerIndex.customer_id).where(
            CustomerIndex.email == email.lower()))
    assert index == "HAND-7"
    # A replay of everything creates no second customer.
    with session_scope() as s:
        for rec in s.scalars(select(StagedRecord).where(StagedRecord.tenant_id == tenant)):
            rec.state = "failed"
        records.replay(s, tenant_id=tenant)
    wait_until(lambda: {r.state for r in _rows(tenant, "order")} <= {"done", "superseded"}
               or None, 120, what="the replay")
    assert len([c for c in ifs.customers()
                if any((m.get("Value") or "").lower() == email.lower()
                       for m in c.get("CommunicationMethods") or [])]) == 1
