"""The operator console through Flask's test client: the login, CSRF refusal, every page behind
the login, and each action's effect and audit row (the browser tests are in
tests/integration/test_console_browser.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.config import Secret, get_settings, set_settings
from connector.db import session_scope
from connector.handles import get_vault
from connector.models import Alert, AuditEvent, Source, StagedRecord
from connector.operations.admin import add_source, add_tenant
from connector.pipeline import records
from connector.pipeline.audit import raise_alert
from connector.pipeline.records import Incoming

ORDER = {"id": 7, "number": "7", "status": "processing", "currency": "EUR", "total": "10.00",
         "total_tax": "0.00", "customer_id": 0, "billing": {"email": ""},
         "date_modified_gmt": "2026-01-01T00:00:00", "line_items": []}


@pytest.fixture
def admin() -> Iterator[None]:
    before = get_settings()
    set_settings(replace(before, admin_user="ops", admin_password=Secret("pa55-word-ops")))
    yield
    set_settings(before)


@pytest.fixture
def app(admin: None) -> Flask:
    from web.app import create_app

    return create_app()


@pytest.fixture
def seeded(clean_db: None) -> dict[str, int]:
    with session_scope() as s:
        t = add_tenant(s, "acme", "10")
        # Nothing listens on port 9: the store reads fail fast and the page says so.
        src = add_source(s, get_vault(), t, name="shop", system="woocommerce",
                         base_url="http://127.0.0.1:9",
                         credentials={"consumer_key": "ck", "consumer_secret": "cs-secret-x"})
        ids = records.stage(s, tenant_id=t.id, source_id=src.id, origin="webhook",
                            records=[Incoming("order", "7", "v1", ORDER),
                                     Incoming("order", "8", "v1", {**ORDER, "id": 8})])
        for rid in ids:
            rec = s.get(StagedRecord, rid)
            assert rec is not None
            records.mark_failed(s, rec, "billing e-mail is missing")
        raise_alert(s, tenant_id=t.id, source_id=src.id, kind="woo_webhook_disabled",
                    message="webhook order.updated was disabled by the store")
        s.flush()
        alert = s.scalar(select(Alert.id))
        assert alert is not None
        return {"tenant": t.id, "source": src.id, "record": ids[0], "other": ids[1],
                "alert": alert}


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def login(client: FlaskClient, name: str = "Ada") -> str:
    page = client.get("/ops/login")
    token = _token(page.get_data(as_text=True))
    r = client.post("/ops/login", data={"csrf_token": token, "username": "ops",
                                        "password": "pa55-word-ops", "name": name})
    assert r.status_code == 302, r.get_data(as_text=True)
    return _token(client.get("/ops/").get_data(as_text=True))


def _console_rules(app: Flask) -> list[tuple[str, set[str]]]:
    ids = {"record_id": 1, "source_id": 1, "tenant_id": 1, "alert_id": 1}
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console.") or rule.endpoint in (
                "console.static", "console.login"):
            continue
        path = re.sub(r"<(?:int:)?(\w+)>", lambda m: str(ids[m.group(1)]), rule.rule)
        out.append((path, set(rule.methods or ()) - {"HEAD", "OPTIONS"}))
    return out


def _operator_rows() -> list[tuple[str, str]]:
    with session_scope() as s:
        return [(e.action, e.actor) for e in s.scalars(
            select(AuditEvent).where(AuditEvent.direction == "operator").order_by(AuditEvent.id))]


def test_no_console_page_answers_without_the_login(seeded: dict[str, int], app: Flask) -> None:
    client = app.test_client()
    before = _operator_rows()
    rules = _console_rules(app)
    assert len(rules) >= 12
    for path, methods in rules:
        if "GET" in methods:
            r = client.get(path)
            assert r.status_code == 302 and "/ops/login" in r.headers["Location"], path
        if "POST" in methods:
            assert client.post(path).status_code == 400, path  # no CSRF token
    # a CSRF token of the login page alone does not log anyone in
    token = _token(client.get("/ops/login").get_data(as_text=True))
    for path, methods in rules:
        if "POST" in methods:
            assert client.post(path, data={"csrf_token": token}).status_code == 401, path
    wrong = client.post("/ops/login", data={"csrf_token": token, "username": "ops",
                                            "password": "nope"})
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.get_data(
        as_text=True)
    assert client.get("/ops/").status_code == 302
    with session_scope() as s:  # nothing changed
        assert s.get(StagedRecord, seeded["record"]).state == "failed"  # type: ignore[union-attr]
    assert _operator_rows() == before


def test_a_forged_form_post_is_refused(seeded: dict[str, int], app: Flask) -> None:
    client = app.test_client()
    login(client)
    note = {"note": "forged"}
    for forged in ({}, {"csrf_token": "x" * 43}, {"csrf_token": ""}):
        r = client.post(f"/ops/records/{seeded['record']}/dismiss", data={**note, **forged})
        assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
        r = client.post(f"/ops/sources/{seeded['source']}/pause", data=forged)
        assert r.status_code == 400
    # another session's valid token is no good either
    other = app.test_client()
    other_token = login(other, "Mallory")
    r = client.post(f"/ops/records/{seeded['record']}/dismiss",
                    data={**note, "csrf_token": other_token})
    assert r.status_code == 400
    with session_scope() as s:
        assert s.get(StagedRecord, seeded["record"]).state == "failed"  # type: ignore[union-attr]
        assert s.get(Source, seeded["source"]).status == "active"  # type: ignore[union-attr]


def test_pages_render_and_every_action_is_audited_with_the_operator(
        seeded: dict[str, int], app: Flask) -> None:
    client = app.test_client()
    token = login(client, "Ada")
    page = client.get("/ops/").get_data(as_text=True)
    assert "acme" in page and "shop" in page and "webhook order.updated was disabled" in page
    assert "<svg" in page and "cs-secret-x" not in page
    listing = client.get("/ops/records?state=failed&tenant=acme").get_data(as_text=True)
    assert "billing e-mail is missing" in listing and "2 found" in listing
    assert "1 found" in client.get("/ops/records?store_id=8").get_data(as_text=True)
    assert "0 found" in client.get("/ops/records?reason=SKU").get_data(as_text=True)
    record = client.get(f"/ops/records/{seeded['record']}").get_data(as_text=True)
    assert "side-by-side" in record and "could not read the store" in record
    assert "not mapped: billing e-mail is missing" in record and "webhook" in record
    assert "cs-secret-x" not in record
    preview = client.get(f"/ops/records/{seeded['record']}/replay").get_data(as_text=True)
    assert "it would not load: billing e-mail is missing" in preview
    assert "Nothing has been written yet" in preview

    def post(path: str, **data: str) -> None:
        r = client.post(path, data={"csrf_token": token, **data})
        assert r.status_code == 302, (path, r.get_data(as_text=True))

    post(f"/ops/records/{seeded['record']}/dismiss", note="test order, never shipped")
    post(f"/ops/records/{seeded['other']}/resolve", note="")  # refused: a note is required
    post(f"/ops/sources/{seeded['source']}/pause", note="store migration")
    post(f"/ops/alerts/{seeded['alert']}/acknowledge", note="looking")
    with session_scope() as s:
        rec = s.get(StagedRecord, seeded["record"])
        other = s.get(StagedRecord, seeded["other"])
        src = s.get(Source, seeded["source"])
        alert = s.get(Alert, seeded["alert"])
        assert rec is not None and other is not None and src is not None and alert is not None
        assert (rec.state, rec.error_kind) == ("superseded", "dismissed")
        assert rec.last_error == "dismissed by Ada: test order, never shipped"
        assert other.state == "failed"
        assert (src.status, src.status_reason) == ("paused", "paused by Ada: store migration")
        assert alert.acknowledged and alert.state == "open"
    assert [r for r in _operator_rows() if r[1] == "Ada"] == [
        ("dismissed", "Ada"), ("pause", "Ada"), ("acknowledge", "Ada")]
    post(f"/ops/sources/{seeded['source']}/resume")
    post(f"/ops/alerts/{seeded['alert']}/resolve")
    bulk = client.get("/ops/records/replay?tenant=acme").get_data(as_text=True)
    assert "Replay 1 record(s)" in bulk
    with session_scope() as s:
        src = s.get(Source, seeded["source"])
        alert = s.get(Alert, seeded["alert"])
        assert src is not None and alert is not None
        assert src.status == "active" and alert.state == "resolved"
    assert "No reconciliation has run yet" in client.get("/ops/reconciliation").get_data(
        as_text=True)
    r = client.post("/ops/logout", data={"csrf_token": token})
    assert r.status_code == 302 and client.get("/ops/").status_code == 302


def test_replay_one_and_a_selection_after_their_previews(seeded: dict[str, int],
                                                         app: Flask) -> None:
    client = app.test_client()
    token = login(client, "Ada")

    def snapshot() -> list[tuple[int, str, str | None]]:
        with session_scope() as s:
            return [(r.id, r.state, r.last_error) for r in
                    s.scalars(select(StagedRecord).order_by(StagedRecord.id))]

    before = snapshot()
    assert client.get(f"/ops/records/{seeded['record']}/replay").status_code == 200
    assert client.get("/ops/records/replay?state=failed").status_code == 200
    assert snapshot() == before  # previews write nothing
    # the store cannot be read: the stored version goes back to pending
    r = client.post(f"/ops/records/{seeded['record']}/replay",
                    data={"csrf_token": token, "note": "settings fixed"})
    assert r.status_code == 302
    with session_scope() as s:
        rec = s.get(StagedRecord, seeded["record"])
        assert rec is not None and (rec.state, rec.last_error) == ("pending", None)
    # replaying it again is refused: it is not failed any more
    client.post(f"/ops/records/{seeded['record']}/replay", data={"csrf_token": token})
    page = client.get(f"/ops/records/{seeded['record']}").get_data(as_text=True)
    assert "only failed or parked records are replayed" in page
    # a selection: only the previewed ids are replayed
    r = client.post("/ops/records/replay", data={"csrf_token": token, "state": "failed",
                                                 "id": [str(seeded["other"])]})
    assert r.status_code == 302
    with session_scope() as s:
        other = s.get(StagedRecord, seeded["other"])
        assert other is not None and other.state == "pending"
    replays = [r for r in _operator_rows() if r[0] == "replay"]
    assert replays == [("replay", "Ada"), ("replay", "Ada")]


def test_the_records_list_pages_and_filters(clean_db: None, app: Flask) -> None:
    from connector.operations.records_view import RecordFilter, list_records

    with session_scope() as s:
        t = add_tenant(s, "acme", "10")
        src = add_source(s, get_vault(), t, name="shop", system="woocommerce",
                         base_url="http://127.0.0.1:9",
                         credentials={"consumer_key": "ck", "consumer_secret": "cs-secret-x"})
        records.stage(s, tenant_id=t.id, source_id=src.id, origin="poll",
                      records=[Incoming("order", str(i), "v1", {"id": i}) for i in range(120)])
        for rec in s.scalars(select(StagedRecord).where(StagedRecord.external_id.in_(
                ["5", "50"]))):
            records.mark_failed(s, rec, "quantity on line 1 (100% cotton_tee) is zero")
    with session_scope() as s:
        pages = [list_records(s, RecordFilter(), p) for p in (1, 2, 3, 4)]
        assert [len(p.rows) for p in pages] == [50, 50, 20, 20]  # past the end: the last page
        assert pages[0].total == 120 and pages[0].pages == 3
        assert len({r.id for p in pages[:3] for r in p.rows}) == 120
        # the reason filter is a plain text match: % and _ are not wildcards
        assert list_records(s, RecordFilter(reason="100% cotton_tee")).total == 2
        assert list_records(s, RecordFilter(reason="100%_cotton")).total == 0
        assert list_records(s, RecordFilter(state="failed", store_id="50")).total == 1
        assert list_records(s, RecordFilter(tenant="other")).total == 0
        assert list_records(s, RecordFilter(age="1d")).total == 0


def test_overview_figures(clean_db: None) -> None:
    from connector.models import SyncCursor
    from connector.operations.dashboard import fleet, sparkline

    with session_scope() as s:
        t = add_tenant(s, "acme", "10")
        src = add_source(s, get_vault(), t, name="shop", system="woocommerce",
                         base_url="http://127.0.0.1:9",
                         credentials={"consumer_key": "ck", "consumer_secret": "cs-secret-x"})
        ids = records.stage(s, tenant_id=t.id, source_id=src.id, origin="poll",
                            records=[Incoming("order", str(i), "v1", {"id": i})
                                     for i in range(3)])
        for rid in ids[:2]:
            rec = s.get(StagedRecord, rid)
            assert rec is not None
            records.mark_done(s, rec)
        for cursor in s.scalars(select(SyncCursor).where(SyncCursor.source_id == src.id)):
            cursor.last_run_at = cursor.next_run_at
    with session_scope() as s:
        [view] = fleet(s)
        [source] = view.sources
        assert source.records == {"done": 2, "pending": 1}
        assert sum(source.throughput) == 2 and len(source.throughput) == 12
        assert source.throughput[-1] == 2  # loaded just now: the last bar
        assert source.last_success is not None and source.oldest_pending_s is not None
        assert view.budget_per_min > 0 and view.ifs_writes_1h == 0
    chart = sparkline([0, 4, 2])
    assert [b["h"] for b in chart["bars"]] == [0, 34.0, 17.0] and chart["total"] == 6
