"""``ml-connector woocommerce webhooks sync``: register the WooCommerce webhooks (optional
accelerator; polling stays the source of truth). Exit codes as in ``connector/cli.py``."""

from __future__ import annotations

import sys

import click


@click.group()
def woocommerce() -> None:
    """WooCommerce stores: webhook registration."""


@woocommerce.group()
def webhooks() -> None:
    """Order and customer webhooks to this connector's endpoint."""


@webhooks.command("sync")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--source", "source_name", required=True)
@click.option("--destination", help="Callback URL (default: MLC_PUBLIC_URL + "
              "/webhooks/woo/<tenant>/<source>).")
def webhooks_sync(tenant_name: str, source_name: str, destination: str | None) -> None:
    """Create missing order/customer webhooks and re-enable disabled ones (idempotent)."""
    from connector.db import session_scope
    from connector.errors import ConnectorError
    from connector.operations.admin import AdminError, get_source, get_tenant
    from connector.runtime import bootstrap
    from connector.stores.base import HookSetupError
    from connector.stores.woocommerce.hooks import sync_woo_webhooks

    bootstrap()
    try:
        with session_scope() as s:
            source = get_source(s, get_tenant(s, tenant_name), source_name)
            if source.system != "woocommerce":
                click.echo(f"error: source {source_name!r} is not a woocommerce source",
                           err=True)
                sys.exit(2)
            source_id = source.id
        report = sync_woo_webhooks(source_id, destination)
    except AdminError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except HookSetupError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except ConnectorError as exc:
        click.echo(f"error: WooCommerce answered: {exc}", err=True)
        sys.exit(1)
    click.echo(f"destination {report.destination}")
    for label, topics in (("created", report.created), ("re-enabled", report.reenabled),
                          ("unchanged", report.unchanged)):
        if topics:
            click.echo(f"{label}: {', '.join(topics)}")
