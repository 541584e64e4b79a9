"""``ml-connector sandbox serve`` as an operator runs it: a real process, real HTTP, SIGTERM."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
URL_LINE = re.compile(r"^(IFS Cloud|WooCommerce|BigCommerce)\s+(http://\S+)$")


class Served:
    def __init__(self, proc: subprocess.Popen[str], lines: list[str]) -> None:
        self.proc = proc
        self.lines = lines
        self.urls = {m.group(1): m.group(2) for m in map(URL_LINE.match, lines) if m}
        self.text = "\n".join(lines)


def _start(*args: str, timeout: float = 30.0) -> tuple[Served, queue.Queue[str | None]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector.cli", "sandbox", "serve", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    out: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.put(line.rstrip("\n"))
        out.put(None)

    threading.Thread(target=pump, daemon=True).start()
    lines: list[str] = []
    while True:
        try:
            line = out.get(timeout=timeout)
        except queue.Empty:
            proc.kill()
            pytest.fail(f"sandbox serve printed no ready line in {timeout} s: {lines}")
        if line is None:
            proc.wait(5)
            pytest.fail(f"sandbox serve exited early ({proc.returncode}): {lines}")
        lines.append(line)
        if line.startswith("serving;"):
            return Served(proc, lines), out


@pytest.fixture
def served() -> Iterator[tuple[Served, queue.Queue[str | None]]]:
    s, out = _start("--ifs-port", "0", "--woo-port", "0", "--bc-port", "0",
                    "--seed-orders", "5", "--seed-customers", "3")
    try:
        yield s, out
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait(5)


def test_serve_prints_urls_and_credentials_serves_and_stops_on_sigterm(
    served: tuple[Served, queue.Queue[str | None]],
) -> None:
    s, out = served
    assert set(s.urls) == {"IFS Cloud", "WooCommerce", "BigCommerce"}
    assert len({u.rsplit(":", 1)[1] for u in s.urls.values()}) == 3  # three distinct ports
    assert "sandbox value, not a secret" in s.text
    for creds in ("MLCONN_SYNC", "sandbox-ifs-secret", "ck_sandbox_0001", "cs_sandbox_0001",
                  "bc-sandbox-token", "/_sandbox/ifs/", "/_sandbox/woo/", "/_sandbox/bc/"):
        assert creds in s.text
    ifs, woo, bc = s.urls["IFS Cloud"], s.urls["WooCommerce"], s.urls["BigCommerce"]

    token = requests.post(
        f"{ifs}/auth/realms/mlc/protocol/openid-connect/token",
        data={"grant_type": "client_credentials", "client_id": "MLCONN_SYNC",
              "client_secret": "sandbox-ifs-secret"}, timeout=10,
    )
    assert token.status_code == 200, token.text
    customers = requests.get(
        f"{ifs}/main/ifsapplications/projection/v1/CustomerHandling.svc/CustomerInfoSet",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"}, timeout=10,
    )
    assert customers.status_code == 200, customers.text
    assert customers.json()["value"] == []
    unauthorised = requests.get(
        f"{ifs}/main/ifsapplications/projection/v1/CustomerHandling.svc/CustomerInfoSet",
        timeout=10)
    assert unauthorised.status_code == 401

    orders = requests.get(f"{woo}/wp-json/wc/v3/orders", params={"per_page": 100},
                          auth=("ck_sandbox_0001", "cs_sandbox_0001"), timeout=10)
    assert orders.status_code == 200, orders.text
    assert len(orders.json()) == 5
    assert orders.headers["X-WP-Total"] == "5"
    woo_customers = requests.get(f"{woo}/wp-json/wc/v3/customers",
                                 auth=("ck_sandbox_0001", "cs_sandbox_0001"), timeout=10)
    assert len(woo_customers.json()) == 3

    bc_orders = requests.get(f"{bc}/stores/sbx1/v2/orders",
                             headers={"X-Auth-Token": "bc-sandbox-token",
                                      "Accept": "application/json"}, timeout=10)
    assert bc_orders.status_code == 200, bc_orders.text
    assert len(bc_orders.json()) == 5
    assert "X-Rate-Limit-Requests-Left" in bc_orders.headers
    assert requests.get(f"{bc}/stores/sbx1/v2/orders", timeout=10).status_code == 401

    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(timeout=10) == 0
    rest: list[str] = []
    while (line := out.get(timeout=5)) is not None:
        rest.append(line)
    assert rest[-1] == "sandbox stopped", rest
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{woo}/wp-json/wc/v3/orders", timeout=2)


def test_ctrl_c_stops_cleanly_and_switches_apply() -> None:
    s, out = _start("--ifs-port", "0", "--woo-port", "0", "--bc-port", "0",
                    "--woo-plain-http", "--ifs-budget", "2", "--bc-retry-compression", "0.001")
    try:
        woo, ifs, bc = s.urls["WooCommerce"], s.urls["IFS Cloud"], s.urls["BigCommerce"]
        assert "OAuth 1.0a" in s.text
        # Plain-HTTP mode: Basic credentials make the request anonymous (401 cannot_view).
        basic = requests.get(f"{woo}/wp-json/wc/v3/orders",
                             auth=("ck_sandbox_0001", "cs_sandbox_0001"), timeout=10)
        assert basic.status_code == 401
        assert requests.get(f"{ifs}/_sandbox/ifs/config", timeout=10).json()[
            "budget_per_min"] == 2
        assert requests.get(f"{bc}/_sandbox/bc/config", timeout=10).json()[
            "retry_compression"] == 0.001
        s.proc.send_signal(signal.SIGINT)
        assert s.proc.wait(timeout=10) == 0
        rest: list[str] = []
        while (line := out.get(timeout=5)) is not None:
            rest.append(line)
        assert "sandbox stopped" in rest and not any("aborted" in x for x in rest), rest
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait(5)


def test_port_in_use_is_a_clean_error() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "connector.cli", "sandbox", "serve", "--ifs-port", str(port),
             "--woo-port", "0", "--bc-port", "0"],
            cwd=ROOT, capture_output=True, text=True, timeout=30,
        )
    assert proc.returncode == 1
    assert "cannot start the sandbox" in proc.stderr
    assert "Traceback" not in proc.stderr
