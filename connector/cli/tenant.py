"""``ml-connector tenant``: tenants, their settings and posting rules."""

from __future__ import annotations

import json
from typing import Any

import click
from sqlalchemy import func, select

from connector.cli.common import command_session


@click.group()
def tenant() -> None:
    """Tenants: one IFS company and its stores."""


@tenant.command("add")
@click.argument("name")
@click.option("--company", required=True, help="IFS company code applied to every record.")
def tenant_add(name: str, company: str) -> None:
    """Create tenant NAME."""
    from connector.operations.admin import add_tenant

    with command_session() as session:
        t = add_tenant(session, name, company)
        click.echo(f"tenant {t.name} created (company {t.company})")


@tenant.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def tenant_list(as_json: bool) -> None:
    """List tenants."""
    from connector.models import Source, Tenant

    with command_session() as session:
        rows = session.execute(
            select(Tenant.name, Tenant.company, func.count(Source.id))
            .outerjoin(Source, Source.tenant_id == Tenant.id)
            .group_by(Tenant.id)
            .order_by(Tenant.name)
        ).all()
        data = [{"name": n, "company": c, "sources": s} for n, c, s in rows]
    if as_json:
        click.echo(json.dumps(data))
        return
    if not data:
        click.echo("no tenants (add one with `ml-connector tenant add NAME --company CODE`)")
    for row in data:
        click.echo(f"{row['name']}\tcompany={row['company']}\tsources={row['sources']}")


@tenant.command("show")
@click.argument("name")
def tenant_show(name: str) -> None:
    """Show tenant NAME with its IFS target (secret masked) and sources."""
    from connector.models import Source
    from connector.operations.admin import get_tenant

    with command_session() as session:
        t = get_tenant(session, name)
        sources = session.scalars(select(Source).where(Source.tenant_id == t.id)).all()
        data = {
            "name": t.name,
            "company": t.company,
            "ifs": {**(t.ifs_settings or {}),
                    "client_secret": "********" if t.ifs_secret_enc else None},
            "settings": t.settings,
            "posting_rules": t.posting_rules,
            "sources": [
                {"name": s.name, "system": s.system, "status": s.status, "base_url": s.base_url}
                for s in sources
            ],
        }
    click.echo(json.dumps(data, indent=2, default=str))


@tenant.command("set")
@click.argument("name")
@click.option("--setting", "pairs", multiple=True, metavar="KEY=VALUE",
              help="Tenant option (e.g. guest_policy=walk_in, walk_in_customer=WALKIN); "
                   "VALUE is parsed as JSON when it can be.")
@click.option("--posting-rules", type=click.File("r"), help="JSON file of posting rules.")
def tenant_set(name: str, pairs: tuple[str, ...], posting_rules: Any) -> None:
    """Change tenant options and posting rules."""
    from connector.operations.admin import InvalidInput, get_tenant
    from connector.operations.settings import posting_rule_problems, tenant_setting_problems
    from connector.pipeline.audit import audit_operator

    with command_session() as session:
        t = get_tenant(session, name)
        given: dict[str, Any] = {}
        for pair in pairs:
            if "=" not in pair:
                raise InvalidInput(f"--setting wants KEY=VALUE, got {pair!r}")
            key, raw = pair.split("=", 1)
            try:
                given[key.strip()] = json.loads(raw)
            except json.JSONDecodeError:
                given[key.strip()] = raw
        problems = tenant_setting_problems(given)
        rules = None
        if posting_rules is not None:
            try:
                rules = json.load(posting_rules)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"posting rules file is not valid JSON: {exc}")
            problems += posting_rule_problems(rules)
        if problems:
            raise InvalidInput("; ".join(problems) + " (see docs/configuration.md)")
        settings = {**(t.settings or {}), **given}
        t.settings = {k: v for k, v in settings.items() if v is not None}
        if rules is not None:
            t.posting_rules = rules
        audit_operator(session, t.id, "tenant", t.name, "update")
    click.echo(f"tenant {name} updated")


@tenant.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Remove even while records are in flight.")
def tenant_remove(name: str, yes: bool, force: bool) -> None:
    """Delete tenant NAME, its sources and everything staged for them (audit rows stay).

    Refused while records are in flight (pause its sources and let them settle) unless
    --force."""
    from connector.operations.admin import get_tenant
    from connector.operations.lifecycle import footprint, remove_tenant

    with command_session() as session:
        t = get_tenant(session, name)
        fp = footprint(session, tenant_id=t.id)
        if not yes:
            click.confirm(f"Remove tenant {name} with {fp.sources} source(s) and {fp.records} "
                          f"staged record(s) ({fp.in_flight} in flight)?", abort=True)
        remove_tenant(session, t, force=force)
    click.echo(f"tenant {name} removed")
