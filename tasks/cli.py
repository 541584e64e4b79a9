"""The commands that run or talk to Celery: ``worker``, ``beat``, ``flower`` (Procfile
processes), ``sync`` (enqueues a dispatch) and ``replay`` (pumps the replayed rows).

They live beside the Celery app so that the library (``connector/``) never imports it; the
``ml-connector`` root finds them through the ``ml_connector.commands`` entry points
(pyproject.toml).
"""

from __future__ import annotations

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
def sync(tenant_name: str, source_name: str | None, wait: bool, timeout: int) -> None:
    """Run a sync now: every stream of the tenant's (or one) source is fetched at once."""
    import time

    from connector.operations.progress import tenant_progress
    from connector.pipeline.dispatch import request_now

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
    from tasks.app import app
    from tasks.sync import dispatch

    if not app.control.ping(timeout=2.0):
        fail("no worker answers: start one with `ml-connector worker` (and `ml-connector "
              "beat` for the schedule)", 1)
    dispatch.delay()
    click.echo(f"sync requested for {len(active)} source(s) of {tenant_name}")
    if not wait:
        return
    deadline = started + timeout
    last = ""
    while time.time() < deadline:
        progress = tenant_progress(tenant_id, since=started, source_ids=active)
        line = progress.line()
        if line != last:
            click.echo(line)
            last = line
        if progress.settled:
            _fail_if_paused(active, tenant_name)
            click.echo("settled")
            return
        time.sleep(1.0)
    fail(f"not settled after {timeout}s (see `ml-connector records --tenant {tenant_name}`)", 1)


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


@click.command()
@click.option("--queues", default="fetch,transform,load,maintenance", show_default=True)
@click.option("--concurrency", type=int, default=None, help="Pool size (default: CPU count).")
@click.option("--loglevel", default="INFO", show_default=True)
def worker(queues: str, concurrency: int | None, loglevel: str) -> None:
    """Run a Celery worker (the `worker` process)."""
    bootstrap()
    from tasks.app import app

    argv = ["worker", "-Q", queues, "--loglevel", loglevel, "-E", "--without-gossip"]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    app.worker_main(argv)


@click.command()
@click.option("--loglevel", default="INFO", show_default=True)
def beat(loglevel: str) -> None:
    """Run Celery beat: one dispatcher tick (the `beat` process; run exactly one)."""
    bootstrap()
    from tasks.app import app

    schedule = get_settings().data_dir / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    app.start(["beat", "--loglevel", loglevel, "--schedule", str(schedule)])


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
