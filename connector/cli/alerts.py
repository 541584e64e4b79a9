"""``ml-connector alerts``: list, acknowledge and resolve operational alerts."""

from __future__ import annotations

import getpass
import json
from typing import Any

import click

from connector.cli.common import command_session, fail


def _default_operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "operator"


operator_option = click.option(
    "--operator", default=_default_operator, show_default="your login name",
    help="Who does it (audited).")
note_option = click.option("--note", help="Why (audited with the action).")


@click.group(invoke_without_command=True)
@click.option("--tenant", "tenant_name", help="List this tenant's alerts.")
@click.option("--all", "show_all", is_flag=True, help="Include resolved alerts.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def alerts(ctx: click.Context, tenant_name: str | None, show_all: bool, as_json: bool) -> None:
    """Operational alerts (key owner gone, webhook deactivated, auth failing, lagging).

    `ml-connector alerts --tenant T` lists the open ones; `alerts ack ID` and `alerts resolve
    ID` act on one."""
    if ctx.invoked_subcommand is not None:
        return
    if not tenant_name:
        fail("--tenant is required to list alerts (or use `alerts ack|resolve ID`)", 2)
        return
    from connector.operations.admin import get_tenant
    from connector.operations.alerts import list_alerts

    with command_session() as session:
        rows = list_alerts(session, get_tenant(session, tenant_name), include_resolved=show_all)
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no alerts" if show_all else "no open alerts")
    for a in rows:
        ack = " (acknowledged)" if a["acknowledged"] and a["state"] == "open" else ""
        click.echo(f"#{a['id']} [{a['state']}{ack}] {a['kind']} {a['source'] or '-'} "
                   f"x{a['occurrences']}: {a['message']}")


@alerts.command("ack")
@click.argument("alert_id", type=int)
@operator_option
@note_option
def alerts_ack(alert_id: int, operator: str, note: str | None) -> None:
    """Acknowledge alert ALERT_ID: someone is on it (it stays open)."""
    from connector.operations.alerts import acknowledge

    with command_session() as session:
        alert = acknowledge(session, alert_id, operator=operator, note=note)
        kind = alert.kind
    click.echo(f"alert #{alert_id} ({kind}) acknowledged by {operator}")


@alerts.command("resolve")
@click.argument("alert_id", type=int)
@operator_option
@note_option
def alerts_resolve(alert_id: int, operator: str, note: str | None) -> None:
    """Resolve alert ALERT_ID by hand (alerts also resolve when their condition clears)."""
    from connector.operations.alerts import resolve

    with command_session() as session:
        alert = resolve(session, alert_id, operator=operator, note=note)
        kind = alert.kind
    click.echo(f"alert #{alert_id} ({kind}) resolved by {operator}")


@alerts.group("channel")
def channel() -> None:
    """Where a tenant's alerts are sent: Slack-compatible webhook, generic webhook, e-mail.

    Each alert is announced once when it opens and once when it resolves, to every channel."""


@channel.command("add")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--name", required=True, help="Short name, unique per tenant (e.g. ops-slack).")
@click.option("--kind", required=True, type=click.Choice(["slack", "webhook", "email"]))
@click.option("--target-file", type=click.File("r"), help="File holding the webhook URL or "
              "the address; prompted (hidden) when omitted: a Slack URL is a credential.")
def channel_add(tenant_name: str, name: str, kind: str, target_file: Any) -> None:
    """Add a notification channel (the URL or address is stored encrypted)."""
    from connector.cli.common import vault
    from connector.operations.admin import get_tenant
    from connector.operations.alerts import add_channel

    target = (target_file.read() if target_file is not None else
              click.prompt("address" if kind == "email" else "webhook URL",
                           hide_input=kind != "email"))
    with command_session() as session:
        add_channel(session, vault(), get_tenant(session, tenant_name), name=name, kind=kind,
                    target=target)
    click.echo(f"{kind} channel {name} added to {tenant_name}")


@channel.command("list")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--json", "as_json", is_flag=True)
def channel_list(tenant_name: str, as_json: bool) -> None:
    """List a tenant's channels (URLs shown as scheme and host only)."""
    from connector.cli.common import vault
    from connector.operations.admin import get_tenant
    from connector.operations.alerts import list_channels

    with command_session() as session:
        rows = list_channels(session, vault(), get_tenant(session, tenant_name))
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo(f"no alert channels for {tenant_name} (alerts stay in `ml-connector alerts`)")
    for row in rows:
        click.echo(f"{row['name']}\t{row['kind']}\t{row['target']}")


@channel.command("remove")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--name", required=True)
def channel_remove(tenant_name: str, name: str) -> None:
    """Remove a channel (messages not yet sent to it are dropped)."""
    from connector.operations.admin import get_tenant
    from connector.operations.alerts import remove_channel

    with command_session() as session:
        remove_channel(session, get_tenant(session, tenant_name), name)
    click.echo(f"channel {name} removed from {tenant_name}")


@channel.command("test")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--name", required=True)
def channel_test(tenant_name: str, name: str) -> None:
    """Send a test message to a channel now (exit 1 when it is not taken)."""
    from datetime import UTC, datetime

    from connector.operations.admin import get_tenant
    from connector.operations.alerts import get_channel
    from connector.pipeline.notify import DeliveryFailed, send

    with command_session() as session:
        ch = get_channel(session, get_tenant(session, tenant_name), name)
        message = {"event": "test", "alert_id": 0, "kind": "test", "tenant": tenant_name,
                   "source": None, "occurrences": 1,
                   "opened_at": datetime.now(UTC).isoformat(), "resolved_at": None,
                   "message": "ml-connector test message: this channel receives alerts",
                   "title": f"[ml-connector] TEST ({tenant_name})"}
        try:
            send(ch, message)
        except DeliveryFailed as exc:
            fail(f"channel {name} did not take the message: {exc}", 1)
    click.echo(f"test message sent to {name}")
