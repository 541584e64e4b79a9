"""The fleet the extra benchmark stages share (bench/latency.py, bench/fairness.py,
bench/backlog.py): live Postgres and Redis (embedded unless URLs are set, as bench/run.py), the
sandbox in this process, real ``ml-connector worker``, ``beat`` and optionally ``web``
subprocesses, and helpers to make tenants and read what the servers did.

Everything started here is stopped by :meth:`Fleet.stop` (also on errors and Ctrl-C).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from run import (  # noqa: E402 - bench/ is not a package
    ROOT,
    BenchError,
    MemorySampler,
    close_connections,
    machine_busy_s,
    machine_facts,
    postgres_pid,
    postgres_version,
    redis_pid,
    say,
    spawn,
    start_services,
    stop,
    tree_cpu_s,
    wait_for_line,
)

__all__ = ["ROOT", "BenchError", "Fleet", "IfsWatch", "close_connections", "percentiles", "say",
           "unwind_on_sigterm"]


def unwind_on_sigterm() -> None:
    """SIGTERM (a timeout, ``kill``) unwinds like Ctrl-C, so every ``finally`` stops what this
    process started."""
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    """p50 / p95 / p99 / max (nearest rank) of ``values``, in the same unit, rounded to ms."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(values)

    def rank(p: float) -> float:
        index = max(0, min(len(ordered) - 1, int(-(-p * len(ordered) // 100)) - 1))
        return round(ordered[index], 3)

    return {"n": len(ordered), "p50": rank(50), "p95": rank(95), "p99": rank(99),
            "max": round(ordered[-1], 3), "mean": round(statistics.fmean(ordered), 3)}


class IfsWatch(threading.Thread):
    """First time each ``CustomerPoNo`` is seen in the IFS simulator's order table."""

    def __init__(self, ifs: Any, every: float = 0.01) -> None:
        super().__init__(name="ifs-watch", daemon=True)
        self.ifs = ifs
        self.every = every
        self.seen: dict[str, float] = {}
        self._halt = threading.Event()
        self._count = -1

    def run(self) -> None:
        table = self.ifs.store.tables["order"]
        while not self._halt.is_set():
            now = time.time()
            with self.ifs.state.lock:
                if len(table.rows) != self._count:
                    self._count = len(table.rows)
                    for row in table.rows.values():
                        po = row.data.get("CustomerPoNo")
                        if po and po not in self.seen:
                            self.seen[po] = now
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


class Fleet:
    """Services, sandbox and the fleet's processes for one benchmark stage."""

    def __init__(self, name: str, *, workers: int = 4, web: bool = False,
                 ifs_config: Any = None, bc_config: Any = None) -> None:
        self.name = name
        self.workers = workers
        self.want_web = web
        self.ifs_config = ifs_config
        self.bc_config = bc_config
        self.worker: subprocess.Popen[bytes] | None = None
        self.beat: subprocess.Popen[bytes] | None = None
        self.web: subprocess.Popen[bytes] | None = None
        self.web_url = ""
        self.tenants: list[str] = []
        self.sandbox: Any = None
        self.stamp = datetime.now().strftime("%Y%m%d-%H%M%S")

    # --- lifecycle ---

    def start_services(self) -> None:
        from sandbox.server import start_all

        self.facts = machine_facts()
        self.settings, self.mode = start_services()
        logging.getLogger().setLevel(logging.WARNING)  # the children log to their own files
        self.facts["postgres_version"] = postgres_version()
        self.facts["services"] = self.mode
        self.logs = self.settings.data_dir.resolve() / "bench"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.sandbox = start_all(ifs_config=self.ifs_config, bc_config=self.bc_config)
        self.sandbox.ifs.seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in customer",
                                        "Company": "10"})

    def start_processes(self) -> None:
        self.starts = getattr(self, "starts", 0) + 1
        log = self.logs / f"{self.name}-{self.stamp}-{self.starts}"
        self.worker_log = Path(f"{log}-worker.log")
        self.beat_log = Path(f"{log}-beat.log")
        self.worker = spawn(["worker", "--concurrency", str(self.workers)], self.worker_log)
        self.beat = spawn(["beat"], self.beat_log)
        if self.want_web:
            port = free_port()
            self.web_log = Path(f"{log}-web.log")
            self.web = spawn(["web", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
                             self.web_log)
            self.web_url = f"http://127.0.0.1:{port}"
        wait_for_line(self.worker, self.worker_log, r"@\S+ ready\.", 120, "the worker")
        wait_for_line(self.beat, self.beat_log, r"beat: Starting", 60, "beat")
        if self.web is not None:
            self._wait_web()
        self.memory = MemorySampler(self.worker.pid)
        self.memory.sample()

    def _wait_web(self) -> None:
        import requests

        assert self.web is not None
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.web.poll() is not None:
                raise BenchError(f"web exited ({self.web.returncode}); see {self.web_log}")
            try:
                if requests.get(f"{self.web_url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise BenchError(f"web did not answer within 60 s; see {self.web_log}")

    def check_alive(self) -> None:
        for proc, what in ((self.worker, "worker"), (self.beat, "beat"), (self.web, "web")):
            if proc is not None and proc.poll() is not None:
                raise BenchError(f"the {what} exited (code {proc.returncode}); see "
                                 f"{self.logs}")

    def stop_processes(self) -> None:
        for proc in (self.web, self.beat, self.worker):
            stop(proc)
        self.web = self.beat = self.worker = None

    def stop(self) -> None:
        self.stop_processes()
        for name in self.tenants:
            try:
                delete_tenant(name)
            except Exception as exc:  # never hide the original error
                say(f"could not delete tenant {name}: {exc}")
        self.tenants.clear()
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None

    # --- tenants ---

    def tenant(self, name: str, *, budget_per_min: int = 100_000,
               settings: dict[str, Any] | None = None) -> int:
        from connector.db import session_scope
        from connector.handles import get_vault
        from connector.operations.admin import IfsTarget, add_tenant, set_ifs_target

        ifs = self.sandbox.credentials()["ifs"]
        with session_scope() as s:
            tenant = add_tenant(s, name, "10")
            set_ifs_target(s, get_vault(), tenant, IfsTarget(
                base_url=ifs["base_url"], realm=ifs["realm"], client_id=ifs["client_id"],
                client_secret=ifs["client_secret"], site="S1", order_type="NO",
                extra={"budget_per_min": budget_per_min}))
            tenant.settings = {"walk_in_customer": "WALKIN", "guest_policy": "walk_in",
                               **(settings or {})}
            s.flush()
            self.tenants.append(name)
            return int(tenant.id)

    def woo_source(self, tenant_id: int, base_url: str, *, prefix: str = "W") -> int:
        """A WooCommerce source on ``base_url`` (a WooSimulator), not due until asked."""
        from connector.db import session_scope
        from connector.handles import get_vault
        from connector.models import Tenant
        from connector.operations.admin import add_source
        from sandbox.woocommerce.simulator import (
            DEFAULT_CONSUMER_KEY,
            DEFAULT_CONSUMER_SECRET,
            DEFAULT_KEY_OWNER,
        )

        with session_scope() as s:
            tenant = s.get(Tenant, tenant_id)
            source = add_source(
                s, get_vault(), tenant, name="webshop", system="woocommerce", base_url=base_url,
                key_owner=DEFAULT_KEY_OWNER, poll_interval_s=3600,
                credentials={"consumer_key": DEFAULT_CONSUMER_KEY,
                             "consumer_secret": DEFAULT_CONSUMER_SECRET},
                settings={"use_oauth1": False, "id_prefix": prefix},
                start_date=datetime(2000, 1, 1, tzinfo=UTC))
            s.flush()
            not_due(s, source.id)
            return int(source.id)

    def bc_source(self, tenant_id: int) -> int:
        from connector.db import session_scope
        from connector.handles import get_vault
        from connector.models import Tenant
        from connector.operations.admin import add_source

        bc = self.sandbox.credentials()["bigcommerce"]
        with session_scope() as s:
            tenant = s.get(Tenant, tenant_id)
            source = add_source(
                s, get_vault(), tenant, name="bc", system="bigcommerce",
                base_url=bc["base_url"],
                credentials={"store_hash": bc["store_hash"], "access_token": bc["access_token"],
                             "client_id": bc["client_id"],
                             "client_secret": bc["client_secret"]},
                poll_interval_s=3600, settings={"request_budget_per_min": 100_000},
                start_date=datetime(2000, 1, 1, tzinfo=UTC))
            s.flush()
            not_due(s, source.id)
            return int(source.id)

    # --- what the servers did ---

    def cpu_snapshot(self) -> dict[str, float]:
        data = self.settings.data_dir.resolve()
        pg = postgres_pid(data) if self.mode["postgres"] == "embedded" else None
        rd = redis_pid(data) if self.mode["redis"] == "embedded" else None
        return {"postgres": tree_cpu_s(pg) if pg else 0.0,
                "redis": tree_cpu_s(rd) if rd else 0.0, "machine": machine_busy_s()}


def not_due(session: Any, source_id: int) -> None:
    """Polling off until the benchmark asks: the source's cursors are due in a day."""
    from sqlalchemy import select

    from connector.models import SyncCursor

    for cursor in session.scalars(select(SyncCursor).where(SyncCursor.source_id == source_id)):
        cursor.next_run_at = datetime.now(UTC) + timedelta(days=1)


def delete_tenant(name: str) -> None:
    from sqlalchemy import delete

    from connector.db import session_scope
    from connector.models import Tenant

    with session_scope() as s:
        s.execute(delete(Tenant).where(Tenant.name == name))


def pg_stats() -> dict[str, int]:
    """The database's cumulative tuple and block counters (pg_stat_database)."""
    from sqlalchemy import text

    from connector.db import session_scope

    with session_scope() as s:
        s.execute(text("SELECT pg_stat_clear_snapshot()"))
        row = s.execute(text(
            "SELECT tup_returned, tup_fetched, blks_read, blks_hit, xact_commit "
            "FROM pg_stat_database WHERE datname = current_database()")).one()
    return {"tup_returned": int(row[0]), "tup_fetched": int(row[1]), "blks_read": int(row[2]),
            "blks_hit": int(row[3]), "xact_commit": int(row[4])}


def redis_memory_mb() -> float:
    from connector.handles import get_redis

    info = get_redis().info("memory")
    return round(int(info["used_memory"]) / 1024 / 1024, 2)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def run_stage(run: Any, opts: Any, summary: Any = None) -> int:
    """The common end of a bench script's ``main``: run it with the fleet unwound on SIGTERM
    and Ctrl-C, the exit code of a :class:`BenchError`, the JSON written to ``opts.out`` and
    a closing line (``summary(result)``, or the JSON's path)."""
    unwind_on_sigterm()
    try:
        result = run(opts)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("bench: interrupted; subprocesses and sandbox stopped", file=sys.stderr)
        return 130
    finally:
        close_connections()
    write_json(opts.out, result)
    say(f"{summary(result)}; JSON: {opts.out}" if summary else f"JSON: {opts.out}")
    return 0


def env_dispatch_interval() -> float:
    return float(os.environ.get("MLC_DISPATCH_INTERVAL_S", "2"))
