"""The chaos run: the real fleet under faults, then an invariant checker (issue 10).

One seeded, reproducible run: the sandbox (IFS, WooCommerce, BigCommerce simulators) in this
process, a Redis and a Postgres of the run's own (broker, results, budgets; the state — both
are restarted mid-run, so they are never the shared servers), and the real processes through
the CLI — several ``ml-connector worker``, two ``ml-connector beat`` at once, ``ml-connector
web``. While the stores' orders sync, a seeded schedule SIGKILLs whole workers and single pool
children (mid-IFS-call: IFS answers slowly), restarts Redis, restarts Postgres (``pg_ctl stop
-m immediate`` — a crash — or ``-m fast``), and IFS answers with 503s, 429s, latency and ETag
churn (another IFS user editing the record between read and write), and a proxy in front of IFS
drops the connection after some writes were done (drop-after-write). Then the faults stop, the
fleet settles, and the checker asserts what must hold after any such run:

* exactly one IFS order per store order and one GL voucher per store event;
* amounts equal (the reconciliation: no unexplained difference);
* nothing pending, no stream claimed;
* every failed record explained (a reason, and only the kinds a bad record may end with);
* no 60-second window of IFS requests above the tenant's budget.

Used by ``tests/chaos/test_chaos.py`` (CI size) and ``bench/chaos.py --long``.
"""

from __future__ import annotations

import os
import random
import re
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import delete, func, select, update

from tests.chaos.postgres import OwnPostgres
from tests.chaos.proxy import DropAfterWriteProxy
from tests.integration.fleet import OwnRedis, Process, free_port, ping

PROJECTIONS = "/main/ifsapplications/projection/"
TENANT = "chaos"


@dataclass
class ChaosOptions:
    seed: int = 10
    woo_orders: int = 40
    woo_customers: int = 12
    bc_orders: int = 12
    invalid: int = 2
    workers: int = 3
    concurrency: int = 2
    budget_per_min: int = 600
    chaos_s: float = 60.0
    settle_timeout_s: float = 240.0
    kill_every_s: tuple[float, float] = (8.0, 15.0)
    redis_restarts: int = 1
    postgres_restarts: int = 1
    drop_after_write: float = 0.05


@dataclass
class ChaosReport:
    seed: int
    records: dict[str, int] = field(default_factory=dict)
    faults: Counter[str] = field(default_factory=Counter)
    kills: Counter[str] = field(default_factory=Counter)
    store_orders: int = 0
    ifs_orders: int = 0
    vouchers: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    busiest_minute: int = 0
    budget_per_min: int = 0
    seconds: float = 0.0
    settled: bool = False
    tracebacks: dict[str, int] = field(default_factory=dict)  # per fleet log
    exits: Counter[str] = field(default_factory=Counter)  # workers that exited by themselves
    expected: Counter[str] = field(default_factory=Counter)  # expected-fault lines, by kind
    gave_up_at_start: int = 0  # workers whose pool child was killed while they started

    @property
    def budget_overruns(self) -> int:
        return max(0, self.busiest_minute - self.budget_per_min)

    def problems(self) -> list[str]:
        out = []
        if not self.settled:
            out.append("the fleet did not settle")
        out += [f"lost: {x}" for x in self.lost]
        out += [f"duplicated: {x}" for x in self.duplicated]
        out += [f"unexplained: {x}" for x in self.unexplained]
        out += [f"{log}: {n} traceback(s) (an expected fault is one line)"
                for log, n in sorted(self.tracebacks.items()) if n]
        if self.budget_overruns:
            out.append(f"busiest 60 s window {self.busiest_minute} > budget "
                       f"{self.budget_per_min}")
        return out


def busiest_minute(stamps: list[float]) -> int:
    stamps = sorted(stamps)
    best, lo = 0, 0
    for hi, t in enumerate(stamps):
        while stamps[lo] <= t - 60:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


class Chaos:
    """One run. ``folder`` holds the processes' logs, the run's Redis and, at the end, its
    Postgres log."""

    def __init__(self, opts: ChaosOptions, folder: Path, say: Any = print,
                 postgres: OwnPostgres | None = None) -> None:
        self.opts = opts
        self.folder = folder
        self.say = say
        self.rng = random.Random(opts.seed)
        self.report = ChaosReport(seed=opts.seed, budget_per_min=opts.budget_per_min)
        self.workers: list[Process] = []
        self.beats: list[Process] = []
        self.web: Process | None = None
        self.redis: OwnRedis | None = None
        self.postgres = postgres  # started here when not given; stopped at the end either way
        self._settings: Any = None
        self.sandbox: Any = None
        self.proxy: DropAfterWriteProxy | None = None

    # -- set-up ---------------------------------------------------------------------------

    def _env(self, data_dir: str = "fleet") -> dict[str, str]:
        assert self.redis is not None and self.postgres is not None
        path = self.folder / data_dir
        path.mkdir(exist_ok=True)
        return {"DATABASE_URL": self.postgres.url,
                "REDIS_URL": self.redis.url, "CELERY_BROKER_URL": self.redis.url,
                "MLC_DATA_DIR": str(path), "MLC_DISPATCH_INTERVAL_S": "2",
                "MLC_SWEEP_AFTER_S": "20", "MLC_RETRY_BACKOFF_MAX_S": "10",
                "MLC_FETCH_LEASE_S": "15", "MLC_LOAD_INFLIGHT_PER_TENANT": "10"}

    def _setup(self) -> tuple[int, list[int]]:
        from connector.cli.demo import _setup_tenant
        from connector.db import session_scope
        from connector.models import Source, Tenant
        from sandbox.ifs import IfsConfig
        from sandbox.server import start_all

        self.sandbox = start_all(ifs_config=IfsConfig(budget_per_min=100_000))
        sb = self.sandbox
        sb.ifs.seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
        sb.woo.seed(customers=self.opts.woo_customers, orders=self.opts.woo_orders,
                    seed=self.opts.seed, guest_ratio=0.2, invalid=self.opts.invalid,
                    silent=True)
        tenant_id, sources = _setup_tenant(sb)
        sb.bc.seed(customers=max(4, self.opts.bc_orders // 3), orders=self.opts.bc_orders,
                   seed=self.opts.seed)
        with session_scope() as s:
            s.execute(delete(Tenant).where(Tenant.name == TENANT))
            tenant = s.get(Tenant, tenant_id)
            assert tenant is not None
            tenant.name = TENANT  # the demo's set-up, under a name of its own
            self.proxy = DropAfterWriteProxy(sb.servers["ifs"].url, self.opts.drop_after_write,
                                             self.opts.seed).start()
            tenant.ifs_settings = {**tenant.ifs_settings, "base_url": self.proxy.url,
                                   "budget_per_min": self.opts.budget_per_min}
            s.execute(update(Source).where(Source.tenant_id == tenant_id)
                      .values(poll_interval_s=5))
        return tenant_id, sources

    def _start_fleet(self) -> None:
        assert self.redis is not None
        for i in range(self.opts.workers):
            self.workers.append(self._worker(i).start())
        for i in range(2):  # two beats at once: dispatch must still fetch each stream once
            self.beats.append(Process(["beat"], self.folder / f"beat{i}.log",
                                      env=self._env(f"beat{i}")).start())
        port = free_port()
        self.web = Process(["web", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
                           self.folder / "web.log", env=self._env()).start()
        deadline = time.time() + 180
        for i in range(self.opts.workers):
            while not ping(self.redis.url, self._name(i)):
                if time.time() > deadline:
                    raise RuntimeError(f"worker {i} did not start: {self.folder}")
                time.sleep(0.5)

    def _name(self, i: int) -> str:
        return f"chaos{i}-{self.opts.seed}@localhost"

    def _worker(self, i: int) -> Process:
        return Process(["worker", "-n", self._name(i), "--concurrency",
                        str(self.opts.concurrency)], self.folder / f"worker{i}.log",
                       env=self._env())

    # -- faults ---------------------------------------------------------------------------

    def _ifs_faults(self, on: bool) -> None:
        url = self.sandbox.servers["ifs"].url
        if self.proxy is not None:
            self.proxy.enabled = on
        if not on:
            requests.delete(f"{url}/_sandbox/faults", timeout=10)
            if self.proxy is not None:
                self.report.faults["ifs drop-after-write (writes done, answer lost)"] = (
                    self.proxy.dropped)
            return
        requests.post(f"{url}/_sandbox/faults", timeout=10, json={
            "error_5xx_ratio": 0.05, "error_5xx_status": 503, "rate_limit_ratio": 0.03,
            "retry_after_s": 1, "latency_ms": 120, "path_prefix": PROJECTIONS,
            "extra": {"etag_churn_ratio": 0.2, "seed": self.opts.seed}})
        self.report.faults.update(["ifs 503 (5%)", "ifs 429 (3%)", "ifs latency 120 ms",
                                   "ifs etag churn (20%)"])

    def _kill_something(self) -> None:
        i = self.rng.randrange(len(self.workers))
        worker = self.workers[i]
        if self.rng.random() < 0.5:
            children = worker.children()
            if children:
                os.kill(self.rng.choice(children), signal.SIGKILL)
                self.report.kills["pool child SIGKILL"] += 1
                return
        worker.kill()
        self.report.kills["worker SIGKILL"] += 1
        self.workers[i] = self._worker(i).start()

    def _supervise(self) -> None:
        """What a supervisor does: a worker that exited by itself is started again. Exit 0
        would not be restarted by one that restarts on failure (seen 10): a problem. (A
        worker started while Postgres is down exits 2, naming DATABASE_URL.)"""
        for i, worker in enumerate(self.workers):
            code = worker.proc.poll() if worker.proc is not None else None
            if code is None:
                continue
            worker.stop()
            self.report.exits[f"exit {code}"] += 1
            if code == 0:
                self.report.unexplained.append(f"worker{i} exited with 0: a supervisor "
                                               "that restarts on failure would not restart it")
            self.say(f"chaos: worker{i} exited with {code}; started again")
            self.workers[i] = self._worker(i).start()

    def _mutate_orders(self) -> None:
        """New versions while the fleet is down in parts: updates must not duplicate."""
        orders = self.sandbox.woo.orders()
        for order in self.rng.sample(orders, k=min(5, len(orders))):
            self.sandbox.woo.mutate_order(order["id"], status="completed")
        self.report.faults["woo order updated mid-run"] += 5

    # -- the run --------------------------------------------------------------------------

    def run(self) -> ChaosReport:
        from connector.db import session_scope
        from connector.pipeline.dispatch import request_now

        started = time.time()
        try:
            self.redis = OwnRedis(self.folder).start()
            self._own_database()
            tenant_id, sources = self._setup()
            self.tenant_id = tenant_id
            mark = len(self.sandbox.ifs.state.requests)
            self._start_fleet()
            self.say(f"chaos: fleet up ({self.opts.workers} workers, 2 beats, web); "
                     f"seed {self.opts.seed}")
            self._ifs_faults(True)
            with session_scope() as s:
                request_now(s, sources)
            restarts = self._restart_schedule()
            t0 = time.time()
            next_kill = t0 + self.rng.uniform(*self.opts.kill_every_s)
            mutated = False
            while time.time() - t0 < self.opts.chaos_s:
                now = time.time()
                if restarts and now - t0 >= restarts[0][0]:
                    self._restart(restarts.pop(0)[1])
                self._supervise()
                if now >= next_kill:
                    self._kill_something()
                    next_kill = now + self.rng.uniform(*self.opts.kill_every_s)
                if not mutated and now - t0 > self.opts.chaos_s / 2:
                    self._mutate_orders()
                    mutated = True
                time.sleep(0.2)
            self._ifs_faults(False)
            self.say("chaos: faults off; waiting for the fleet to settle")
            with session_scope() as s:
                request_now(s, sources)  # one more pass of every stream, faults off
            self.report.settled = self._settle(tenant_id, sources)
            calls = [r for r in self.sandbox.ifs.state.requests[mark:]
                     if r["path"].startswith(PROJECTIONS)]
            self.report.busiest_minute = busiest_minute([r["at"] for r in calls])
            self._check(tenant_id)
        finally:
            self._stop()
        self.report.seconds = time.time() - started
        return self.report

    def _own_database(self) -> None:
        """The run's Postgres, migrated; this process's settings point at it for the run."""
        from connector import migrate
        from connector.config import get_settings, set_settings
        from connector.db import reset_engine

        if self.postgres is None:
            self.postgres = OwnPostgres(self.folder).start()
        migrate.upgrade(self.postgres.url)
        self._settings = get_settings()
        set_settings(self._settings.with_services(self.postgres.url,
                                                  self._settings.redis_url or ""))
        reset_engine()

    def _restart_schedule(self) -> list[tuple[float, str]]:
        """When Redis and Postgres go down: seeded, spread over the chaos phase, never two at
        once (each restart waits for its server to be up again)."""
        at = [(self.rng.uniform(0.3, 0.7) * self.opts.chaos_s, "redis")
              for _ in range(self.opts.redis_restarts)]
        at += [(self.rng.uniform(0.2, 0.8) * self.opts.chaos_s, "postgres")
               for _ in range(self.opts.postgres_restarts)]
        return sorted(at)

    def _restart(self, server: str) -> None:
        assert self.redis is not None and self.postgres is not None
        if server == "redis":
            self.redis.restart(down_s=self.rng.uniform(0.5, 2.0))
            self.report.kills["redis restart"] += 1
            return
        # A crash (no checkpoint, crash recovery) or a fast shutdown (connections told so).
        mode = ("immediate", "fast")[len(self.postgres.restarts) % 2]
        down_s = self.rng.uniform(1.0, 3.0)
        self.say(f"chaos: postgres restart ({mode}, down {down_s:.1f} s)")
        self.postgres.restart(mode, down_s=down_s)
        self.report.kills[f"postgres restart ({mode})"] += 1
        from connector.db import reset_engine

        reset_engine()  # this process's pooled connections died with the server

    def _settle(self, tenant_id: int, sources: list[int]) -> bool:
        from connector.operations.progress import tenant_progress

        since = time.time()
        deadline = since + self.opts.settle_timeout_s
        calm = 0
        while time.time() < deadline:
            self._supervise()
            if tenant_progress(tenant_id, since=since - 1, source_ids=sources).settled:
                calm += 1
                if calm >= 3:  # settled three polls in a row: nothing in flight
                    return True
            else:
                calm = 0
            time.sleep(2)
        return False

    def _check(self, tenant_id: int) -> None:
        from connector.db import session_scope
        from connector.models import StagedRecord, SyncCursor
        from connector.operations.reconcile import reconcile

        sb = self.sandbox
        with session_scope() as s:
            self.report.records = dict(s.execute(
                select(StagedRecord.state, func.count()).where(
                    StagedRecord.tenant_id == tenant_id).group_by(StagedRecord.state))
                .tuples().all())
            failed = s.execute(select(StagedRecord.entity, StagedRecord.external_id,
                                      StagedRecord.error_kind, StagedRecord.last_error)
                               .where(StagedRecord.tenant_id == tenant_id,
                                      StagedRecord.state == "failed")).all()
            claimed = s.scalar(select(func.count()).select_from(SyncCursor).where(
                SyncCursor.running_since.is_not(None)))
        if self.report.records.get("pending"):
            self.report.unexplained.append(f"{self.report.records['pending']} pending")
        if claimed:
            self.report.unexplained.append(f"{claimed} stream(s) still claimed")
        for entity, external_id, kind, reason in failed:
            if kind != "data" or not reason:
                self.report.unexplained.append(
                    f"{entity} {external_id} failed as {kind}: {reason}")
        # Exactly one IFS record per store record and event.
        by_po = Counter(o["CustomerPoNo"] for o in sb.ifs.orders())
        self.report.ifs_orders = sum(by_po.values())
        self.report.duplicated += [f"IFS order {po} x{n}" for po, n in by_po.items() if n > 1]
        texts: Counter[str] = Counter()
        for voucher in sb.ifs.vouchers():
            texts.update({str(r.get("VoucherText2") or "") for r in voucher.get("Rows") or []})
        self.report.vouchers = sum(texts.values())
        self.report.duplicated += [f"voucher {t} x{n}" for t, n in texts.items() if t and n > 1]
        # Amounts and missing records: the reconciliation explains or reports each one.
        result = reconcile(TENANT, patience_s=120)
        for src in result.sources:
            self.report.store_orders += src.store_orders
            if src.error:
                self.report.unexplained.append(f"{src.source}: {src.error}")
            self.report.lost += [f"{src.source} {m}" for m in src.missing]
            self.report.unexplained += [f"{src.source} amount {m}" for m in src.mismatched]
            self.report.duplicated += [f"{src.source} extra {x}" for x in src.extra]
        for path in sorted(self.folder.glob("*.log")):
            if not path.name.startswith(("worker", "beat", "web")):
                continue  # the servers' own logs
            text = path.read_text(errors="replace")
            # A traceback, or a call stack put in a message (celery.beat's "Message Error").
            self.report.tracebacks[path.name] = (text.count("Traceback (most recent call last)")
                                                 + text.count("['  File \""))
            self.report.expected.update(re.findall(r"\[expected fault: (\w+)", text))
            # A pool child killed while its worker starts makes Celery give up ("Could not
            # start worker processes"): the worker exits 1 and is started again (_supervise),
            # as a supervisor does. Any other unrecoverable error (the broker crash of seen
            # 10) is a bug.
            crashes = [line for line in text.splitlines() if "Unrecoverable error" in line
                       and "Could not start worker processes" not in line]
            self.report.gave_up_at_start += text.count("Could not start worker processes')")
            if crashes:
                self.report.unexplained.append(f"{path.name}: {len(crashes)} unrecoverable "
                                               f"error(s): {crashes[0][-200:]}")

    def _stop(self) -> None:
        for proc in [*self.workers, *self.beats, *([self.web] if self.web else [])]:
            proc.stop(timeout=20)
        if self.proxy is not None:
            self.proxy.stop()
        if self.sandbox is not None:
            self.sandbox.stop()
        if self.redis is not None:
            self.redis.stop()
        if self._settings is not None:
            from connector.config import set_settings
            from connector.db import reset_engine

            reset_engine()
            set_settings(self._settings)
        if self.postgres is not None:
            self.postgres.stop()
