"""``ml-connector source``: a tenant's store sources."""

from __future__ import annotations

import json
from typing import Any

import click
from sqlalchemy import select

from connector.cli.common import command_session, fail, vault
from connector.stores.registry import systems


def _read_credentials(system: str, credentials_file: Any) -> dict[str, str]:
    from connector.stores.registry import get_store

    if credentials_file is not None:
        try:
            data = json.load(credentials_file)
        except json.JSONDecodeError as exc:
            fail(f"credentials file is not valid JSON: {exc.msg}", 2)
        if not isinstance(data, dict):
            fail("credentials file must hold a JSON object", 2)
        creds = {str(k): str(v) for k, v in data.items()}
    else:
        store = get_store(system)
        creds = {}
        for name in store.credential_fields:
            creds[name] = click.prompt(name,
                                       hide_input=name not in store.public_credential_fields)
    from connector.logs import register_secret

    for value in creds.values():  # masked from here on, whatever happens next
        register_secret(value)
    return creds


@click.group()
def source() -> None:
    """Store sources (WooCommerce, BigCommerce) of a tenant."""


@source.command("add")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--name", required=True, help="Short name, unique per tenant (e.g. shop-eu).")
@click.option("--system", required=True, type=click.Choice(systems()))
@click.option("--base-url", required=True, help="Store URL (Woo site, or the BigCommerce API "
              "base such as https://api.bigcommerce.com).")
@click.option("--credentials-file", type=click.File("r"),
              help="JSON file with the credentials; prompted (hidden) when omitted.")
@click.option("--key-owner", help="WordPress login that owns the Woo API key (audited).")
@click.option("--interval", "poll_interval_s", default=60, show_default=True,
              type=click.IntRange(5, 86_400), help="Polling interval in seconds.")
@click.option("--setting", "pairs", multiple=True, metavar="KEY=VALUE",
              help="Source option (VALUE parsed as JSON when it can be).")
@click.option("--no-check", is_flag=True,
              help="Do not test the store (one authenticated read) before adding it.")
@click.option("--start-date", help="Where the first sync starts (YYYY-MM-DD; default "
              "MLC_INITIAL_SYNC_DAYS back; older history: `ml-connector backfill`).")
def source_add(tenant_name: str, name: str, system: str, base_url: str, credentials_file: Any,
               key_owner: str | None, poll_interval_s: int, pairs: tuple[str, ...],
               no_check: bool, start_date: str | None) -> None:
    """Add a store to a tenant. The store is tested first (one authenticated read) unless
    --no-check."""
    from connector.operations.admin import (
        AdminError,
        DuplicateError,
        InvalidInput,
        add_source,
        check_credentials,
        check_name,
        check_source,
        check_url,
        get_source,
        get_tenant,
    )
    from connector.operations.lifecycle import parse_start_date
    from connector.operations.settings import source_setting_problems

    settings: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            fail(f"--setting wants KEY=VALUE, got {pair!r}", 2)
        key, raw = pair.split("=", 1)
        try:
            settings[key] = json.loads(raw)
        except json.JSONDecodeError:
            settings[key] = raw
    with command_session() as session:  # everything but the secrets first: no prompt in vain
        t = get_tenant(session, tenant_name)
        check_name(name, "source")
        check_url(base_url, "source base URL")
        problems = source_setting_problems(settings)
        if problems:
            raise InvalidInput("; ".join(problems) + " (see docs/configuration.md)")
        try:
            get_source(session, t, name)
        except AdminError:
            pass
        else:
            raise DuplicateError(f"source {name!r} already exists for tenant {t.name!r}")
    creds = _read_credentials(system, credentials_file)
    with command_session() as session:
        check_credentials(system, creds)
        if not no_check:
            check_source(system, base_url, creds, settings)
        t = get_tenant(session, tenant_name)
        s = add_source(session, vault(), t, name=name, system=system, base_url=base_url,
                       credentials=creds, key_owner=key_owner, poll_interval_s=poll_interval_s,
                       settings=settings,
                       start_date=parse_start_date(start_date) if start_date else None)
        click.echo(f"source {s.name} ({s.system}) added to {t.name}"
                   + ("" if no_check else " (tested: one authenticated read)"))


@source.command("list")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--json", "as_json", is_flag=True)
def source_list(tenant_name: str, as_json: bool) -> None:
    """List a tenant's sources and their status."""
    from connector.models import Source
    from connector.operations.admin import get_tenant

    with command_session() as session:
        t = get_tenant(session, tenant_name)
        rows = session.scalars(select(Source).where(Source.tenant_id == t.id)
                               .order_by(Source.name)).all()
        data = [{"name": s.name, "system": s.system, "status": s.status,
                 "status_reason": s.status_reason, "base_url": s.base_url,
                 "interval_s": s.poll_interval_s, "key_owner": s.key_owner} for s in rows]
    if as_json:
        click.echo(json.dumps(data))
        return
    if not data:
        click.echo(f"no sources for {tenant_name}")
    for row in data:
        reason = f" ({row['status_reason']})" if row["status_reason"] else ""
        click.echo(f"{row['name']}\t{row['system']}\t{row['status']}{reason}\t{row['base_url']}")


@source.command("set-credentials")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--source", "source_name", required=True)
@click.option("--credentials-file", type=click.File("r"))
@click.option("--key-owner", help="WordPress login that owns the new key.")
def source_set_credentials(tenant_name: str, source_name: str, credentials_file: Any,
                           key_owner: str | None) -> None:
    """Replace a source's credentials (stored encrypted)."""
    from connector.operations.admin import get_source, get_tenant, set_credentials

    with command_session() as session:
        t = get_tenant(session, tenant_name)
        s = get_source(session, t, source_name)
        set_credentials(session, vault(), s, _read_credentials(s.system, credentials_file))
        if key_owner:
            s.key_owner = key_owner
    click.echo(f"credentials of {source_name} updated (run `ml-connector source resume` if it "
               "was paused)")


def _set_status(tenant_name: str, source_name: str, status: str, reason: str | None) -> None:
    from connector.operations.admin import get_source, get_tenant, set_source_status

    with command_session() as session:
        t = get_tenant(session, tenant_name)
        s = get_source(session, t, source_name)
        set_source_status(session, s, status, reason)


@source.command("pause")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--source", "source_name", required=True)
@click.option("--reason", default="paused by operator", show_default=True)
def source_pause(tenant_name: str, source_name: str, reason: str) -> None:
    """Stop polling a source (nothing is lost: the cursor stays where it is)."""
    _set_status(tenant_name, source_name, "paused", reason)
    click.echo(f"source {source_name} paused")


@source.command("resume")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--source", "source_name", required=True)
def source_resume(tenant_name: str, source_name: str) -> None:
    """Resume a paused source; it continues from its cursor."""
    _set_status(tenant_name, source_name, "active", None)
    click.echo(f"source {source_name} resumed")


@source.command("set")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--source", "source_name", required=True)
@click.option("--base-url", help="New store URL.")
@click.option("--interval", "poll_interval_s", type=click.IntRange(5, 86_400),
              help="Polling interval in seconds.")
@click.option("--key-owner", help="Login that owns the store API key (audited).")
@click.option("--setting", "pairs", multiple=True, metavar="KEY=VALUE",
              help="Set a source option (VALUE parsed as JSON when it can be).")
@click.option("--unset", "unset", multiple=True, metavar="KEY", help="Remove a source option.")
@click.option("--start-date", help="Where the first sync starts (YYYY-MM-DD; only before the "
              "source has synced — use `backfill` for older history).")
def source_set(tenant_name: str, source_name: str, base_url: str | None,
               poll_interval_s: int | None, key_owner: str | None, pairs: tuple[str, ...],
               unset: tuple[str, ...], start_date: str | None) -> None:
    """Change a source's URL, interval, key owner, options or first-sync start date."""
    from connector.operations.admin import get_source, get_tenant
    from connector.operations.lifecycle import parse_start_date, update_source

    settings: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            fail(f"--setting wants KEY=VALUE, got {pair!r}", 2)
        key, raw = pair.split("=", 1)
        try:
            settings[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            settings[key.strip()] = raw
    with command_session() as session:
        s = get_source(session, get_tenant(session, tenant_name), source_name)
        changed = update_source(
            session, s, base_url=base_url, poll_interval_s=poll_interval_s, key_owner=key_owner,
            settings=settings, unset=unset,
            start_date=parse_start_date(start_date) if start_date else None)
    click.echo(f"source {source_name} updated: {', '.join(changed)}")


@source.command("remove")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--source", "source_name", required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Remove even while records are in flight.")
def source_remove(tenant_name: str, source_name: str, yes: bool, force: bool) -> None:
    """Delete a source and everything staged for it (the audit trail stays).

    Refused while records are in flight (pause the source and let them settle) unless
    --force. Store webhooks pointing at the connector are not deleted in the store."""
    from connector.operations.admin import get_source, get_tenant
    from connector.operations.lifecycle import footprint, remove_source

    with command_session() as session:
        t = get_tenant(session, tenant_name)
        s = get_source(session, t, source_name)
        fp = footprint(session, tenant_id=t.id, source_id=s.id)
        if not yes:
            click.confirm(f"Remove source {source_name} of {tenant_name} with {fp.records} "
                          f"staged record(s) ({fp.in_flight} in flight)?", abort=True)
        remove_source(session, s, force=force)
    click.echo(f"source {source_name} removed from {tenant_name}")
