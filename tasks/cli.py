"""The commands that run or talk to Celery: ``worker``, ``beat``, ``flower`` (Procfile
processes), ``sync`` (enqueues a dispatch) and ``replay`` (pumps the replayed rows).

They live beside the Celery app so that the library (``connector/``) never imports it; the
``ml-connector`` root finds them through the ``ml_connector.commands`` entry points
(pyproject.toml).
"""

from __future__ import annotations

from typing import Any

import click

from connector.cli.common import bootstrap, command_session, fail, tenant_sources
from connector.config import get_settings
from connector.errors import ConfigError


@click.command()
@click.option("--tenant", "tenant_name", required=True)
@click.option("--source", "source_name", help="Only this source (default: all of the tenant).")
@click.option("--wait", is_flag=True, help="Wait until the sync has settled, showing progress.")
@click.option("--timeout", default=900, show_default=True, type=int,
              help="Seconds --wait waits before giving up (exit 1).")
@click.option("--order", "order_ids", multiple=True, metavar="ID",
              help="Re-sync this store order now (repeatable; needs --source).")
@click.option("--dry-run", is_flag=True,
              help="With --order: print what would be written to IFS, write nothing.")
@click.option("--json", "as_json", is_flag=True, help="--dry-run plans as JSON lines.")
def sync(tenant_name: str, source_name: str | None, wait: bool, timeout: int,
         order_ids: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Run a sync now: every stream of the tenant's (or one) source is fetched at once.

    With --order ID (repeatable) only those orders are read from the store and put through
    the pipeline (a failed or parked one is replayed); --dry-run prints the IFS plan instead."""
    import time

    from connector.pipeline.dispatch import request_now

    if order_ids or dry_run:
        _sync_orders(tenant_name, source_name, list(order_ids), dry_run=dry_run, wait=wait,
                     timeout=timeout, as_json=as_json)
        return

    started = time.time()  # before the request: beat may dispatch it at once
    with command_session() as session:
        tenant, sources = tenant_sources(session, tenant_name, source_name)
        active = [s.id for s in sources if s.status == "active"]
        for s in sources:
            if s.status != "active":
                click.echo(f"skipping {s.name}: {s.status} ({s.status_reason or 'no reason'})")
        request_now(session, active)
        tenant_id = tenant.id
    if not active:
        fail("no active source to sync", 1)
    from tasks.sync import dispatch

    _require_worker()
    dispatch.delay()
    click.echo(f"sync requested for {len(active)} source(s) of {tenant_name}")
    if wait:
        _settle(tenant_name, tenant_id, active, started, timeout)


def _require_worker() -> None:
    from tasks.app import app

    if not app.control.ping(timeout=2.0):
        fail("no worker answers: start one with `ml-connector worker` (and `ml-connector "
             "beat` for the schedule)", 1)


def _settle(tenant_name: str, tenant_id: int, source_ids: list[int], started: float,
            timeout: int, *, streams: bool = True) -> None:
    from connector.cli.progress import wait_settled

    progress = wait_settled(tenant_id, started=started, source_ids=source_ids, timeout=timeout,
                            streams=streams)
    if progress is None:
        fail(f"not settled after {timeout}s (see `ml-connector records --tenant "
             f"{tenant_name}`)", 1)
        return
    _fail_if_paused(source_ids, tenant_name)
    if progress.failed or progress.parked:
        fail(f"settled with {progress.failed} record(s) failed and {progress.parked} "
             f"parked (see `ml-connector records --tenant {tenant_name}`; fix and "
             "`ml-connector replay`)", 1)
    click.echo(f"settled: {progress.finished} record(s) synced, none failed or parked")


def _sync_orders(tenant_name: str, source_name: str | None, order_ids: list[str], *,
                 dry_run: bool, wait: bool, timeout: int, as_json: bool) -> None:
    """``sync --order ID...``: re-sync named orders now, or print their plans."""
    import time

    from connector.cli.plans import echo_plans, summary
    from connector.operations import backfill as ops
    from connector.stores.registry import get_store

    if not source_name or not order_ids:
        fail("--order and --dry-run need --source and at least one --order ID", 2)
        return
    started = time.time()
    with command_session() as session:
        tenant, [source] = tenant_sources(session, tenant_name, source_name)
        source_id, tenant_id, system = source.id, tenant.id, source.system
        reader = get_store(system).read_one
        if dry_run and reader is None:
            fail(f"{system} sources cannot dry-run a re-sync", 2)
        if not dry_run:
            result = ops.resync(session, source, order_ids)
    if dry_run and reader is not None:
        rows = ops.plan(source_id, [r for oid in order_ids
                                    for r in reader(source_id, "order", oid)])
        echo_plans(rows, as_json=as_json)
        click.echo(summary(rows), err=as_json)
        return
    for oid, what in result.items():
        click.echo(f"order {oid}: {what}")
    from tasks.sync import pump

    pump(tenant_id)
    if wait:
        _require_worker()
        _settle(tenant_name, tenant_id, [source_id], started, timeout, streams=False)


@click.command()
@click.option("--tenant", "tenant_name", required=True)
@click.option("--source", "source_name", required=True)
@click.option("--since", required=True, help="Oldest modification date to read (YYYY-MM-DD "
              "or an ISO timestamp, UTC when naive).")
@click.option("--until", help="Read up to this moment (exclusive; default: the source's start "
              "date, where its normal sync begins).")
@click.option("--window", default=200, show_default=True, type=click.IntRange(1, 5000),
              help="Store orders read and staged per window.")
@click.option("--max-backlog", default=500, show_default=True, type=click.IntRange(1),
              help="Wait while more records than this wait to load (the IFS budget paces).")
@click.option("--dry-run", is_flag=True, help="Print what would be written to IFS, write "
              "nothing.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(0),
              help="--dry-run: plans printed per window (the rest are counted).")
@click.option("--json", "as_json", is_flag=True, help="--dry-run plans as JSON lines.")
@click.option("--timeout", default=3600, show_default=True, type=int,
              help="Seconds to wait for the pipeline at the end before giving up (exit 1).")
def backfill(tenant_name: str, source_name: str, since: str, until: str | None, window: int,
             max_backlog: int, dry_run: bool, limit: int, as_json: bool, timeout: int) -> None:
    """Stage a store's history between two dates, in windows (resumable).

    Run it again with the same --since/--until after Ctrl-C or a crash: it resumes after the
    last window staged. Records already synced are not staged again."""
    import time
    from datetime import UTC, datetime

    from connector.operations import backfill as ops
    from connector.operations.lifecycle import parse_start_date

    with command_session() as session:
        tenant, [source] = tenant_sources(session, tenant_name, source_name)
        start = parse_start_date(since)
        floor = (source.settings or {}).get("start_date")
        end = (parse_start_date(until) if until else
               parse_start_date(str(floor)) if floor and parse_start_date(str(floor)) > start
               else datetime.now(UTC))
        if dry_run:
            if start >= end:
                fail("--since must be before --until", 2)
            run_id = None
        else:
            run = ops.start_or_resume(session, source, start, end)
            run_id, resumed = run.id, run.read
        source_id, tenant_id = source.id, tenant.id
    if dry_run:
        _backfill_dry(source_id, start, end, window, limit, as_json)
        return
    _require_worker()
    from connector.cli.progress import HistoryBar
    from tasks.sync import pump

    if resumed:
        click.echo(f"resuming the backfill of {source_name} ({resumed} order(s) read before)")
    began = datetime.now(UTC)
    read = staged = 0
    reached = None
    try:
        with HistoryBar(start, end) as bar:
            while True:
                while (waiting := ops.backlog(source_id)) > max_backlog:
                    bar.update(reached=reached, read=read, staged=staged, backlog=waiting)
                    pump(tenant_id)
                    time.sleep(1.0)
                assert run_id is not None
                last = ops.run_window(run_id, max_rows=window)
                read, staged, reached = read + last.read, staged + last.staged, last.reached
                pump(tenant_id)
                bar.update(reached=reached, read=read, staged=staged,
                           backlog=ops.backlog(source_id))
                if last.done:
                    bar.finish()
                    break
    except KeyboardInterrupt:
        fail(f"interrupted after {read} order(s) read: run the same command again to resume", 130)
    click.echo(f"backfill of {source_name} read {read} order(s), staged {staged} new "
               "record(s); waiting for the pipeline")
    deadline = time.time() + timeout
    while ops.backlog(source_id) and time.time() < deadline:
        pump(tenant_id)
        time.sleep(1.0)
    result = ops.outcome(source_id, began)
    if ops.backlog(source_id):
        fail(f"not settled after {timeout}s: {result}", 1)
    bad = result.get("failed", 0), result.get("parked", 0)
    if any(bad):
        fail(f"backfill settled with {bad[0]} record(s) failed and {bad[1]} parked (see "
             f"`ml-connector records --tenant {tenant_name}`)", 1)
    click.echo(f"backfill settled: {result.get('done', 0)} record(s) loaded")


def _backfill_dry(source_id: int, start: object, end: object, window: int, limit: int,
                  as_json: bool) -> None:
    from connector.cli.plans import echo_plans, summary
    from connector.operations import backfill as ops

    position: dict[str, object] = {}
    every: list[dict[str, object]] = []
    while True:
        step, position = ops.dry_window(source_id, position, since=start,  # type: ignore[arg-type]
                                        until=end, max_rows=window)  # type: ignore[arg-type]
        rows = ops.plan(source_id, step.records)
        echo_plans(rows, as_json=as_json, limit=limit)
        every += rows
        if step.done:
            break
    click.echo(summary(every), err=as_json)


def _fail_if_paused(source_ids: list[int], tenant_name: str) -> None:
    """A source paused during the sync (its key stopped working, its stored secret cannot be
    decrypted) did not sync: say so and exit 1 instead of "settled"."""
    from connector.db import session_scope
    from connector.models import Source

    with session_scope() as s:
        stopped = [(src.name, src.status, src.status_reason)
                   for sid in source_ids if (src := s.get(Source, sid)) is not None
                   and src.status != "active"]
    if stopped:
        for name, status, reason in stopped:
            click.echo(f"source {name} is {status}: {reason or 'no reason'}", err=True)
        fail(f"the sync did not complete: {len(stopped)} source(s) stopped (see "
             f"`ml-connector alerts --tenant {tenant_name}`)", 1)

@click.command()
@click.option("--tenant", "tenant_name", required=True)
@click.option("--id", "ids", multiple=True, type=int, help="Record id (repeatable).")
@click.option("--source", "source_name", help="Only records of this source.")
@click.option("--entity", type=click.Choice(["customer", "order", "payment", "shipment",
                                             "refund"]))
@click.option("--parked/--no-parked", default=True, show_default=True,
              help="Include parked records.")
def replay(tenant_name: str, ids: tuple[int, ...], source_name: str | None,
           entity: str | None, parked: bool) -> None:
    """Put failed (and parked) records back into the pipeline after a fix. Idempotent."""
    from connector.models import FAILED, PARKED
    from connector.operations.admin import get_source, get_tenant
    from connector.pipeline import records as staged

    with command_session() as session:
        t = get_tenant(session, tenant_name)
        source_id = get_source(session, t, source_name).id if source_name else None
        count = staged.replay(session, tenant_id=t.id, ids=list(ids) or None,
                              source_id=source_id, entity=entity,
                              states=(FAILED, PARKED) if parked else (FAILED,))
        tenant_id = t.id
    click.echo(f"{count} record(s) queued for replay")
    if count:
        from tasks.sync import pump

        pump(tenant_id)


# --- processes (Procfile) --------------------------------------------------------------------


def _quiet_root_warning() -> None:
    """Celery prints a screenful about superuser privileges when the worker runs as root.
    Containers and CI often run as root on purpose (the project's Dockerfile does not: it runs
    as an unprivileged user); one log line says it instead. Pickle is never accepted
    (tasks/app.py), which is what makes root dangerous for a Celery worker."""
    import logging
    import os
    import warnings

    if hasattr(os, "geteuid") and os.geteuid() == 0:
        from celery.exceptions import SecurityWarning

        warnings.filterwarnings("ignore", category=SecurityWarning)
        logging.getLogger(__name__).warning(
            "worker running as root (uid 0); prefer an unprivileged user (see deploy/Dockerfile)")


def start_celery(app: Any, argv: list[str]) -> Any:
    """``app.start(argv)`` that keeps the exit code: Celery's worker ends with
    ``ctx.exit(worker.exitcode)`` (1 after an unrecoverable error), click's non-standalone
    ``main`` returns that code, and ``app.start`` drops it — the process then exited 0 and a
    supervisor that restarts on failure did not restart it (issue 10, seen 10)."""
    from celery.bin.celery import celery
    from click.exceptions import Exit

    celery.params[0].default = app
    try:
        return celery.main(args=argv, standalone_mode=False)
    except Exit as exc:
        return exc.exit_code
    finally:
        celery.params[0].default = None


def _exit_with(code: object) -> None:
    """Leave with Celery's exit code: ``app.start`` returns it instead of exiting, and an
    unrecoverable error must end the process non-zero so a supervisor restarts it."""
    import sys

    if isinstance(code, int) and code != 0:
        sys.exit(code)


@click.command()
@click.option("--queues", default="fetch,transform_first,transform,load,maintenance",
              show_default=True)
@click.option("--concurrency", type=int, default=None, help="Pool size (default: CPU count).")
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--metrics-port", type=click.IntRange(1, 65535), envvar="MLC_METRICS_PORT",
              help="Serve this worker's Prometheus counters on this port (env "
                   "MLC_METRICS_PORT).")
@click.option("-n", "--hostname", "node_name", default=None,
              help="Node name (default: unique per process, worker-<pid>@<host>).")
def worker(queues: str, concurrency: int | None, loglevel: str, metrics_port: int | None,
           node_name: str | None) -> None:
    """Run a Celery worker (the `worker` process). Exits non-zero on an unrecoverable error."""
    import os

    bootstrap()
    _quiet_root_warning()
    if metrics_port:
        from connector.metrics import serve

        serve(metrics_port)
    from tasks.app import app

    name = node_name or f"worker-{os.getpid()}@%h"
    argv = ["worker", "-Q", queues, "--loglevel", loglevel, "-E", "--without-gossip",
            "-n", name]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    _exit_with(start_celery(app, argv))


@click.command()
@click.option("--loglevel", default="INFO", show_default=True)
def beat(loglevel: str) -> None:
    """Run Celery beat: one dispatcher tick (the `beat` process; run exactly one)."""
    bootstrap()
    from tasks.app import app

    schedule = get_settings().data_dir / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    _exit_with(start_celery(app, ["beat", "--loglevel", loglevel, "--schedule",
                                  str(schedule)]))


@click.command()
@click.option("--port", default=5555, show_default=True, type=int)
@click.option("--address", default="127.0.0.1", show_default=True)
def flower(port: int, address: str) -> None:
    """Run the Flower dashboard behind basic auth (MLC_ADMIN_USER / MLC_ADMIN_PASSWORD); its
    /metrics and /healthcheck ask for the same credentials."""
    bootstrap()
    settings = get_settings()
    if not settings.admin_user or not settings.admin_password:
        raise ConfigError(
            "MLC_ADMIN_PASSWORD",
            "Flower requires MLC_ADMIN_USER and MLC_ADMIN_PASSWORD (no open dashboard)",
        )
    from tasks.app import app
    from tasks.flower import run_flower

    run_flower(app, user=settings.admin_user, password=settings.admin_password.reveal(),
               port=port, address=address)
