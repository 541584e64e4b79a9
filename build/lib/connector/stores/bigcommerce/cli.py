"""``ml-connector bigcommerce …``: BigCommerce store management (webhook registration and
health). See ``connector/services/hooks.py`` and ``reference/bigcommerce.md`` §5, decision 3.

Exit codes as in ``connector/cli.py``: 1 the remote operation failed, 2 bad input or setup
(e.g. ``MLC_PUBLIC_URL`` unset), 3 unknown tenant or source.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _source_id(tenant_name: str, source_name: str) -> int:
    """Bootstrap the runtime and resolve the BigCommerce source's id."""
    from connector.db import session_scope
    from connector.operations.admin import AdminError, get_source, get_tenant
    from connector.runtime import bootstrap

    bootstrap()
    try:
        with session_scope() as s:
            source = get_source(s, get_tenant(s, tenant_name), source_name)
            if source.system != "bigcommerce":
                _fail(f"source {source_name!r} is a {source.system} source, not bigcommerce", 2)
            return source.id
    except AdminError as exc:
        _fail(str(exc), exc.exit_code)


def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a hooks service function; its errors become clean exits (never with secrets)."""
    from connector.errors import ConnectorError
    from connector.stores.base import HookSetupError

    try:
        return fn(*args, **kwargs)
    except HookSetupError as exc:
        _fail(str(exc), 2)
    except ConnectorError as exc:
        _fail(f"BigCommerce answered: {exc}", 1)


@click.group()
def bigcommerce() -> None:
    """BigCommerce stores: webhook registration and health."""


@bigcommerce.group()
def hooks() -> None:
    """The store's webhooks (one consolidated destination per tenant and store)."""


@hooks.command("sync")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--source", "source_name", required=True)
@click.option("--destination", help="Callback URL (default: MLC_PUBLIC_URL + "
              "/webhooks/bc/<tenant>/<source>). BigCommerce calls https on port 443 only.")
def hooks_sync(tenant_name: str, source_name: str, destination: str | None) -> None:
    """Register the order, shipment and customer hooks (updates existing ones, never
    duplicates) with the custom secret header; safe to run again."""
    from connector.stores.bigcommerce.hooks import sync_hooks

    report = _run(sync_hooks, _source_id(tenant_name, source_name), destination)
    click.echo(report.summary())


@hooks.command("health")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--source", "source_name", required=True)
def hooks_health(tenant_name: str, source_name: str) -> None:
    """Check the hooks now: re-create missing, re-activate deactivated, report blocked
    domains (the periodic task does the same)."""
    from connector.stores.bigcommerce.hooks import check_hooks

    report = _run(check_hooks, _source_id(tenant_name, source_name))
    if report is None:
        _fail("no hooks to check: run `ml-connector bigcommerce hooks sync` first (or resume "
              "the source)", 2)
    click.echo(report.summary())


@hooks.command("list")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--source", "source_name", required=True)
@click.option("--json", "as_json", is_flag=True)
def hooks_list(tenant_name: str, source_name: str, as_json: bool) -> None:
    """List the store's hooks of this API account (headers hidden: they hold the secret)."""
    from connector.stores.bigcommerce.hooks import list_hooks

    rows = _run(list_hooks, _source_id(tenant_name, source_name))
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no hooks")
    for row in rows:
        state = "active" if row.get("is_active") else "inactive"
        click.echo(f"{row.get('id')}\t{row.get('scope')}\t{state}\t{row.get('destination')}")
