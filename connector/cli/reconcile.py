"""``ml-connector reconcile``: each store against IFS."""

from __future__ import annotations

import json
import sys

import click

from connector.cli.common import bootstrap, fail


@click.command(name="reconcile")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--json", "as_json", is_flag=True)
def reconcile_command(tenant_name: str, as_json: bool) -> None:
    """Compare each store with IFS: counts, net totals, failed records with reasons."""
    from connector.operations.reconcile import reconcile, render

    bootstrap()
    try:
        result = reconcile(tenant_name)
    except ValueError as exc:
        fail(str(exc), 3)
    click.echo(json.dumps(result.as_dict(), indent=2) if as_json else render(result))
    sys.exit(0 if result.unexplained == 0 and not result.errors else 1)
