"""``ml-connector reconcile``: each store against IFS, over a window of orders.

By default the orders created in the last :data:`DEFAULT_DAYS` days (a large tenant's history
is not re-read on every run); ``--since/--until`` choose the window, ``--all`` compares
everything. ``--window-days N`` splits a long range into windows reconciled and printed one
after another, so a run that stops can be resumed with ``--since`` of the window it was in.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from connector.cli.common import bootstrap, fail

#: The window of ``reconcile`` without ``--since``/``--all``: orders created this many days back.
DEFAULT_DAYS = 30


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option} must be a date (YYYY-MM-DD) or an ISO timestamp, got {value!r}", 2)
        raise  # not reached: fail exits
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _ChunkProgress:
    """Orders compared per source, after every chunk: a rich status line on a terminal, a line
    on stderr every few chunks otherwise."""

    EVERY = 20

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.status: Any = None
        self.label = ""

    def __enter__(self) -> _ChunkProgress:
        if self.tty:
            from rich.console import Console

            self.status = Console(stderr=True).status("reconciling")
            self.status.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)

    def __call__(self, report: Any) -> None:
        line = (f"{self.label}{report.source}: {report.store_orders} order(s) compared in "
                f"{report.chunks} chunk(s), {report.unexplained} unexplained so far")
        if self.status is not None:
            self.status.update(line)
        elif report.chunks % self.EVERY == 0:
            click.echo(line, err=True)


@click.command(name="reconcile")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--since", help="Compare orders created from this moment (YYYY-MM-DD or an ISO "
              f"timestamp, UTC when naive). Default: {DEFAULT_DAYS} days ago.")
@click.option("--until", help="... created before this moment (exclusive; default: now; "
              "with --days, the window ends here).")
@click.option("--days", type=click.IntRange(1), default=DEFAULT_DAYS, show_default=True,
              help="Without --since: the window is the orders created in the last N days.")
@click.option("--all", "everything", is_flag=True,
              help="Compare every order the source syncs, whatever its date.")
@click.option("--window-days", type=click.IntRange(1),
              help="Split the range into windows of N days, each reconciled and printed as it "
              "finishes (resume a stopped run with --since of its window).")
@click.option("--chunk", "chunk_size", type=click.IntRange(1, 100), default=None,
              help="Orders read and compared per step (one store page; default 50).")
@click.option("--json", "as_json", is_flag=True)
def reconcile_command(tenant_name: str, since: str | None, until: str | None, days: int,
                      everything: bool, window_days: int | None, chunk_size: int | None,
                      as_json: bool) -> None:
    """Compare each store with IFS: counts, net totals, failed records with reasons."""
    from connector.operations.reconcile import Reconciliation, reconcile, render
    from connector.stores.reconciling import CHUNK_SIZE, Window

    if everything and (since or until or window_days):
        fail("--all compares everything: give it without --since, --until or --window-days",
             2)
    lo, hi = _moment(since, "--since"), _moment(until, "--until")
    if not everything and lo is None:
        lo = (hi or datetime.now(UTC)) - timedelta(days=days)
    try:
        window = Window(lo, hi)
    except ValueError as exc:
        fail(str(exc), 2)
    windows = window.split(window_days) if window_days else [window]
    bootstrap()
    results: list[Reconciliation] = []
    progress = _ChunkProgress()
    current = windows[0]
    try:
        with progress:
            for number, current in enumerate(windows, 1):
                progress.label = (f"window {number}/{len(windows)} "
                                  if len(windows) > 1 else "")
                result = reconcile(tenant_name, window=current,
                                   chunk_size=chunk_size or CHUNK_SIZE, on_chunk=progress)
                results.append(result)
                if len(windows) > 1 and not as_json:
                    click.echo(f"[window {number}/{len(windows)}] {render(result)}")
    except ValueError as exc:
        fail(str(exc), 3)
    except KeyboardInterrupt:
        resume = current.since.isoformat() if current.since else "the beginning"
        click.echo(f"interrupted in {current.label()}; {len(results)} of {len(windows)} "
                   f"window(s) reconciled. Resume with --since {resume}", err=True)
        sys.exit(130)
    unexplained = sum(r.unexplained for r in results)
    errors = sum(len(r.errors) for r in results)
    if as_json:
        body: Any = (results[0].as_dict() if len(results) == 1 else
                     {"tenant": tenant_name, "unexplained": unexplained,
                      "windows": [r.as_dict() for r in results]})
        click.echo(json.dumps(body, indent=2))
    elif len(results) == 1:
        click.echo(render(results[0]))
    else:
        click.echo(f"{len(results)} windows reconciled ({window.label()}): "
                   f"unexplained differences: {unexplained}")
    sys.exit(0 if unexplained == 0 and not errors else 1)
