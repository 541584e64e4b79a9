"""The operator's day-to-day commands: alerts ack/resolve, source set/remove, tenant remove,
per-source status, money formatting, a quiet and fast command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from connector.cli import cli
from connector.db import session_scope
from connector.handles import get_redis, get_vault
from connector.models import (
    Alert,
    AuditEvent,
    Source,
    StagedRecord,
    SyncCursor,
    Tenant,
    WebhookDelivery,
)
from connector.operations.admin import add_source, add_tenant
from connector.pipeline import records
from connector.pipeline.audit import raise_alert

ROOT = Path(__file__).resolve().parents[2]
CREDS = {"consumer_key": "ck_1", "consumer_secret": "cs-secret-one"}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _tenant_with_source(name: str = "acme", source: str = "eu") -> tuple[int, int]:
    with session_scope() as s:
        t = add_tenant(s, name, "10")
        src = add_source(s, get_vault(), t, name=source, system="woocommerce",
                         base_url="https://shop.test", credentials=CREDS)
        return t.id, src.id


def _stage(tenant_id: int, source_id: int, n: int, state: str = "pending",
           enqueued: bool = False) -> None:
    with session_scope() as s:
        ids = records.stage(s, tenant_id=tenant_id, source_id=source_id, origin="poll",
                            records=[records.Incoming("order", f"{state}-{enqueued}-{i}", "v1",
                                                      {"i": i})
                                     for i in range(n)])
        for row in s.scalars(select(StagedRecord).where(StagedRecord.id.in_(ids))):
            row.state = state
            row.enqueued_at = datetime.now(UTC) if enqueued else None


# --- alerts ---------------------------------------------------------------------------------


def test_alerts_ack_and_resolve_are_audited_with_the_operator(
        clean_db: None, runner: CliRunner) -> None:
    tenant_id, source_id = _tenant_with_source()
    with session_scope() as s:
        raise_alert(s, tenant_id=tenant_id, source_id=source_id, kind="source_auth_failed",
                    message="eu: key revoked")
        alert_id = s.scalar(select(Alert.id))
    r = runner.invoke(cli, ["alerts", "--tenant", "acme", "--json"])
    assert r.exit_code == 0, r.output
    [listed] = json.loads(r.output)
    assert listed["id"] == alert_id and listed["state"] == "open"
    assert listed["source"] == "eu" and listed["acknowledged"] is False
    r = runner.invoke(cli, ["alerts", "ack", str(alert_id), "--operator", "alice",
                            "--note", "rotating the key"])
    assert r.exit_code == 0 and "acknowledged by alice" in r.output, r.output
    r = runner.invoke(cli, ["alerts", "--tenant", "acme"])
    assert f"#{alert_id} [open (acknowledged)] source_auth_failed eu" in r.output
    r = runner.invoke(cli, ["alerts", "resolve", str(alert_id), "--operator", "bob"])
    assert r.exit_code == 0 and "resolved by bob" in r.output
    r = runner.invoke(cli, ["alerts", "resolve", str(alert_id), "--operator", "bob"])
    assert r.exit_code == 1 and "already resolved" in r.output
    r = runner.invoke(cli, ["alerts", "ack", "999", "--operator", "bob"])
    assert r.exit_code == 3 and "unknown alert #999" in r.output
    r = runner.invoke(cli, ["alerts", "--tenant", "acme", "--json"])
    assert json.loads(r.output) == []
    r = runner.invoke(cli, ["alerts", "--tenant", "acme", "--all", "--json"])
    assert [a["state"] for a in json.loads(r.output)] == ["resolved"]
    r = runner.invoke(cli, ["alerts"])
    assert r.exit_code == 2 and "--tenant" in r.output
    with session_scope() as s:
        rows = s.execute(select(AuditEvent.action, AuditEvent.actor, AuditEvent.detail)
                         .where(AuditEvent.entity == "alert").order_by(AuditEvent.id)).all()
    assert [(a, b) for a, b, _ in rows] == [("acknowledge", "alice"), ("resolve", "bob")]
    assert rows[0][2].endswith("rotating the key")


def test_alert_operations_api(clean_db: None) -> None:
    from connector.operations.admin import InvalidInput
    from connector.operations.alerts import AlertStateError, acknowledge, resolve

    tenant_id, _ = _tenant_with_source()
    with session_scope() as s:
        raise_alert(s, tenant_id=tenant_id, source_id=None, kind="ifs_auth_failed", message="x")
        alert_id = s.scalar(select(Alert.id))
    with session_scope() as s, pytest.raises(InvalidInput):
        acknowledge(s, alert_id, operator=" ")
    with session_scope() as s:
        a = acknowledge(s, alert_id, operator="carol")
        assert a.acknowledged and a.state == "open"
    with session_scope() as s:
        a = resolve(s, alert_id, operator="carol", note="secret fixed")
        assert a.state == "resolved" and a.resolved_at is not None
    with session_scope() as s, pytest.raises(AlertStateError):
        acknowledge(s, alert_id, operator="carol")


# --- source set / remove, tenant remove ------------------------------------------------------


def test_source_set_changes_what_it_is_told_and_audits(clean_db: None, runner: CliRunner) -> None:
    _tenant_with_source()
    r = runner.invoke(cli, ["source", "set", "--tenant", "acme", "--source", "eu",
                            "--base-url", "https://new.shop.test/", "--interval", "120",
                            "--setting", "overlap_s=30", "--setting", "order_by_modified=false",
                            "--start-date", "2024-01-31"])
    assert r.exit_code == 0, r.output
    with session_scope() as s:
        src = s.scalar(select(Source))
        assert src is not None
        assert (src.base_url, src.poll_interval_s) == ("https://new.shop.test", 120)
        assert src.settings["overlap_s"] == 30 and src.settings["order_by_modified"] is False
        assert src.settings["start_date"] == "2024-01-31T00:00:00+00:00"
        marks = {c.watermark for c in s.scalars(select(SyncCursor))}
        assert marks == {datetime(2024, 1, 31, tzinfo=UTC)}
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action.startswith("update base_url"))) == 1
    r = runner.invoke(cli, ["source", "set", "--tenant", "acme", "--source", "eu",
                            "--unset", "overlap_s"])
    assert r.exit_code == 0
    r = runner.invoke(cli, ["source", "set", "--tenant", "acme", "--source", "eu",
                            "--unset", "nope"])
    assert r.exit_code == 2 and "no setting nope" in r.output
    r = runner.invoke(cli, ["source", "set", "--tenant", "acme", "--source", "eu"])
    assert r.exit_code == 2 and "nothing to change" in r.output
    r = runner.invoke(cli, ["source", "set", "--tenant", "acme", "--source", "eu",
                            "--start-date", "last tuesday"])
    assert r.exit_code == 2 and "YYYY-MM-DD" in r.output
    with session_scope() as s:  # once it has synced, the start date is history
        for c in s.scalars(select(SyncCursor)):
            c.last_run_at = datetime.now(UTC)
    r = runner.invoke(cli, ["source", "set", "--tenant", "acme", "--source", "eu",
                            "--start-date", "2020-01-01"])
    assert r.exit_code == 2 and "backfill" in r.output


def test_new_source_starts_a_window_back_not_at_the_beginning_of_time(clean_db: None) -> None:
    before = datetime.now(UTC)
    _tenant_with_source()
    with session_scope() as s:
        marks = [c.watermark for c in s.scalars(select(SyncCursor))]
    assert marks and all(m is not None for m in marks)
    for mark in marks:
        assert mark is not None
        assert abs((before - timedelta(days=30)) - mark) < timedelta(minutes=5)


def test_source_remove_refuses_in_flight_work_unless_forced(
        clean_db: None, runner: CliRunner) -> None:
    tenant_id, source_id = _tenant_with_source()
    _stage(tenant_id, source_id, 3, "pending", enqueued=True)
    _stage(tenant_id, source_id, 2, "done")
    r = runner.invoke(cli, ["source", "remove", "--tenant", "acme", "--source", "eu", "--yes"])
    assert r.exit_code == 1 and "3 record(s) in flight" in r.output and "--force" in r.output
    r = runner.invoke(cli, ["source", "remove", "--tenant", "acme", "--source", "eu"],
                      input="n\n")
    assert r.exit_code == 1 and "5 staged record(s) (3 in flight)" in r.output
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Source)) == 1
    r = runner.invoke(cli, ["source", "remove", "--tenant", "acme", "--source", "eu",
                            "--force"], input="y\n")
    assert r.exit_code == 0, r.output
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Source)) == 0
        assert s.scalar(select(func.count()).select_from(StagedRecord)) == 0
        assert s.scalar(select(AuditEvent.action).where(AuditEvent.entity == "source")
                        .order_by(AuditEvent.id.desc()).limit(1)) == "remove (forced)"
    r = runner.invoke(cli, ["source", "remove", "--tenant", "acme", "--source", "eu", "--yes"])
    assert r.exit_code == 3


def test_tenant_remove_confirms_refuses_and_cascades(clean_db: None, runner: CliRunner) -> None:
    tenant_id, source_id = _tenant_with_source()
    _stage(tenant_id, source_id, 1, "pending")
    r = runner.invoke(cli, ["tenant", "remove", "acme", "--yes"])
    assert r.exit_code == 1 and "in flight" in r.output
    with session_scope() as s:
        for row in s.scalars(select(StagedRecord)):
            row.state = "failed"
    r = runner.invoke(cli, ["tenant", "remove", "acme"], input="n\n")
    assert r.exit_code == 1
    r = runner.invoke(cli, ["tenant", "remove", "acme"], input="y\n")
    assert r.exit_code == 0 and "tenant acme removed" in r.output
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Tenant)) == 0
        assert s.scalar(select(func.count()).select_from(Source)) == 0
        assert s.scalar(select(func.count()).select_from(StagedRecord)) == 0
        assert s.scalar(select(AuditEvent.action).where(AuditEvent.entity == "tenant")
                        .order_by(AuditEvent.id.desc()).limit(1)) == "remove"
    r = runner.invoke(cli, ["tenant", "remove", "acme", "--yes"])
    assert r.exit_code == 3


# --- status ---------------------------------------------------------------------------------


def test_status_per_source_health(clean_db: None, runner: CliRunner) -> None:
    from connector.ratelimit import RedisBudget

    tenant_id, source_id = _tenant_with_source()
    _stage(tenant_id, source_id, 2, "pending")
    _stage(tenant_id, source_id, 3, "pending", enqueued=True)
    _stage(tenant_id, source_id, 4, "failed")
    _stage(tenant_id, source_id, 1, "parked")
    ran = datetime.now(UTC) - timedelta(minutes=10)
    with session_scope() as s:
        for c in s.scalars(select(SyncCursor).where(SyncCursor.source_id == source_id)):
            c.last_run_at = c.last_success_at = ran
        s.add(WebhookDelivery(tenant_id=tenant_id, source_id=source_id, dedupe_key="d1",
                              topic="order.created", state="enqueued", body={}))
    budget = RedisBudget(get_redis(), f"ifs:tenant-{tenant_id}", 600)
    for _ in range(7):
        budget.try_acquire()
    r = runner.invoke(cli, ["status", "--json"])
    assert r.exit_code == 0, r.output
    [row] = json.loads(r.output)["sources"]
    assert (row["tenant"], row["source"], row["status"]) == ("acme", "eu", "active")
    assert row["records"] == {"pending": 2, "in_flight": 3, "failed": 4, "parked": 1, "done": 0}
    assert row["last_success"] == ran.isoformat()
    assert 590 <= row["lag_s"] <= 900
    assert row["webhooks"]["received_24h"] == 1 and row["webhooks"]["healthy"] is True
    assert row["budget"]["used_last_min"] >= 7 and row["budget"]["limit_per_min"] == 600
    r = runner.invoke(cli, ["status"], terminal_width=200)
    assert r.exit_code == 0 and "acme/eu" in r.output and "in flight" in r.output, r.output


# --- money, quiet Alembic, fast --help, WEB_CONCURRENCY ------------------------------------


def test_money_is_printed_with_currency_and_thousands() -> None:
    from connector.operations.reconcile import Reconciliation, format_money, render
    from connector.stores.reconciling import SourceReport

    assert format_money("EUR", "17037.21") == "EUR 17,037.21"
    assert format_money("EUR", Decimal("-1234.5")) == "EUR -1,234.50"
    report = SourceReport("eu", "woocommerce", store_orders=3, ifs_orders=3,
                          store_net={"EUR": "17037.21", "USD": "90.00"},
                          ifs_net={"EUR": "17037.21"},
                          mismatched=[{"store_id": "9", "po": "W-9", "store_net": "1200.00",
                                       "ifs_net": "1100.00"}])
    text = render(Reconciliation("acme", [report]))
    assert "net EUR 17,037.21, USD 90.00" in text and "{" not in text
    assert "net 1,200.00 in the store but 1,100.00 in IFS" in text


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "connector.cli", *args], capture_output=True,
                          text=True, env=env or dict(os.environ), cwd=ROOT, timeout=120)


def test_commands_do_not_print_alembic_boilerplate(clean_db: None) -> None:
    r = _cli("status")
    assert r.returncode == 0, r.stderr
    assert "Context impl" not in r.stderr and "Will assume" not in r.stderr


def test_help_imports_neither_sqlalchemy_nor_celery() -> None:
    probe = ("import sys\nfrom connector.cli.main import main\n"
             "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "heavy = sorted(m for m in ('sqlalchemy', 'celery', 'alembic', 'requests')"
             " if m in sys.modules)\nprint('HEAVY', heavy, file=sys.stderr)\n")
    for args in (["--help"], ["sync", "--help"], ["worker", "--help"]):
        r = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True,
                           text=True, cwd=ROOT, timeout=120)
        assert "Usage:" in r.stdout, r.stderr
        heavy = r.stderr.split("HEAVY", 1)[1].strip()
        expected = "[]" if args == ["--help"] else None
        if expected:
            assert heavy == expected, (args, heavy)
        else:
            assert "celery" not in heavy, (args, heavy)


def test_help_summaries_match_the_commands() -> None:
    import click

    from connector.cli.main import SUMMARY, LazyGroup

    ctx = click.Context(cli)
    assert isinstance(cli, LazyGroup)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None and name in SUMMARY, name
        first = (command.help or "").strip().split("\n\n")[0].replace("\n", " ")
        first = " ".join(first.split())
        assert first == SUMMARY[name], (name, first)


def test_web_workers_follow_web_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    from web.cli import web

    monkeypatch.setenv("WEB_CONCURRENCY", "5")
    assert web.make_context("web", []).params["workers"] == 5
    monkeypatch.delenv("WEB_CONCURRENCY")
    assert web.make_context("web", []).params["workers"] == 2


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_worker_as_root_says_so_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    import warnings

    from celery.exceptions import SecurityWarning

    from tasks.cli import _quiet_root_warning

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        _quiet_root_warning()
        warnings.warn(SecurityWarning("You're running the worker with superuser privileges"),
                      stacklevel=1)
    assert not seen
    assert "worker running as root" in caplog.text
