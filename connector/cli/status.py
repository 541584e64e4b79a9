"""``ml-connector status``: schema revision and the health of every source."""

from __future__ import annotations

import json
from typing import Any

import click

from connector.cli.common import bootstrap, command_session, fail
from connector.config import get_settings


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172_800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86_400}d"


def _table(rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(title="sources", title_justify="left", expand=False)
    for name, justify in (("tenant/source", "left"), ("system", "left"), ("status", "left"),
                          ("last success", "left"), ("lag", "right"), ("pending", "right"),
                          ("in flight", "right"), ("failed", "right"), ("parked", "right"),
                          ("done", "right"), ("webhooks 24h", "left"),
                          ("IFS budget 1m", "right"), ("alerts", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        rec, hook, budget = r["records"], r["webhooks"], r["budget"]
        status = r["status"] if r["status"] == "active" else f"[red]{r['status']}[/red]"
        hooks = (f"{hook['received_24h']} " + ("ok" if hook["healthy"] else "[red]unhealthy[/red]")
                 if hook["received_24h"] or not hook["healthy"] else "-")
        table.add_row(
            f"{r['tenant']}/{r['source']}", r["system"], status,
            (r["last_success"] or "never")[:19].replace("T", " "), _age(r["lag_s"]),
            str(rec.get("pending", 0)), str(rec.get("in_flight", 0)),
            f"[red]{rec['failed']}[/red]" if rec.get("failed") else "0",
            f"[yellow]{rec['parked']}[/yellow]" if rec.get("parked") else "0",
            str(rec.get("done", 0)), hooks,
            f"{budget['used_last_min']}/{budget['limit_per_min']}"
            + (f" ({budget['waits_last_min']} waits)" if budget["waits_last_min"] else ""),
            f"[red]{r['open_alerts']}[/red]" if r["open_alerts"] else "0")
    return table


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """Schema revision and the health of every source.

    Per source: last successful fetch, lag (age of the oldest stream's last successful fetch),
    records pending / in flight / failed / parked / done, webhook deliveries of the last 24 h
    and their health, and the tenant's IFS budget used in the last minute.

    Exit code 1 when the database is behind the code (run `ml-connector db upgrade`)."""
    from sqlalchemy import select

    from connector import migrate
    from connector.models import Tenant
    from connector.operations.health import source_health

    bootstrap()
    url = get_settings().database_url
    assert url
    current, head = migrate.current_revision(url), migrate.head_revision()
    if current != head:
        message = (f"database at revision {current or 'base'}, this code expects {head}: "
                   "run `ml-connector db upgrade`")
        if as_json:
            click.echo(json.dumps({"revision": current, "expected": head, "sources": []}))
        fail(message, 1)
    with command_session() as session:
        rows = [h.as_dict() for h in source_health(session)]
        enrichment = {name: dict(progress or {}) for name, progress in session.execute(
            select(Tenant.name, Tenant.enrichment).order_by(Tenant.name)).all()}
    if as_json:
        click.echo(json.dumps({"revision": current, "sources": rows, "enrichment": enrichment}))
        return
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # piped or captured: don't squeeze the table into 80 columns
        console = Console(width=200)
    console.print(f"database revision {current}")
    if not rows:
        console.print("no sources configured yet")
    else:
        console.print(_table(rows))
    for name, progress in enrichment.items():
        console.print(f"{name}: IFS enrichment {_enrichment_line(progress)}")


def _enrichment_line(progress: dict[str, Any]) -> str:
    last = progress.get("last_complete_at")
    kind = {"changes": ", changes only", "full": ", full pass"}.get(
        str(progress.get("last_mode") or ""), "")
    done = (f"last complete {last[:19].replace('T', ' ')} UTC "
            f"({progress.get('last_indexed', 0)} e-mail(s), {progress.get('last_pages', 0)} "
            f"page(s){kind})") if last else "never completed"
    since = progress.get("since") or {}
    if since.get("value") is not None:
        done += f"; next run reads changes since {since.get('field')} {since['value']}"
    if progress.get("run"):
        what = ("changes" if progress.get("mode") == "changes" else "full pass")
        done = (f"running ({what}): page {int(progress.get('pages', 0)) + 1}, "
                f"{progress.get('indexed', 0)} e-mail(s) so far; {done}")
    if progress.get("change_error"):
        done += f"; ERROR: {progress['change_error']}"
    return done
