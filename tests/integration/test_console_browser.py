"""The operator console in a real browser, against a real ``web`` process, a real Celery worker
and beat, and the sandbox over HTTP.

1. An operator logs in, finds the order that failed, opens it and sees the difference, fixes
   the order in the store (the sandbox's admin API), replays it from the page after the
   preview, and sees the record done and the order in IFS.
2. No page answers without the login; a forged form post is refused.

``MLC_SCREENSHOTS_DIR=docs/console`` keeps the screenshots for docs/console.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from connector.db import session_scope
from connector.models import AuditEvent, RecordLink, Source, StagedRecord
from tests.integration.bigcommerce_harness import WebProcess
from tests.integration.browser import chromium, screenshot, wait_for
from tests.integration.harness import add_woo_source, make_tenant, sync_and_settle

pytestmark = pytest.mark.integration

USER, PASSWORD = "ops", "console-pa55-word"


@pytest.fixture(scope="module")
def console_web(services: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``ml-connector web`` with the operator credentials set."""
    saved = {k: os.environ.get(k) for k in ("MLC_ADMIN_USER", "MLC_ADMIN_PASSWORD")}
    os.environ.update({"MLC_ADMIN_USER": USER, "MLC_ADMIN_PASSWORD": PASSWORD})
    try:
        process = WebProcess(tmp_path_factory.mktemp("console-web") / "web.log").start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    yield process.url
    process.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    driver = chromium(tmp_path / "profile")
    driver.set_page_load_timeout(60)
    driver.implicitly_wait(10)  # elements of the next page, after a click
    yield driver
    driver.quit()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("MLC_SCREENSHOTS_DIR") or tmp_path / "shots")


def log_in(browser: Any, base: str, name: str = "Ada Lovelace") -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{base}/ops/")
    assert "/ops/login" in browser.current_url
    browser.find_element(By.ID, "username").send_keys(USER)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "login").click()
    wait_for(browser, lambda: browser.find_element(By.TAG_NAME, "h1").text == "Overview",
             "the overview after the login", timeout=30)


def _diagnostics(pipeline: dict[str, Any], source: int) -> str:
    """What the pipeline looked like when a wait ran out (for a failure report)."""
    from connector.models import SyncCursor

    with session_scope() as s:
        cursors = [(c.stream, c.next_run_at, c.running_since, c.last_run_at, c.last_error)
                   for c in s.scalars(select(SyncCursor).where(SyncCursor.source_id == source))]
        rows = [(r.id, r.external_id, r.origin, r.state, r.attempts, r.last_error)
                for r in s.scalars(select(StagedRecord).order_by(StagedRecord.id))]
    log = pipeline["worker"].log_path
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no worker log)"
    return f"cursors {cursors}; records {rows}; worker log ({log}) ends: {tail}"


def test_fix_and_replay_a_failed_order_from_the_browser(
        pipeline: dict[str, Any], console_web: str, browser: Any, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    ifs, woo_url = pipeline["ifs"], pipeline["woo_url"]
    ifs.seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    seeded = requests.post(f"{woo_url}/_sandbox/woo/seed", timeout=30, json={
        "customers": 3, "orders": 6, "seed": 5, "invalid": 3, "silent": True}).json()
    bad = next(i["id"] for i in seeded["invalid"] if i["problem"] == "guest_missing_email")
    tenant = make_tenant(pipeline["ifs_url"])
    source = add_woo_source(tenant, woo_url, interval=3600)  # no polling: only what we ask
    try:
        sync_and_settle(tenant, source, ("orders",))
    except AssertionError as exc:
        raise AssertionError(f"{exc}; {_diagnostics(pipeline, source)}") from exc
    order = requests.get(f"{woo_url}/_sandbox/woo/orders/{bad}", timeout=10).json()
    po = f"W{source}-{order['number']}"
    assert not [o for o in ifs.orders() if o["CustomerPoNo"] == po]

    log_in(browser, console_web)
    assert "acme" in browser.page_source and "shop" in browser.page_source
    screenshot(browser, "overview", shots)
    screenshot(browser, "overview-phone", shots, width=400)

    # find the failed order
    browser.find_element(By.LINK_TEXT, "Failed").click()
    browser.find_element(By.ID, "store_id").send_keys(str(bad))
    browser.find_element(By.ID, "search").click()
    wait_for(browser, lambda: f"store_id={bad}" in browser.current_url, "the search",
             timeout=30)
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.record-row")
    assert len(rows) == 1 and "billing e-mail is missing" in rows[0].text
    browser.get(f"{console_web}/ops/records?state=failed")
    screenshot(browser, "records", shots)
    browser.get(f"{console_web}/ops/records?state=failed&store_id={bad}")
    browser.find_element(By.LINK_TEXT, str(bad)).click()

    # the record page: the reason, the side by side, the difference highlighted
    assert browser.find_element(By.ID, "reason").text == "billing e-mail is missing"
    problem = browser.find_element(By.ID, "mapping-problem")
    assert "not mapped: billing e-mail is missing" in problem.text
    assert "diff" in problem.get_attribute("class")
    assert browser.find_element(By.ID, "ifs-note").text.startswith("not in IFS")
    email = [r for r in browser.find_elements(By.CSS_SELECTOR, "#payload tr")
             if r.text.startswith("billing.email")]
    assert email and "diff" in email[0].get_attribute("class")
    assert "The store still holds this version" in browser.page_source
    screenshot(browser, "record-failed", shots)
    record_url = browser.current_url

    # fix the order in the store (the sandbox's admin API), then look again
    fixed = requests.post(f"{woo_url}/_sandbox/woo/orders/{bad}/mutate", timeout=10,
                          json={"billing": {"email": "grace@example.org"}})
    assert fixed.status_code == 200, fixed.text
    browser.get(record_url)
    changed = {r.find_elements(By.TAG_NAME, "td")[0].text: r
               for r in browser.find_elements(By.CSS_SELECTOR, "#store-diff tbody tr")}
    assert "billing.email" in changed
    assert "grace@example.org" in changed["billing.email"].text
    assert "diff" in changed["billing.email"].get_attribute("class")
    screenshot(browser, "record-fixed-in-store", shots)

    # replay: the preview first, nothing written yet
    browser.find_element(By.ID, "replay").click()
    assert "ready" in browser.find_element(By.ID, "preview-outcome").text
    plan = browser.find_element(By.ID, "preview-plan").text
    assert po in plan, plan
    screenshot(browser, "replay-preview", shots)
    assert not [o for o in ifs.orders() if o["CustomerPoNo"] == po]
    browser.find_element(By.ID, "confirm-replay").click()
    wait_for(browser, lambda: "Replay started" in browser.page_source, "the replay", 30)

    # the replayed version loads: done, with its IFS key, and the order is in IFS
    def replayed_done() -> bool:
        rows = browser.find_elements(By.CSS_SELECTOR, "table.versions tbody tr")
        return any("replay" in r.text and "done" in r.text for r in rows)

    try:
        wait_for(browser, replayed_done, "the replayed version to be done", refresh=True)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; {_diagnostics(pipeline, source)}") from exc
    with session_scope() as s:
        versions = list(s.scalars(select(StagedRecord).where(
            StagedRecord.source_id == source, StagedRecord.entity == "order",
            StagedRecord.external_id == str(bad)).order_by(StagedRecord.id)))
        link = s.scalar(select(RecordLink).where(RecordLink.source_id == source,
                                                 RecordLink.external_id == str(bad)))
        trail = [(e.action, e.actor) for e in s.scalars(select(AuditEvent).where(
            AuditEvent.direction == "operator", AuditEvent.external_id == str(bad)))]
    assert [(v.origin, v.state) for v in versions] == [("poll", "superseded"),
                                                       ("replay", "done")]
    assert link is not None and trail == [("replay", "Ada Lovelace")]
    in_ifs = [o for o in ifs.orders() if o["CustomerPoNo"] == po]
    assert len(in_ifs) == 1 and in_ifs[0]["OrderNo"] == link.ifs_key
    browser.find_element(By.LINK_TEXT, f"#{versions[1].id}").click()
    wait_for(browser, lambda: browser.current_url.endswith(f"/ops/records/{versions[1].id}"),
             "the replayed version's page", 30)
    assert browser.find_element(By.ID, "ifs-key").text == link.ifs_key
    assert "create" in browser.find_element(By.ID, "audit").text
    screenshot(browser, "record-done", shots)

    # a reconciliation from the page: the two orders left failed are explained
    browser.get(f"{console_web}/ops/reconciliation")
    browser.find_element(By.ID, "run-reconciliation").click()
    wait_for(browser, lambda: "Reconciliation of acme started" in browser.page_source,
             "the reconciliation request", 30)
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "section.recon"),
             "the stored reconciliation", refresh=True)
    section = browser.find_element(By.CSS_SELECTOR, "section.recon")
    assert "No unexplained difference" in section.text
    screenshot(browser, "reconciliation", shots)


def test_login_is_required_and_forged_posts_are_refused(
        clean_db: None, console_web: str, browser: Any, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    from tests.integration.harness import make_tenant as tenant_for

    tenant = tenant_for("http://127.0.0.1:9")
    source = add_woo_source(tenant, "http://127.0.0.1:9", interval=3600)
    pages = ["/ops/", "/ops/records", "/ops/records?state=failed", "/ops/records/1",
             "/ops/records/1/replay", "/ops/records/replay", "/ops/reconciliation"]
    for page in pages:
        browser.get(console_web + page)
        assert "/ops/login" in browser.current_url, page
        assert browser.find_element(By.TAG_NAME, "h1").text == "Operator login"
    screenshot(browser, "login", shots)
    # wrong password: still out
    browser.find_element(By.ID, "username").send_keys(USER)
    browser.find_element(By.ID, "password").send_keys("wrong")
    browser.find_element(By.ID, "login").click()
    wait_for(browser, lambda: "Wrong user name or password" in browser.page_source,
             "the refusal of a wrong password", 30)
    assert requests.get(f"{console_web}/ops/", allow_redirects=False,
                        timeout=10).status_code == 302

    log_in(browser, console_web, "Grace")
    for body in ("", '<input name="csrf_token" value="forged-token">'):
        browser.execute_script(
            "document.body.insertAdjacentHTML('beforeend', arguments[0]);"
            "document.getElementById('forged').submit();",
            f'<form id="forged" method="post" action="/ops/sources/{source}/pause">'
            f'<input name="note" value="forged">{body}</form>')
        wait_for(browser, lambda: "CSRF token is missing or wrong" in browser.page_source,
                 "the refusal", timeout=30)
        browser.get(f"{console_web}/ops/")
    with session_scope() as s:
        src = s.get(Source, source)
        assert src is not None and src.status == "active"
    # the real form on the page works
    browser.find_element(By.CSS_SELECTOR, f"form[action='/ops/sources/{source}/pause'] "
                                          "button").click()
    wait_for(browser, lambda: "shop paused" in browser.page_source, "the pause", 30)
    with session_scope() as s:
        src = s.get(Source, source)
        assert src is not None and src.status == "paused"
    browser.find_element(By.CSS_SELECTOR, "form.logout button").click()
    wait_for(browser, lambda: "/ops/login" in browser.current_url, "the logout", 30)
    browser.get(f"{console_web}/ops/records")
    assert "/ops/login" in browser.current_url
