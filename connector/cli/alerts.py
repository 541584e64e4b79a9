"""``ml-connector alerts``: list, acknowledge and resolve operational alerts."""

from __future__ import annotations

import getpass
import json

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
