"""Standard OData answers, end to end against the sandbox playing a CAP / ASP.NET Core server
(issue 13, seen 5 and 6): JSON batch answers, server errors inside them, relative nextLinks on
navigation paths."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from connector.db import session_scope
from connector.models import AuditEvent, CustomerIndex, StagedRecord
from connector.operations.enrichment import enrich
from tests.integration.harness import add_woo_source, make_tenant, sync_and_settle

pytestmark = pytest.mark.integration


def test_orders_load_through_json_batch_answers_and_audit_ok(pipeline: dict[str, Any]) -> None:
    ifs, woo = pipeline["ifs"], pipeline["woo"]
    ifs.config.batch_format = "json"  # the server answers every $batch in the JSON format
    woo.seed(customers=3, orders=6, seed=4, guest_ratio=0.0, silent=True)
    tenant = make_tenant(pipeline["ifs_url"])
    source = add_woo_source(tenant, pipeline["woo_url"])
    sync_and_settle(tenant, source)
    assert len([o for o in ifs.orders() if o["CustomerPoNo"].startswith(f"W{source}-")]) == 6
    with session_scope() as s:
        creates = s.execute(select(AuditEvent.entity, AuditEvent.outcome).where(
            AuditEvent.tenant_id == tenant, AuditEvent.action == "create")).tuples().all()
        states = set(s.scalars(select(StagedRecord.state).where(
            StagedRecord.tenant_id == tenant)))
    assert creates and {outcome for _, outcome in creates} == {"ok"}
    assert states == {"done"}


def test_a_server_error_inside_a_json_batch_reaches_the_failed_record(
        pipeline: dict[str, Any]) -> None:
    ifs, woo = pipeline["ifs"], pipeline["woo"]
    ifs.config.batch_format = "json"
    woo.seed(customers=1, orders=2, seed=8, guest_ratio=1.0, silent=True)
    tenant = make_tenant(pipeline["ifs_url"], settings={"walk_in_customer": "NOBODY"})
    source = add_woo_source(tenant, pipeline["woo_url"])
    sync_and_settle(tenant, source)
    with session_scope() as s:
        failed = s.scalars(select(StagedRecord).where(StagedRecord.tenant_id == tenant,
                                                      StagedRecord.entity == "order")).all()
        assert failed and all(r.state == "failed" for r in failed)
        assert all("Customer NOBODY does not exist" in (r.last_error or "") for r in failed)
        assert all(r.attempts <= 2 for r in failed)  # permanent: not retried until exhausted


def test_relative_next_links_on_navigation_paths_are_followed(pipeline: dict[str, Any]) -> None:
    ifs = pipeline["ifs"]
    ifs.config.page_size = 2  # CommunicationMethods of one customer spans two pages
    ifs.seed_customer({"CustomerId": "NAV-9", "Company": "10",
                       "Emails": ["a@example.org", "b@example.org", "c@example.org"]})
    tenant = make_tenant(pipeline["ifs_url"])
    assert enrich(tenant) == 3
    with session_scope() as s:
        index = dict(s.execute(select(CustomerIndex.email, CustomerIndex.customer_id))
                     .tuples().all())
    assert index == {f"{x}@example.org": "NAV-9" for x in "abc"}


def test_a_batch_committed_but_unanswered_is_outcome_unknown_and_adopted_once(
        pipeline: dict[str, Any]) -> None:
    from sandbox.common import Faults

    ifs, woo = pipeline["ifs"], pipeline["woo"]
    woo.seed(customers=2, orders=3, seed=6, guest_ratio=0.0, silent=True)
    # Every $batch is committed, then the connection drops before the answer.
    ifs.state.faults = Faults(path_prefix="/main/", methods=["POST"],
                              extra={"drop_after_commit_ratio": 1.0})
    tenant = make_tenant(pipeline["ifs_url"])
    source = add_woo_source(tenant, pipeline["woo_url"])
    sync_and_settle(tenant, source)
    ours = [o for o in ifs.orders() if o["CustomerPoNo"].startswith(f"W{source}-")]
    assert len(ours) == 3 and len({o["CustomerPoNo"] for o in ours}) == 3  # once each
    with session_scope() as s:
        rows = s.execute(select(AuditEvent.entity, AuditEvent.action, AuditEvent.outcome).where(
            AuditEvent.tenant_id == tenant, AuditEvent.entity.in_(["order", "customer"])))
        seen = set(rows.tuples().all())
        states = set(s.scalars(select(StagedRecord.state).where(
            StagedRecord.tenant_id == tenant)))
    assert ("order", "create", "unknown") in seen and ("order", "adopt", "ok") in seen
    assert not any(outcome == "error" for _, action, outcome in seen if action == "create")
    assert states == {"done"}
