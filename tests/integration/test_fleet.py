"""``ml-connector fleet``: release, then the long-running processes under one supervisor; a
sync goes through it, Flower, the console /ops/ and /metrics ask for the operator login,
Ctrl-C stops it cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from tasks.fleet import DEFAULT_PROCFILE, parse_procfile
from tests.integration.harness import ROOT, add_woo_source, make_tenant, wait_until

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _answers(url: str, **kwargs: Any) -> bool:
    try:
        return requests.get(url, timeout=3, **kwargs).status_code < 500
    except requests.RequestException:
        return False


def test_builtin_procfile_is_the_shipped_one() -> None:
    assert parse_procfile((ROOT / "Procfile").read_text()) == parse_procfile(DEFAULT_PROCFILE)


def test_fleet_runs_release_then_serves_syncs_and_stops_cleanly(
        clean_db: None, sandbox: dict[str, Any], tmp_path: Path) -> None:
    sandbox["ifs"].seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    sandbox["woo"].seed(customers=2, orders=3, seed=31, silent=True)
    tenant = make_tenant(sandbox["ifs_url"])
    add_woo_source(tenant, sandbox["woo_url"], interval=3600)
    web_port, flower_port = _free_port(), _free_port()
    env = {**os.environ, "PORT": str(web_port), "FLOWER_PORT": str(flower_port),
           "MLC_DATA_DIR": str(tmp_path), "MLC_ADMIN_USER": "ops",
           "MLC_ADMIN_PASSWORD": "fleet-pa55-word", "WEB_CONCURRENCY": "1"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = tmp_path / "fleet.log"
    with open(log_path, "wb") as log:
        fleet = subprocess.Popen([sys.executable, "-m", "connector.cli", "fleet",
                                  "--procfile", str(ROOT / "Procfile")], env=env, cwd=ROOT,
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    web = f"http://127.0.0.1:{web_port}"
    flower = f"http://127.0.0.1:{flower_port}"
    try:
        wait_until(lambda: _answers(f"{web}/healthz") and _answers(flower), 180,
                   what="web and flower to answer")
        wait_until(lambda: " ready." in log_path.read_text(), 180, what="the worker")
        text = log_path.read_text()
        assert text.index("release | ") < text.index("web ")  # release ran first
        auth = ("ops", "fleet-pa55-word")
        # the console asks for its login (docs/console.md); Basic auth opens /metrics only
        page = requests.get(f"{web}/ops/", auth=auth, allow_redirects=False, timeout=10)
        assert page.status_code == 302 and "/ops/login" in page.headers["Location"]
        login = requests.Session()
        form = login.get(f"{web}/ops/login", timeout=10).text
        token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        answer = login.post(f"{web}/ops/login", timeout=10, data={
            "csrf_token": token, "username": auth[0], "password": auth[1]})
        assert answer.status_code == 200 and "<h1>Overview</h1>" in answer.text
        assert requests.get(f"{web}/metrics", timeout=10).status_code == 401
        assert requests.get(f"{web}/metrics", auth=auth, timeout=10).status_code == 200
        assert requests.get(flower, timeout=10).status_code == 401
        assert requests.get(flower, auth=auth, timeout=10).status_code == 200
        r = subprocess.run([sys.executable, "-m", "connector.cli", "sync", "--tenant", "acme",
                            "--wait", "--timeout", "240"], capture_output=True, text=True,
                           env=env, cwd=ROOT, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        assert len(sandbox["ifs"].orders()) == 3
    finally:
        if fleet.poll() is None:
            os.kill(fleet.pid, signal.SIGINT)  # Ctrl-C
        try:
            code = fleet.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(fleet.pid, signal.SIGKILL)
            raise
    text = log_path.read_text()
    assert code == 0, text[-3000:]
    assert text.rstrip().endswith("| stopped")
    assert "killed" not in text
    assert not _answers(f"{web}/healthz") and not _answers(flower)
