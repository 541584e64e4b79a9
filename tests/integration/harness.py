"""Real components for integration tests: the sandbox over HTTP, a Celery worker subprocess,
and helpers to configure tenants and wait for the pipeline to settle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from connector.db import session_scope
from connector.handles import get_vault
from connector.models import PENDING, Source, StagedRecord, SyncCursor, Tenant
from connector.operations.admin import IfsTarget, add_source, add_tenant, set_ifs_target

ROOT = Path(__file__).resolve().parents[2]
#: Tests sync the seeded stores' whole history (a new source starts MLC_INITIAL_SYNC_DAYS back).
HISTORY = datetime(2000, 1, 1, tzinfo=UTC)


#: The session's worker and beat, once the ``pipeline_processes`` fixture started them (the
#: ``fleet_paused`` fixture stops them for a test).
FLEET: list[Any] = []


class Beat:
    """``celery beat`` as a subprocess (the dispatcher tick)."""

    def __init__(self, schedule_dir: Path) -> None:
        self.schedule = schedule_dir / "celerybeat-schedule"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Beat:
        log = open(self.schedule.parent / "beat.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tasks.app", "beat", "--loglevel", "INFO",
             "--schedule", str(self.schedule)],
            cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


class Worker:
    """``celery worker`` as a real subprocess on every queue (prefork pool)."""

    def __init__(self, concurrency: int = 4, log_path: Path | None = None,
                 name: str | None = None) -> None:
        self.concurrency = concurrency
        self.name = name or f"test{os.getpid()}"
        tmp = Path(os.environ.get("TMPDIR", "/tmp"))
        self.log_path = log_path or tmp / f"mlc-worker-{os.getpid()}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tasks.app", "worker",
             "-Q", "fetch,transform_first,transform,load,maintenance",
             "--concurrency", str(self.concurrency),
             "--loglevel", "INFO", "-E", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-n", f"{self.name}@%h"],
            cwd=ROOT, env=dict(os.environ), stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        from tasks.app import app

        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: see {self.log_path}")
            try:
                if app.control.ping(timeout=0.5):
                    return self
            except Exception:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"worker did not answer within 60 s: see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL the whole worker (a crash, not a shutdown)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "log", None):
            self.log.close()


def wait_until(predicate: Callable[[], Any], timeout: float = 60, interval: float = 0.3,
               what: str = "condition") -> Any:
    deadline = time.time() + timeout
    last: Any = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def make_tenant(ifs_url: str, *, name: str = "acme", company: str = "10", site: str = "S1",
                settings: dict[str, Any] | None = None) -> int:
    from sandbox.ifs import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REALM

    with session_scope() as s:
        tenant = add_tenant(s, name, company)
        set_ifs_target(s, get_vault(), tenant, IfsTarget(
            base_url=ifs_url, realm=DEFAULT_REALM, client_id=DEFAULT_CLIENT_ID,
            client_secret=DEFAULT_CLIENT_SECRET, site=site, order_type="NO",
            extra={"budget_per_min": 20_000}))
        tenant.settings = {"walk_in_customer": "WALKIN", "guest_policy": "walk_in",
                           **(settings or {})}
        return tenant.id


def add_woo_source(tenant_id: int, woo_url: str, *, name: str = "shop",
                   key: str | None = None, secret: str | None = None,
                   settings: dict[str, Any] | None = None, interval: int = 5) -> int:
    from connector.models import Tenant
    from sandbox.woocommerce import (
        DEFAULT_CONSUMER_KEY,
        DEFAULT_CONSUMER_SECRET,
        DEFAULT_KEY_OWNER,
    )

    with session_scope() as s:
        tenant = s.get(Tenant, tenant_id)
        assert tenant is not None
        src = add_source(s, get_vault(), tenant, name=name, system="woocommerce",
                         base_url=woo_url,
                         credentials={"consumer_key": key or DEFAULT_CONSUMER_KEY,
                                      "consumer_secret": secret or DEFAULT_CONSUMER_SECRET},
                         key_owner=DEFAULT_KEY_OWNER, poll_interval_s=interval,
                         settings={"use_oauth1": False, **(settings or {})},
                         start_date=HISTORY)
        if interval >= 3600:  # "no polling during this test": not due for a day
            from datetime import UTC, datetime, timedelta

            for cursor in s.scalars(select(SyncCursor).where(SyncCursor.source_id == src.id)):
                cursor.next_run_at = datetime.now(UTC) + timedelta(days=1)
        return src.id


def hold_enrichment(tenant_id: int) -> None:
    """Keep beat's IFS enrichment (every 5 minutes) away from the tenant for a few minutes,
    by recording a run as under way: a test that counts the tenant's IFS requests must not
    count an enrichment page that happened to fall inside it."""
    with session_scope() as s:
        tenant = s.get(Tenant, tenant_id)
        assert tenant is not None
        now = datetime.now(UTC).isoformat()
        tenant.enrichment = {**(tenant.enrichment or {}), "run": "held-by-test",
                             "touched_at": now}


def sync_now(source_id: int, streams: tuple[str, ...] = ("orders",)) -> float:
    """Make streams due now (beat's next tick dispatches them). Returns the request time."""
    from connector.pipeline.dispatch import request_now

    started = time.time()
    with session_scope() as s:
        request_now(s, [source_id], list(streams))
    return started


def streams_ran_since(source_id: int, streams: tuple[str, ...], since: float) -> bool:
    with session_scope() as s:
        cursors = s.scalars(select(SyncCursor).where(SyncCursor.source_id == source_id,
                                                     SyncCursor.stream.in_(streams))).all()
        return bool(cursors) and all(
            c.last_run_at is not None and c.last_run_at.timestamp() >= since
            and c.running_since is None for c in cursors)


def sync_and_settle(tenant_id: int, source_id: int, streams: tuple[str, ...] = ("orders",),
                    timeout: float = 120) -> None:
    """One sync of the streams, then wait until nothing is pending."""
    since = sync_now(source_id, streams)
    wait_until(lambda: streams_ran_since(source_id, streams, since), timeout,
               what=f"streams {streams} to run")
    wait_until(lambda: settled(tenant_id), timeout, what="the pipeline to settle")


def settled(tenant_id: int) -> bool:
    """No pending rows and no stream running: the pipeline has nothing left to do."""
    with session_scope() as s:
        pending = s.scalar(select(func.count()).select_from(StagedRecord).where(
            StagedRecord.tenant_id == tenant_id, StagedRecord.state == PENDING))
        running = s.scalar(select(func.count()).select_from(SyncCursor).join(
            Source, Source.id == SyncCursor.source_id).where(
            Source.tenant_id == tenant_id, SyncCursor.running_since.is_not(None)))
        return pending == 0 and running == 0


def states(tenant_id: int, entity: str | None = None) -> dict[str, int]:
    with session_scope() as s:
        q = select(StagedRecord.state, func.count()).where(StagedRecord.tenant_id == tenant_id)
        if entity:
            q = q.where(StagedRecord.entity == entity)
        return dict(s.execute(q.group_by(StagedRecord.state)).tuples().all())
