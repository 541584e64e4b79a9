"""Issue 9 §6: Flower gets the whole operator password (a comma no longer shortens it) and its
/metrics and /healthcheck are behind the same authentication."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

PASSWORD = "pa,ss:wo,rd-7"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def flower(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("flower") / "flower.log"
    env = {**os.environ, "MLC_ADMIN_USER": "ops", "MLC_ADMIN_PASSWORD": PASSWORD,
           "FLOWER_BASIC_AUTH": "intruder:guess"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "connector.cli", "flower", "--port",
                                 str(port)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=Path(__file__).resolve().parents[2])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            assert proc.poll() is None, log.read_text()
            try:
                requests.get(url + "/healthcheck", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.3)
        else:
            raise AssertionError(f"flower did not start: {log.read_text()}")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_the_whole_password_is_needed_and_nothing_else_opens(flower: str) -> None:
    assert requests.get(flower + "/", auth=("ops", PASSWORD), timeout=10).status_code == 200
    for wrong in (("ops", "pa"), ("ops", "pa,ss:wo"), ("intruder", "guess"), ("ops", "")):
        assert requests.get(flower + "/", auth=wrong, timeout=10).status_code == 401, wrong


@pytest.mark.parametrize("path", ["/metrics", "/healthcheck"])
def test_metrics_and_healthcheck_need_the_credentials(flower: str, path: str) -> None:
    assert requests.get(flower + path, timeout=10).status_code == 401
    assert requests.get(flower + path, auth=("ops", "pa"), timeout=10).status_code == 401
    assert requests.get(flower + path, auth=("ops", PASSWORD), timeout=10).status_code == 200
