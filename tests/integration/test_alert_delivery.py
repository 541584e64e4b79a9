"""Alerts that reach people and resolve: channels receive each incident once on open and once
on resolve (retried when a channel fails), and alerts close when their condition clears.
A local SMTP server (aiosmtpd) and a local webhook receiver stand in for Slack and mail."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask, request
from sqlalchemy import select, update

from connector.cli import cli
from connector.config import get_settings, set_settings
from connector.db import session_scope
from connector.handles import get_vault
from connector.models import (
    Alert,
    AlertNotification,
    NotificationChannel,
    Source,
    StagedRecord,
    SyncCursor,
)
from connector.operations.admin import add_source, add_tenant
from connector.operations.watch import check
from connector.pipeline import notify, records
from connector.pipeline.audit import raise_alert, resolve_alerts
from sandbox.common import ServerThread
from tests.integration.harness import wait_until

pytestmark = pytest.mark.integration


class Receiver:
    """A local webhook endpoint that records JSON bodies and fails the first ``fail`` posts."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.fail = 0
        self.lock = threading.Lock()
        app = Flask("receiver")

        @app.post("/hook/<name>")
        def hook(name: str) -> tuple[str, int]:
            with self.lock:
                if self.fail > 0:
                    self.fail -= 1
                    return "busy", 503
                self.bodies.append({"channel": name, **(request.get_json() or {})})
            return "ok", 200

        self.server = ServerThread(app).start()

    def of(self, name: str) -> list[dict[str, Any]]:
        with self.lock:
            return [b for b in self.bodies if b["channel"] == name]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.stop()


@pytest.fixture
def smtp() -> Iterator[list[Any]]:
    """A local SMTP server; the settings point e-mail channels at it."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received: list[Any] = []

    class Collect(Message):  # type: ignore[misc]
        def handle_message(self, message: Any) -> None:
            received.append(message)

    with socket.socket() as probe:  # a free port (the controller checks it can connect)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    before = get_settings()
    set_settings(replace(before, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                         smtp_from="alerts@connector.test"))
    yield received
    set_settings(before)
    controller.stop()


def _tenant_and_source() -> tuple[int, int]:
    with session_scope() as s:
        t = add_tenant(s, "acme", "10")
        src = add_source(s, get_vault(), t, name="eu", system="woocommerce",
                         base_url="https://shop.test",
                         credentials={"consumer_key": "ck_1", "consumer_secret": "cs-secret-1"})
        return t.id, src.id


def _deliver_due() -> list[str]:
    with session_scope() as s:
        ids = notify.claim_due(s)
    return [notify.deliver(i) for i in ids]


def _make_due() -> None:
    with session_scope() as s:
        s.execute(update(AlertNotification).where(AlertNotification.state == "pending")
                  .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))


def test_each_incident_is_announced_once_on_open_and_once_on_resolve(
        clean_db: None, receiver: Receiver, smtp: list[Any], tmp_path: Any) -> None:
    tenant_id, source_id = _tenant_and_source()
    runner = CliRunner()
    slack = f"{receiver.server.url}/hook/slack"
    r = runner.invoke(cli, ["alerts", "channel", "add", "--tenant", "acme", "--name", "ops",
                            "--kind", "slack"], input=slack + "\n")
    assert r.exit_code == 0, r.output
    assert slack not in r.output
    target = tmp_path / "hook"
    target.write_text(f"{receiver.server.url}/hook/generic")
    r = runner.invoke(cli, ["alerts", "channel", "add", "--tenant", "acme", "--name", "siem",
                            "--kind", "webhook", "--target-file", str(target)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["alerts", "channel", "add", "--tenant", "acme", "--name", "mail",
                            "--kind", "email"], input="oncall@acme.test\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["alerts", "channel", "list", "--tenant", "acme", "--json"])
    listed = json.loads(r.output)
    assert {c["name"] for c in listed} == {"ops", "siem", "mail"}
    assert all("/hook/" not in c["target"] for c in listed)  # URLs are credentials
    with session_scope() as s:  # the stored target is ciphertext
        assert slack not in json.dumps([n.target_enc for n in s.scalars(
            select(NotificationChannel))])
    receiver.fail = 1  # the generic webhook fails once: retried
    for _ in range(3):  # one incident, three occurrences
        with session_scope() as s:
            raise_alert(s, tenant_id=tenant_id, source_id=source_id,
                        kind="source_auth_failed", message="eu: key revoked")
    states = _deliver_due()
    assert sorted(states) == ["pending", "sent", "sent"]  # one failure, kept for a retry
    _make_due()
    assert _deliver_due() == ["sent"]
    assert _deliver_due() == []  # nothing left
    with session_scope() as s:
        resolve_alerts(s, tenant_id=tenant_id, source_id=source_id, kind="source_auth_failed")
        resolve_alerts(s, tenant_id=tenant_id, source_id=source_id, kind="source_auth_failed")
    assert sorted(_deliver_due()) == ["sent", "sent", "sent"]
    assert _deliver_due() == []
    slack_msgs = receiver.of("slack")
    assert [m["text"].split("\n")[0] for m in slack_msgs] == [
        "[ml-connector] OPEN source_auth_failed (acme/eu)",
        "[ml-connector] RESOLVED source_auth_failed (acme/eu)"]
    generic = receiver.of("generic")
    assert [(m["event"], m["kind"], m["source"]) for m in generic] == [
        ("opened", "source_auth_failed", "eu"), ("resolved", "source_auth_failed", "eu")]
    wait_until(lambda: len(smtp) == 2, 10, what="two e-mails")
    assert [m["Subject"] for m in smtp] == [
        "[ml-connector] OPEN source_auth_failed (acme/eu)",
        "[ml-connector] RESOLVED source_auth_failed (acme/eu)"]
    assert smtp[0]["To"] == "oncall@acme.test"
    # A new incident of the same kind is a new announcement.
    with session_scope() as s:
        raise_alert(s, tenant_id=tenant_id, source_id=source_id, kind="source_auth_failed",
                    message="eu: key revoked again")
    assert len(_deliver_due()) == 3 and len(receiver.of("slack")) == 3


def test_a_dead_channel_is_retried_a_bounded_number_of_times(
        clean_db: None, receiver: Receiver) -> None:
    from connector.operations.admin import get_tenant
    from connector.operations.alerts import add_channel

    tenant_id, _ = _tenant_and_source()
    with session_scope() as s:
        add_channel(s, get_vault(), get_tenant(s, "acme"), name="gone", kind="webhook",
                    target="http://127.0.0.1:9/nothing-listens")
        raise_alert(s, tenant_id=tenant_id, source_id=None, kind="ifs_auth_failed", message="x")
    for _ in range(notify.MAX_ATTEMPTS):
        _make_due()
        _deliver_due()
    with session_scope() as s:
        note = s.scalar(select(AlertNotification))
        assert note is not None and note.state == "failed"
        assert note.attempts == notify.MAX_ATTEMPTS
        assert note.last_error and "nothing-listens" not in note.last_error
    _make_due()
    assert _deliver_due() == []


def test_watch_opens_and_resolves_lag_failure_rate_and_vault_alerts(clean_db: None) -> None:
    tenant_id, source_id = _tenant_and_source()
    now = datetime.now(UTC)

    def open_kinds() -> set[str]:
        with session_scope() as s:
            return set(s.scalars(select(Alert.kind).where(Alert.state == "open")))

    with session_scope() as s:  # fresh source: fetched just now, nothing failing
        for c in s.scalars(select(SyncCursor)):
            c.last_success_at = now
    check(now=now)
    assert open_kinds() == set()
    with session_scope() as s:  # orders last fetched 3 hours ago
        s.execute(update(SyncCursor).where(SyncCursor.stream == "orders")
                  .values(last_success_at=now - timedelta(hours=3), last_error="HTTP 503"))
        ids = records.stage(s, tenant_id=tenant_id, source_id=source_id, origin="poll",
                            records=[records.Incoming("order", str(i), "v1", {"i": i})
                                     for i in range(8)])
        s.execute(update(StagedRecord).where(StagedRecord.id.in_(ids[:6]))
                  .values(state="failed"))
        s.execute(update(StagedRecord).where(StagedRecord.id.in_(ids[6:]))
                  .values(state="done"))
        src = s.get(Source, source_id)
        assert src is not None
        src.credentials_enc = "gAAAAA-not-a-token-any-key-opens"
    result = check(now=now)
    assert open_kinds() == {"source_lagging", "failure_rate_high", "vault_decrypt_failed"}
    assert sorted(result.opened) == sorted(open_kinds())
    with session_scope() as s:
        lag = s.scalar(select(Alert.message).where(Alert.kind == "source_lagging"))
        assert lag is not None and "orders" in lag and "HTTP 503" in lag
    check(now=now)  # still true: the same alerts, counted again
    with session_scope() as s:
        assert s.scalar(select(Alert.occurrences).where(Alert.kind == "source_lagging")) == 2
    with session_scope() as s:  # everything clears
        s.execute(update(SyncCursor).values(last_success_at=now, last_error=None))
        s.execute(update(StagedRecord).values(state="done"))
        src = s.get(Source, source_id)
        assert src is not None
        src.credentials_enc = get_vault().encrypt_json({"consumer_key": "ck_1",
                                                         "consumer_secret": "cs-secret-1"})
    result = check(now=now)
    assert open_kinds() == set() and result.resolved == 3


def test_ifs_auth_alert_resolves_once_loads_work_again_and_reaches_the_channel(
        pipeline: dict[str, Any], receiver: Receiver) -> None:
    """What was seen: an ``ifs_auth_failed`` alert stayed open after the secret was fixed and
    every record loaded; nobody was told."""
    from connector.models import Tenant
    from connector.operations.admin import IfsTarget, get_tenant, set_ifs_target
    from connector.operations.alerts import add_channel
    from sandbox.ifs import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REALM
    from tests.integration.harness import add_woo_source, make_tenant, states, sync_now

    woo = pipeline["woo"]
    pipeline["ifs"].seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    woo.seed(customers=0, orders=3, seed=3, guest_ratio=1.0, silent=True)
    tenant_id = make_tenant(pipeline["ifs_url"])

    def target(secret: str) -> None:
        with session_scope() as s:
            tenant = s.get(Tenant, tenant_id)
            assert tenant is not None
            set_ifs_target(s, get_vault(), tenant, IfsTarget(
                base_url=pipeline["ifs_url"], realm=DEFAULT_REALM, client_id=DEFAULT_CLIENT_ID,
                client_secret=secret, site="S1", order_type="NO",
                extra={"budget_per_min": 20_000}))

    target("not-the-secret")
    with session_scope() as s:
        add_channel(s, get_vault(), get_tenant(s, "acme"), name="ops", kind="slack",
                    target=f"{receiver.server.url}/hook/slack")
    source_id = add_woo_source(tenant_id, pipeline["woo_url"], interval=3600)
    sync_now(source_id, ("orders",))
    try:
        wait_until(lambda: states(tenant_id, "order").get("failed") == 3, 180,
                   what="the orders to fail on IFS auth")
    except AssertionError as exc:
        with session_scope() as s:
            reasons = list(s.scalars(select(StagedRecord.last_error)))
        raise AssertionError(f"{exc}: {states(tenant_id)} {reasons}") from None

    def alert_state() -> str | None:
        with session_scope() as s:
            return s.scalar(select(Alert.state).where(Alert.kind == "ifs_auth_failed")
                            .order_by(Alert.id.desc()).limit(1))

    assert alert_state() == "open"
    wait_until(lambda: len(receiver.of("slack")) == 1, 120, what="the opened message")
    target(DEFAULT_CLIENT_SECRET)
    r = CliRunner().invoke(cli, ["replay", "--tenant", "acme"])
    assert r.exit_code == 0, r.output
    wait_until(lambda: len(pipeline["ifs"].orders()) == 3, 90, what="the orders to load")
    wait_until(lambda: alert_state() == "resolved", 60, what="the alert to resolve")
    wait_until(lambda: len(receiver.of("slack")) == 2, 120, what="the resolved message")
    assert receiver.of("slack")[1]["text"].startswith("[ml-connector] RESOLVED ifs_auth_failed")


def test_store_auth_alert_resolves_at_the_next_successful_fetch(
        clean_db: None, sandbox: dict[str, Any]) -> None:
    from connector.operations.admin import set_credentials, set_source_status
    from connector.pipeline.fetch import run_fetch
    from sandbox.woocommerce import DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET
    from tests.integration.harness import add_woo_source, make_tenant

    tenant_id = make_tenant(sandbox["ifs_url"])
    source_id = add_woo_source(tenant_id, sandbox["woo_url"], secret="cs_wrong_secret_0001",
                               interval=3600)
    assert run_fetch(source_id, "orders").paused
    with session_scope() as s:
        assert s.scalar(select(Alert.state).where(Alert.kind == "source_auth_failed")) == "open"
        src = s.get(Source, source_id)
        assert src is not None
        set_credentials(s, get_vault(), src, {"consumer_key": DEFAULT_CONSUMER_KEY,
                                              "consumer_secret": DEFAULT_CONSUMER_SECRET})
        set_source_status(s, src, "active", None)
    assert not run_fetch(source_id, "orders").paused
    with session_scope() as s:
        assert s.scalar(select(Alert.state).where(Alert.kind == "source_auth_failed")) == \
            "resolved"
