"""BigCommerce integration fixtures: the BigCommerce simulator over real HTTP (delivering signed
webhooks), a real ``web`` process (gunicorn) that receives them, and helpers to configure a
BigCommerce tenant and to post hand-made deliveries.

Import the fixtures into the test module (``from tests.integration.bigcommerce_harness import
bc_pipeline_fixture, bc_sim_fixture, web_fixture``); they register as ``bc_pipeline``,
``bc_sim`` and ``web``.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from connector.db import session_scope
from connector.handles import get_vault
from connector.models import Source, SyncCursor, Tenant
from connector.operations.admin import add_source
from connector.pipeline.targets import source_credentials
from connector.stores.bigcommerce.webhooks import sign_bc_webhook
from sandbox.common import ServerThread
from tests.integration.harness import HISTORY, ROOT, make_tenant, wait_until

POSTING_RULES = {
    "payment": {"debit": "1930", "credit": "2990", "voucher_type": "M",
                "dimensions": {"CodeB": "100"}},
    "shipment": {"debit": "2990", "credit": "3010", "voucher_type": "M",
                 "dimensions": {"CodeB": "100"}},
    "refund": {"debit": "3010", "credit": "1930", "voucher_type": "M"},
}
LABELS = {"shipment": "bc:shipped", "refund": "bc:refunded"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session", name="bc_sim")
def bc_sim_fixture() -> Iterator[tuple[Any, str]]:
    """The BigCommerce simulator: webhook retries compressed 1000×, a roomy request quota."""
    from sandbox.bigcommerce import BcConfig, BcSimulator

    sim = BcSimulator(BcConfig(retry_compression=0.001, quota=100_000))
    server = ServerThread(sim.app).start()
    yield sim, server.url
    sim.close()
    server.stop()


class WebProcess:
    """``ml-connector web`` (gunicorn) as a subprocess on a free local port."""

    def __init__(self, log_path: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WebProcess:
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "connector.cli", "web", "--bind", f"127.0.0.1:{self.port}",
             "--workers", "2"],
            cwd=ROOT, env=dict(os.environ), stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"web process exited: see {self.log_path}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"web process did not answer within 60 s: see {self.log_path}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


@pytest.fixture(scope="session", name="web")
def web_fixture(services: object,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebProcess]:
    process = WebProcess(tmp_path_factory.mktemp("web") / "web.log").start()
    yield process
    process.stop()


@pytest.fixture(name="bc_pipeline")
def bc_pipeline_fixture(pipeline: dict[str, Any], bc_sim: tuple[Any, str],
                        web: WebProcess) -> dict[str, Any]:
    """The running pipeline (worker, beat, IFS simulator) plus BigCommerce and ``web``."""
    sim, url = bc_sim
    sim.reset()
    return {**pipeline, "bc": sim, "bc_url": url, "web": web}


def make_bc_tenant(ifs_url: str, *, name: str = "acme", policy: str = "create",
                   labels: dict[str, str] | None = None,
                   rules: dict[str, Any] | None = None, **settings: Any) -> int:
    """A tenant for BigCommerce: customer policy, order labels and posting rules."""
    tenant_id = make_tenant(ifs_url, name=name, settings={
        "bc_customer_policy": policy, "bc_order_labels": LABELS if labels is None else labels,
        **settings})
    with session_scope() as s:
        tenant = s.get(Tenant, tenant_id)
        assert tenant is not None
        tenant.posting_rules = POSTING_RULES if rules is None else rules
    return tenant_id


def add_bc_source(tenant_id: int, bc_url: str, *, name: str = "bc",
                  client_secret: str | None = None, interval: int = 3600,
                  settings: dict[str, Any] | None = None) -> int:
    """A BigCommerce source on the simulator. ``interval >= 3600``: no polling during the test
    (webhooks only) unless the test asks for a sync."""
    from sandbox.bigcommerce import (
        DEFAULT_ACCESS_TOKEN,
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        DEFAULT_STORE_HASH,
    )

    with session_scope() as s:
        tenant = s.get(Tenant, tenant_id)
        assert tenant is not None
        src = add_source(s, get_vault(), tenant, name=name, system="bigcommerce",
                         base_url=bc_url,
                         credentials={"store_hash": DEFAULT_STORE_HASH,
                                      "access_token": DEFAULT_ACCESS_TOKEN,
                                      "client_id": DEFAULT_CLIENT_ID,
                                      "client_secret": client_secret or DEFAULT_CLIENT_SECRET},
                         poll_interval_s=interval,
                         # the simulator's quota here is roomy; so is the fleet's budget
                         settings={"request_budget_per_min": 100_000, **(settings or {})},
                         start_date=HISTORY)
        if interval >= 3600:
            for cursor in s.scalars(select(SyncCursor).where(SyncCursor.source_id == src.id)):
                cursor.next_run_at = datetime.now(UTC) + timedelta(days=1)
        return src.id


def hook_url(web: WebProcess, tenant: str = "acme", source: str = "bc") -> str:
    return f"{web.url}/webhooks/bc/{tenant}/{source}"


def hook_secret(source_id: int) -> str:
    with session_scope() as s:
        source = s.get(Source, source_id)
        assert source is not None
        return str(source_credentials(source).get("hook_secret") or "")


def delivery(scope: str, data: dict[str, Any], *, secret: str, custom_secret: str | None,
             timestamp: int | None = None, webhook_id: str | None = None,
             created_at: int | None = None) -> tuple[bytes, dict[str, str]]:
    """A BigCommerce callback as the platform sends it (bc §5): thin JSON, Standard Webhooks
    headers signed with ``secret``, and the custom header when given."""
    from sandbox.bigcommerce import DEFAULT_STORE_HASH, DEFAULT_STORE_ID

    stamp = int(time.time()) if timestamp is None else timestamp
    body = json.dumps({
        "scope": scope, "store_id": DEFAULT_STORE_ID, "data": data,
        "hash": hashlib.sha1(json.dumps(data, sort_keys=True, separators=(",", ":"))
                             .encode()).hexdigest(),
        "created_at": stamp if created_at is None else created_at,
        "producer": f"stores/{DEFAULT_STORE_HASH}"}).encode()
    msg_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    headers = {"Content-Type": "application/json", "webhook-id": msg_id,
               "webhook-timestamp": str(stamp),
               "webhook-signature": sign_bc_webhook(body, msg_id, stamp, secret)}
    if custom_secret is not None:
        headers["x-mlc-hook-secret"] = custom_secret
    return body, headers


def post(url: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(url, data=body, headers=headers, timeout=10)


def order_fetches(sim: Any, order_id: int) -> int:
    """How often the store was asked for this order (a fetch the connector enqueued)."""
    path = f"/v2/orders/{order_id}"
    return sum(1 for r in list(sim.state.requests)
               if r["method"] == "GET" and r["path"].endswith(path))


def wait_for(predicate: Any, what: str, timeout: float = 60) -> Any:
    return wait_until(predicate, timeout, what=what)
