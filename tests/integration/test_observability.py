"""Observability: JSON log lines with the record's context and a correlation id that follows
it from fetch to IFS, the redactor applied; Prometheus metrics present and changing, also
across processes (multiprocess mode)."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connector.config import Secret, get_settings, set_settings
from connector.db import session_scope
from connector.logformat import (
    ContextFilter,
    _json_formatter,
    bind,
    correlation_id,
    reset_context,
)
from connector.logs import RedactingFilter, register_secret
from connector.models import StagedRecord
from tests.integration.harness import ROOT, add_woo_source, make_tenant

pytestmark = pytest.mark.integration


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """A JSON handler on the root logger, as MLC_LOG_FORMAT=json sets it up."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RedactingFilter())
    handler.addFilter(ContextFilter())
    handler.setFormatter(_json_formatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(level)
    reset_context()


def _lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_json_lines_carry_the_context_and_are_redacted(json_lines: io.StringIO) -> None:
    register_secret("cs-very-secret-42")
    reset_context(task_id="t-1", task="sync.load")
    bind(tenant=3, source=5, record=77, correlation_id="abc123")
    logging.getLogger("connector.test").warning("talking with key %s", "cs-very-secret-42")
    try:
        raise RuntimeError("boom with cs-very-secret-42")
    except RuntimeError:
        logging.getLogger("connector.test").exception("failed")
    first, second = _lines(json_lines)
    assert first["message"] == "talking with key ********"
    assert (first["tenant"], first["source"], first["record"]) == (3, 5, 77)
    assert (first["task_id"], first["task"], first["correlation_id"]) == ("t-1", "sync.load",
                                                                         "abc123")
    assert first["level"] == "WARNING" and first["logger"] == "connector.test"
    assert "cs-very-secret-42" not in json_lines.getvalue()
    assert "boom with ********" in second["exc_info"]


def test_json_format_is_chosen_by_the_environment(clean_db: None) -> None:
    env = {**os.environ, "MLC_LOG_FORMAT": "json", "MLC_LOG_LEVEL": "DEBUG"}
    r = subprocess.run([sys.executable, "-m", "connector.cli", "status", "--json"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "message", "tenant"} <= set(x)
                         for x in lines)
    r = subprocess.run([sys.executable, "-m", "connector.cli", "status"], capture_output=True,
                       text=True, env={**env, "MLC_LOG_FORMAT": "xml"}, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and "MLC_LOG_FORMAT" in r.stderr


def _metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"^{name}(?:{{(.*)}})? (\S+)$", line)
        if m and all(f'{k}="{v}"' in (m.group(1) or "") for k, v in labels.items()):
            total += float(m.group(2))
    assert want is not None
    return total


def test_a_record_is_followed_from_fetch_to_ifs_and_counted(
        clean_db: None, sandbox: dict[str, Any], json_lines: io.StringIO) -> None:
    from connector.operations.overview import prometheus_metrics
    from connector.pipeline.fetch import run_fetch
    from connector.pipeline.load import load
    from connector.pipeline.transform import transform

    sandbox["ifs"].seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    sandbox["woo"].seed(customers=0, orders=1, seed=12, guest_ratio=1.0, silent=True)
    tenant_id = make_tenant(sandbox["ifs_url"])
    source_id = add_woo_source(tenant_id, sandbox["woo_url"], interval=3600)
    before = prometheus_metrics()
    reset_context(task_id="fetch-task")
    assert run_fetch(source_id, "orders").staged == 1
    with session_scope() as s:
        rec = s.scalar(select(StagedRecord).where(StagedRecord.entity == "order"))
        assert rec is not None
        staged_id, order_id = rec.id, rec.external_id
    reset_context(task_id="transform-task")
    assert transform(staged_id)
    reset_context(task_id="load-task")
    assert load(staged_id).state == "done"
    after = prometheus_metrics()
    corr = correlation_id(source_id, "order", order_id)
    mine = [x for x in _lines(json_lines) if x.get("correlation_id") == corr]
    staged = [x for x in mine if x["message"].startswith(f"staged order {order_id}")]
    loaded = [x for x in mine if x["message"].startswith(f"load of record {staged_id}: done")]
    assert staged and staged[0]["record"] == staged_id and staged[0]["task_id"] == "fetch-task"
    assert loaded and loaded[0]["task_id"] == "load-task"
    assert loaded[0]["tenant"] == tenant_id and loaded[0]["source"] == source_id
    # Metrics present and changing.
    for name, labels in (("mlc_loads_total", {"outcome": "done"}),
                         ("mlc_ifs_requests_total", {"outcome": "2xx"}),
                         ("mlc_records_finished_total", {"state": "done"}),
                         ("mlc_load_duration_seconds_count", {})):
        assert _metric(after, name, **labels) > _metric(before, name, **labels), name
    assert 'mlc_cursor_lag_seconds{tenant="acme",source="shop",stream="orders"}' in after
    assert 'mlc_queue_depth{queue="load"}' in after
    assert 'mlc_staged_records{tenant="acme",state="done"} 1' in after


def test_web_serves_metrics_and_counts_webhooks(clean_db: None) -> None:
    from web.app import create_app

    before = get_settings()
    set_settings(replace(before, admin_user="ops", admin_password=Secret("pa55-word-ops")))
    try:
        client = create_app().test_client()
        auth = {"Authorization": "Basic " + base64.b64encode(b"ops:pa55-word-ops").decode()}
        first = client.get("/metrics", headers=auth).get_data(as_text=True)
        # An unknown tenant gets the same refusal as a bad signature (docs/security.md).
        assert client.post("/webhooks/woo/nobody/nothing", data=b"{}",
                           content_type="application/json").status_code == 401
        second = client.get("/metrics", headers=auth).get_data(as_text=True)
    finally:
        set_settings(before)
    labels = {"store": "woocommerce", "outcome": "rejected"}
    assert (_metric(second, "mlc_webhook_responses_total", **labels)
            == _metric(first, "mlc_webhook_responses_total", **labels) + 1)


def test_multiprocess_mode_adds_up_every_process(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = ("from connector import metrics\n"
             "metrics.ifs_request(200); metrics.ifs_request(429); metrics.budget_wait('ifs:t')")
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], check=True, env=env, cwd=ROOT,
                       timeout=60)
    r = subprocess.run([sys.executable, "-c",
                        "from connector import metrics; print(metrics.exposition())"],
                       capture_output=True, text=True, check=True, env=env, cwd=ROOT,
                       timeout=60)
    assert _metric(r.stdout, "mlc_ifs_requests_total", outcome="2xx") == 2
    assert _metric(r.stdout, "mlc_ifs_requests_total", outcome="429") == 2
    assert _metric(r.stdout, "mlc_budget_waits_total", budget="ifs") == 2


def test_grafana_dashboard_charts_metrics_that_exist(clean_db: None) -> None:
    from connector import metrics
    from connector.operations.overview import prometheus_metrics

    metrics._get()  # every counter registered
    exposed = set(re.findall(r"^# TYPE (\w+) ", prometheus_metrics(), flags=re.M))
    exposed |= {f"{m}_bucket" for m in exposed} | {f"{m}_total" for m in exposed}
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    used = {name for panel in dashboard["panels"] for target in panel["targets"]
            for name in re.findall(r"\bmlc_\w+", target["expr"])}
    assert used and used <= exposed, sorted(used - exposed)
    assert len(dashboard["panels"]) >= 10
