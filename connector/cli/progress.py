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
                 timeout: float) -> Any:
    """Wait until the sync started at ``started`` has settled, showing a bar (records
    finished of records touched, rate, ETA) on a terminal and a line per change otherwise.
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
            if p.settled:
                return p
            time.sleep(1.0)
    return None
