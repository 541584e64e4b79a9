"""``ml-connector status``: schema revision and the state of every source."""

from __future__ import annotations

import json
from typing import Any

import click
from sqlalchemy import func, select

from connector.cli.common import bootstrap, command_session, fail
from connector.config import get_settings


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """Print the schema revision and the state of every tenant and source.

    Exit code 1 when the database is behind the code (run `ml-connector db upgrade`)."""
    from connector import migrate
    from connector.models import Source, StagedRecord, Tenant

    bootstrap()
    url = get_settings().database_url
    assert url
    current, head = migrate.current_revision(url), migrate.head_revision()
    if current != head:
        message = (f"database at revision {current or 'base'}, this code expects {head}: "
                   "run `ml-connector db upgrade`")
        if as_json:
            click.echo(json.dumps({"revision": current, "expected": head, "sources": {}}))
        fail(message, 1)
    with command_session() as session:
        rows = session.execute(
            select(Tenant.name, Source.name, Source.system, Source.status,
                   StagedRecord.state, func.count(StagedRecord.id))
            .join(Source, Source.tenant_id == Tenant.id)
            .outerjoin(StagedRecord, StagedRecord.source_id == Source.id)
            .group_by(Tenant.name, Source.name, Source.system, Source.status, StagedRecord.state)
            .order_by(Tenant.name, Source.name)
        ).all()
        enrichment = {name: dict(progress or {}) for name, progress in session.execute(
            select(Tenant.name, Tenant.enrichment).order_by(Tenant.name)).all()}
    data: dict[str, dict[str, Any]] = {}
    for tenant_name, source_name, system, source_status, state, count in rows:
        entry = data.setdefault(f"{tenant_name}/{source_name}",
                                {"system": system, "status": source_status, "records": {}})
        if state:
            entry["records"][state] = count
    if as_json:
        click.echo(json.dumps({"revision": migrate.current_revision(url), "sources": data,
                               "enrichment": enrichment}))
        return
    click.echo(f"database revision {migrate.current_revision(url)}")
    if not data:
        click.echo("no sources configured yet")
    for key, entry in data.items():
        counts = ", ".join(f"{k}={v}" for k, v in sorted(entry["records"].items())) or "no records"
        click.echo(f"{key} [{entry['system']}, {entry['status']}]: {counts}")
    for name, progress in enrichment.items():
        click.echo(f"{name}: IFS enrichment {_enrichment_line(progress)}")


def _enrichment_line(progress: dict[str, Any]) -> str:
    last = progress.get("last_complete_at")
    done = (f"last complete {last[:19].replace('T', ' ')} UTC "
            f"({progress.get('last_indexed', 0)} e-mail(s), {progress.get('last_pages', 0)} "
            "page(s))") if last else "never completed"
    if progress.get("run"):
        return (f"running: page {int(progress.get('pages', 0)) + 1}, "
                f"{progress.get('indexed', 0)} e-mail(s) so far; {done}")
    return done
