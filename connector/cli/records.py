"""``ml-connector records``: what stopped and why."""

from __future__ import annotations

import json

import click
from sqlalchemy import select

from connector.cli.common import command_session


@click.command()
@click.option("--tenant", "tenant_name", required=True)
@click.option("--state", type=click.Choice(["failed", "parked", "pending", "done",
                                            "superseded"]), default="failed", show_default=True)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True)
def records(tenant_name: str, state: str, limit: int, as_json: bool) -> None:
    """List staged records in a state, with the reason they stopped."""
    from connector.models import Source, StagedRecord
    from connector.operations.admin import get_tenant

    with command_session() as session:
        t = get_tenant(session, tenant_name)
        rows = session.execute(
            select(StagedRecord.id, Source.name, StagedRecord.entity, StagedRecord.external_id,
                   StagedRecord.version, StagedRecord.error_kind, StagedRecord.last_error)
            .join(Source, Source.id == StagedRecord.source_id)
            .where(StagedRecord.tenant_id == t.id, StagedRecord.state == state)
            .order_by(StagedRecord.id).limit(limit)).all()
    data = [{"id": r[0], "source": r[1], "entity": r[2], "store_id": r[3], "version": r[4],
             "kind": r[5], "reason": r[6]} for r in rows]
    if as_json:
        click.echo(json.dumps(data))
        return
    if not data:
        click.echo(f"no {state} records")
    for row in data:
        click.echo(f"#{row['id']} {row['source']} {row['entity']} {row['store_id']}: "
                   f"{row['reason'] or ''}")
