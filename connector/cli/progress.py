"""A rich progress bar for commands that wait on the pipeline (``sync --wait``, ``backfill``)."""

from __future__ import annotations

import sys
import time
from typing import Any

import click


def _bar(description: str) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TaskProgressColumn(), TextColumn("{task.fields[rate]}"),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    TextColumn("{task.fields[detail]}"),
                    console=Console(stderr=False), transient=False,
                    disable=not sys.stdout.isatty())


def wait_settled(tenant_id: int, *, started: float, source_ids: list[int],
                 timeout: float, streams: bool = True) -> Any:
    """Wait until the sync started at ``started`` has settled, showing a bar (records
    finished of records touched, rate, ETA) on a terminal and a line per change otherwise.
    ``streams=False``: only records matter (a re-sync of named orders fetches no stream).
    Returns the final :class:`~connector.operations.progress.Progress`, or None on timeout."""
    from connector.operations.progress import tenant_progress

    deadline = started + timeout
    last = ""
    with _bar("sync") as bar:
        task = bar.add_task("sync", total=None, rate="", detail="")
        while time.time() < deadline:
            p = tenant_progress(tenant_id, since=started, source_ids=source_ids)
            elapsed = max(time.time() - started, 1e-3)
            detail = (f"streams {p.streams_done}/{p.streams_total}"
                      + (f", [red]{p.failed} failed[/red]" if p.failed else "")
                      + (f", [yellow]{p.parked} parked[/yellow]" if p.parked else ""))
            bar.update(task, total=max(p.total, 1), completed=p.finished,
                       rate=f"{p.finished / elapsed:.1f} rec/s", detail=detail)
            if bar.disable:
                line = p.line()
                if line != last:
                    click.echo(line)
                    last = line
            if p.settled or (not streams and not p.counts.get("pending")):
                return p
            time.sleep(1.0)
    return None


class HistoryBar:
    """A bar over a time range (``since`` .. ``until``) for ``backfill``: how far the reads have
    come, orders per second, ETA, and what was staged and is still waiting to load."""

    def __init__(self, since: Any, until: Any) -> None:
        self.since, self.until = since, until
        self.started = time.time()
        self.read = 0
        self._bar = _bar("backfill")
        self._task: Any = None
        self._last = ""

    def __enter__(self) -> HistoryBar:
        self._bar.__enter__()
        total = max((self.until - self.since).total_seconds(), 1.0)
        self._task = self._bar.add_task("backfill", total=total, rate="", detail="")
        return self

    def __exit__(self, *exc: Any) -> None:
        self._bar.__exit__(*exc)

    def update(self, *, reached: Any, read: int, staged: int, backlog: int) -> None:
        self.read = read
        done = 0.0 if reached is None else max(0.0, (min(reached, self.until) - self.since)
                                                    .total_seconds())
        elapsed = max(time.time() - self.started, 1e-3)
        detail = f"{read} read, {staged} staged, {backlog} waiting to load"
        self._bar.update(self._task, completed=done, rate=f"{read / elapsed:.1f} orders/s",
                         detail=detail)
        if self._bar.disable:
            line = f"backfill up to {reached.isoformat() if reached else '-'}: {detail}"
            if line != self._last:
                click.echo(line)
                self._last = line

    def finish(self) -> None:
        self._bar.update(self._task, completed=self._bar.tasks[0].total)
