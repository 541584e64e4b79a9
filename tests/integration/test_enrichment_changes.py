"""Incremental IFS enrichment on the projection's change date (issue 10, "Enrichment that
finishes"): after a full pass each run reads only what changed, in requests proportional to the
changes; a field IFS rejects is reported and the full pass runs instead. Through the real
pipeline: the worker runs the pages, the sandbox IFS counts the requests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from connector.cli import cli
from connector.db import session_scope
from connector.models import CustomerIndex, Tenant
from tests.integration.harness import make_tenant, wait_until

pytestmark = pytest.mark.integration

PROJECTIONS = "/main/ifsapplications/projection/"
FIELD = "ChangedDate"


def _switch(ifs_url: str, field: str) -> None:
    requests.post(f"{ifs_url}/_sandbox/ifs/config", json={"customer_change_field": field},
                  timeout=10).raise_for_status()


def _progress(tenant: int) -> dict[str, Any]:
    with session_scope() as s:
        row = s.get(Tenant, tenant)
        assert row is not None
        return dict(row.enrichment or {})


def _run(ifs: Any, tenant: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One enrichment run through the worker (the beat's task); its state and the IFS
    projection requests it made."""
    from tasks.maintenance import enrich_all

    before = _progress(tenant).get("last_complete_at")
    mark = len(ifs.state.requests)
    enrich_all.delay()
    wait_until(lambda: (p := _progress(tenant)).get("last_complete_at") != before
               and not p.get("run"), 180, interval=0.3, what="the enrichment run to complete")
    state = _progress(tenant)
    done = datetime.fromisoformat(state["last_complete_at"]).timestamp()
    # Only requests up to the completion: a run the beat starts afterwards is not this one.
    calls = [r for r in ifs.state.requests[mark:]
             if r["path"].startswith(PROJECTIONS) and r["at"] <= done + 0.5]
    return state, calls


def _indexed(tenant: int) -> set[str]:
    with session_scope() as s:
        return set(s.scalars(select(CustomerIndex.email).where(
            CustomerIndex.tenant_id == tenant, CustomerIndex.origin == "enrichment")))


def _seed_at(ifs: Any, epoch: float, specs: list[dict[str, Any]]) -> None:
    """Seed ``specs`` with the sandbox clock inside the second of ``epoch`` (a tie)."""
    for _ in range(5):
        ifs.state.clock.advance(int(epoch) + 0.05 - ifs.state.clock.time())
        stamps = {ifs.seed_customer(spec)[FIELD] for spec in specs}
        if len(stamps) == 1:
            return
        for spec in specs:  # a stall crossed the second: try again with new ids
            spec["CustomerId"] += "X"
    raise AssertionError("could not seed inside one second")


def test_after_a_full_pass_runs_read_only_the_changes(pipeline: dict[str, Any]) -> None:
    ifs, ifs_url = pipeline["ifs"], pipeline["ifs_url"]
    _switch(ifs_url, FIELD)
    for i in range(60):  # keyed in IFS by hand, one a second
        ifs.seed_customer({"CustomerId": f"HAND-{i:03d}", "Company": "10",
                           "Email": f"hand{i}@example.org"})
        ifs.state.clock.advance(1)
    ifs.seed_customer({"CustomerId": "OTHER-1", "Company": "20", "Email": "other@example.org"})
    tenant = make_tenant(ifs_url, settings={"enrichment_change_field": FIELD})

    state, calls = _run(ifs, tenant)  # the first pass is the full paged pass
    assert state["last_mode"] == "full" and state["last_indexed"] == 60
    assert state["since"]["field"] == FIELD and state["since"]["value"]
    assert len(calls) == 1 + 2 * 2, calls  # the newest change, then 2 pages of 50 + $batch
    assert not any(r["path"].endswith("/CommunicationMethods") for r in calls)

    state, calls = _run(ifs, tenant)  # the rows at the cursor's value are read once more
    assert state["last_mode"] == "changes"
    assert len(calls) == 2, calls
    assert "ChangedDate%20ge%20" in calls[0]["query"] or "ChangedDate ge " in calls[0]["query"]
    assert f"$orderby={FIELD},CustomerId" in calls[0]["query"].replace("%2C", ",")

    state, calls = _run(ifs, tenant)  # nothing changed: one request
    assert state["last_mode"] == "changes" and state["last_indexed"] == 0
    assert len(calls) == 1, calls

    # Later, by hand in IFS: one customer in the very second of the cursor with an id that
    # sorts before the last one read (a strict keyset would skip it), two more afterwards.
    last = ifs.customers(company="10")[59][FIELD]
    now = ifs.state.clock.time()
    _seed_at(ifs, datetime.fromisoformat(last.replace("Z", "+00:00")).timestamp(),
             [{"CustomerId": "HAND-000A", "Company": "10", "Email": "tie@example.org"}])
    ifs.state.clock.advance(now + 5 - ifs.state.clock.time())
    _seed_at(ifs, ifs.state.clock.time(),
             [{"CustomerId": f"LATE-{i}", "Company": "10", "Email": f"late{i}@example.org"}
              for i in (2, 1)])
    ifs.seed_customer({"CustomerId": "OTHER-2", "Company": "20", "Email": "other2@example.org"})
    state, calls = _run(ifs, tenant)
    assert state["last_mode"] == "changes" and state["last_indexed"] == 3
    assert len(calls) == 2, calls  # one page of changes, their e-mails in one $batch
    assert {"tie@example.org", "late1@example.org", "late2@example.org"} <= _indexed(tenant)
    assert not {"other@example.org", "other2@example.org"} & _indexed(tenant)

    for _ in range(2):  # unchanged again: one request a run, the tied rows not re-read
        state, calls = _run(ifs, tenant)
        assert state["last_indexed"] == 0 and len(calls) == 1, calls
    assert len(_indexed(tenant)) == 63

    status = CliRunner().invoke(cli, ["status"])
    assert status.exit_code == 0, status.output
    assert "changes only" in status.output and "ERROR" not in status.output


def test_a_field_ifs_rejects_is_reported_and_the_full_pass_runs(
        pipeline: dict[str, Any]) -> None:
    ifs, ifs_url = pipeline["ifs"], pipeline["ifs_url"]
    _switch(ifs_url, FIELD)
    for i in range(3):
        ifs.seed_customer({"CustomerId": f"HAND-{i}", "Company": "10",
                           "Email": f"hand{i}@example.org"})
    tenant = make_tenant(ifs_url, settings={"enrichment_change_field": FIELD})
    state, _ = _run(ifs, tenant)
    assert state["last_mode"] == "full" and state["since"]["value"]

    # The projection no longer has the field (another release, a typo in the setting): the
    # incremental query is answered 400 and the run falls back to the full pass.
    _switch(ifs_url, "")
    ifs.seed_customer({"CustomerId": "NEW-1", "Company": "10", "Email": "new1@example.org"})
    state, calls = _run(ifs, tenant)
    assert [r["status"] for r in calls][:1] == [400]
    assert state["last_mode"] == "full" and state["last_indexed"] == 4
    assert "enrichment_change_field" in state["change_error"]
    assert FIELD in state["change_error"] and "unknown property" in state["change_error"]
    assert "new1@example.org" in _indexed(tenant)

    # Every later run keeps indexing (the probe is refused too) and keeps saying why.
    ifs.seed_customer({"CustomerId": "NEW-2", "Company": "10", "Email": "new2@example.org"})
    state, calls = _run(ifs, tenant)
    assert state["last_mode"] == "full" and "new2@example.org" in _indexed(tenant)
    assert state["change_error"] and calls[0]["status"] == 400
    status = CliRunner().invoke(cli, ["status"])
    assert status.exit_code == 0, status.output
    assert "ERROR: IFS rejected the change-date field 'ChangedDate'" in status.output
    assert "enrichment_change_field" in status.output

    # Fixed on the IFS side: a full pass takes the cursor again, then the changes only.
    _switch(ifs_url, FIELD)
    state, _ = _run(ifs, tenant)
    assert state["last_mode"] == "full" and state["since"]
    state, calls = _run(ifs, tenant)
    assert state["last_mode"] == "changes" and state.get("change_error") is None
    assert all(r["status"] == 200 for r in calls)


def test_a_full_pass_comes_back_for_what_a_change_date_cannot_show(
        pipeline: dict[str, Any]) -> None:
    """An e-mail added to a customer whose own row did not change (CommMethod is its own LU)
    is invisible to the change date; the periodic full pass (enrichment_full_interval_s) finds
    it."""
    from connector.operations.enrichment import enrich
    from sandbox.ifs import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REALM

    ifs, ifs_url = pipeline["ifs"], pipeline["ifs_url"]
    _switch(ifs_url, FIELD)
    ifs.seed_customer({"CustomerId": "HAND-1", "Company": "10", "Email": "one@example.org"})
    ifs.seed_customer({"CustomerId": "HAND-2", "Company": "10"})  # no e-mail yet
    tenant = make_tenant(ifs_url, settings={"enrichment_change_field": FIELD,
                                            "enrichment_full_interval_s": 3600})
    assert enrich(tenant) == 1 and _progress(tenant)["last_mode"] == "full"
    enrich(tenant)  # the first changes run reads the rows at the cursor's value once more
    token = requests.post(
        f"{ifs_url}/auth/realms/{DEFAULT_REALM}/protocol/openid-connect/token",
        data={"grant_type": "client_credentials", "client_id": DEFAULT_CLIENT_ID,
              "client_secret": DEFAULT_CLIENT_SECRET}, timeout=10).json()["access_token"]
    resp = requests.post(
        f"{ifs_url}{PROJECTIONS}v1/CustomerHandling.svc/CustomerInfoSet(CustomerId='HAND-2')"
        "/CommunicationMethods", json={"MethodId": "E_MAIL", "Value": "two@example.org"},
        headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert resp.status_code == 201, resp.text

    enrich(tenant)
    assert _progress(tenant)["last_mode"] == "changes"
    assert "two@example.org" not in _indexed(tenant)  # the customer row did not change

    with session_scope() as s:  # an hour and a bit later
        row = s.get(Tenant, tenant)
        assert row is not None
        last_full = datetime.fromisoformat(row.enrichment["last_full_at"])
        row.enrichment = {**row.enrichment,
                          "last_full_at": (last_full - timedelta(seconds=3700)).isoformat()}
    enrich(tenant)
    assert _progress(tenant)["last_mode"] == "full"
    assert "two@example.org" in _indexed(tenant)
    enrich(tenant)
    assert _progress(tenant)["last_mode"] == "changes"
