"""Issue 9 §2, the header-echo secret scan: an IFS that echoes the request's ``Authorization``
header in its error bodies, a real sync through real workers, then every place a secret could
land is searched for the access tokens IFS handed out and for the stored credentials: every
table of the database, every Redis key (broker queues and task results included), the worker
and beat logs, and what the CLI and the operator page show."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests
from click.testing import CliRunner
from sqlalchemy import text

from connector.config import Secret, get_settings, set_settings
from connector.db import get_engine, session_scope
from connector.handles import get_redis
from connector.models import Base, StagedRecord
from tests.integration.harness import (
    add_woo_source,
    make_tenant,
    settled,
    sync_now,
    wait_until,
)


def _redis_dump() -> str:
    client = get_redis()
    parts: list[str] = []
    for key in client.scan_iter("*"):
        kind = client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        values: Any
        if kind == "string":
            values = [client.get(key)]
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "hash":
            values = [v for pair in client.hgetall(key).items() for v in pair]
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = client.zrange(key, 0, -1)
        else:
            values = []
        parts.append(repr(key))
        for v in values:
            if v is None:
                continue
            value = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
            parts.append(value)
            parts.append(_message_body(value))
    return "\n".join(parts)


def _message_body(value: str) -> str:
    """A kombu message keeps its body base64-encoded: decode it so the scan reads it."""
    try:
        data = json.loads(value)
        if isinstance(data, dict) and data.get("properties", {}).get("body_encoding") == "base64":
            return base64.b64decode(data["body"]).decode("utf-8", "replace")
    except (ValueError, TypeError, AttributeError, binascii.Error):
        pass
    return ""


def _database_dump() -> str:
    parts = []
    with get_engine().connect() as conn:
        for table in Base.metadata.sorted_tables:
            parts.extend(str(row[0]) for row in conn.execute(
                text(f'SELECT t::text FROM "{table.name}" t')))
    return "\n".join(parts)


def _variants(secret: str) -> set[str]:
    """The secret as it could appear: plain, or base64-encoded on its own (Basic auth)."""
    return {secret, base64.b64encode(secret.encode()).decode().rstrip("=")}


def test_a_token_echoed_by_ifs_is_stored_and_logged_nowhere(pipeline: dict[str, Any],
                                                             tmp_path: Path) -> None:
    from sandbox.ifs import DEFAULT_CLIENT_SECRET
    from sandbox.woocommerce import DEFAULT_CONSUMER_SECRET

    ifs, woo = pipeline["ifs"], pipeline["woo"]
    ifs.seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    requests.post(f"{pipeline['ifs_url']}/_sandbox/faults", timeout=10,
                  json={"extra": {"echo_authorization_ratio": 1}}).raise_for_status()
    woo.seed(customers=2, orders=4, seed=21, guest_ratio=0.5, silent=True)
    tenant = make_tenant(pipeline["ifs_url"])
    source = add_woo_source(tenant, pipeline["woo_url"], interval=3600)
    since = sync_now(source, ("customers", "orders"))
    wait_until(lambda: _ran(source, since), 120, what="the streams to run")
    wait_until(lambda: settled(tenant), 120, what="the pipeline to settle")
    with session_scope() as s:
        reasons = [r.last_error or "" for r in s.query(StagedRecord).all()]
    echoed = [r for r in reasons if "Authorization" in r]
    assert echoed, reasons  # IFS did echo the header into the failure reasons
    assert all("Bearer ********" in r for r in echoed), echoed

    tokens = list(ifs._tokens)  # every access token IFS handed out during the test
    assert tokens
    secrets = {DEFAULT_CLIENT_SECRET, DEFAULT_CONSUMER_SECRET, *tokens}

    from connector.cli.main import cli

    runner = CliRunner()
    shown = "\n".join(runner.invoke(cli, args).output for args in (
        ["records", "--tenant", "acme"], ["alerts", "--tenant", "acme"],
        ["tenant", "show", "acme"]))
    from web.app import create_app

    before = get_settings()
    set_settings(replace(before, admin_user="ops", admin_password=Secret("pa55-word-ops")))
    try:
        auth = {"Authorization": "Basic " + base64.b64encode(b"ops:pa55-word-ops").decode()}
        page = create_app().test_client().get("/ops/", headers=auth).get_data(as_text=True)
    finally:
        set_settings(before)
    worker_log = Path(pipeline["worker"].log_path).read_text(errors="replace")
    beat_log = (Path(pipeline["worker"].log_path).parent / "beat.log").read_text(
        errors="replace")

    places = {"database": _database_dump(), "redis": _redis_dump(), "worker log": worker_log,
              "beat log": beat_log, "cli": shown, "/ops/": page}
    for where, content in places.items():
        for secret in secrets:
            for variant in _variants(secret):
                assert variant not in content, f"a secret is in plain text in the {where}"


def _ran(source_id: int, since: float) -> bool:
    from tests.integration.harness import streams_ran_since

    return streams_ran_since(source_id, ("customers", "orders"), since)
