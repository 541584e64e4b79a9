"""``ml-connector`` — the operator's command line (click).

Exit codes scripts can rely on: 0 success; 1 the operation failed; 2 bad usage, bad input or a
configuration error (the message names the variable); 3 unknown tenant/source; 4 already exists.
Secrets are read from a prompt (hidden) or a file, never from the command line or echoed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.config import get_settings
from connector.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _bootstrap() -> None:
    from connector.runtime import bootstrap

    bootstrap()


@contextmanager
def _session() -> Iterator[Session]:
    """A transaction for one command; admin errors become clean exits with their code."""
    from connector.crypto import VaultError
    from connector.db import session_scope
    from connector.services.admin import AdminError

    _bootstrap()
    try:
        with session_scope() as session:
            yield session
    except AdminError as exc:
        _fail(str(exc), exc.exit_code)
    except VaultError as exc:
        _fail(str(exc), 2)


def _vault() -> Any:
    from connector.services.common import get_vault

    return get_vault()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ml-connector")
def cli() -> None:
    """ml-connector: keeps IFS Cloud in sync with WooCommerce and BigCommerce stores.

    Without DATABASE_URL / REDIS_URL it starts an embedded Postgres and Redis under
    MLC_DATA_DIR (default ./.mlc-data). See deploy/env.example for every variable.
    """


# --- db -------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (the `release` process runs this)."""
    from connector import migrate

    _bootstrap()
    url = get_settings().database_url
    assert url
    migrate.upgrade(url, revision)
    click.echo(f"database at revision {migrate.current_revision(url)}")


@db.command("downgrade")
@click.option("--revision", required=True, help="Target revision ('base' drops everything).")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    from connector import migrate

    _bootstrap()
    url = get_settings().database_url
    assert url
    migrate.downgrade(url, revision)
    click.echo(f"database at revision {migrate.current_revision(url) or 'base'}")


@db.command("current")
def db_current() -> None:
    """Print the applied revision."""
    from connector import migrate

    _bootstrap()
    url = get_settings().database_url
    assert url
    click.echo(migrate.current_revision(url) or "base")


# --- keys -----------------------------------------------------------------------------------


@cli.group()
def keys() -> None:
    """Encryption keys of the credential vault."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new key. Put it FIRST in MLC_ENCRYPTION_KEYS, keep the old ones after it,
    then run `ml-connector keys rotate`."""
    from connector.crypto import generate_key

    click.echo(generate_key())


@keys.command("rotate")
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1, 10_000))
def keys_rotate(batch_size: int) -> None:
    """Re-encrypt every stored secret under the newest key (idempotent, batched)."""
    from connector.db import session_scope
    from connector.services.admin import rotate_keys

    _bootstrap()
    count = rotate_keys(session_scope, _vault(), batch_size=batch_size)
    click.echo(f"rotated {count} secret(s) to the newest key")


# --- tenants --------------------------------------------------------------------------------


@cli.group()
def tenant() -> None:
    """Tenants: one IFS company and its stores."""


@tenant.command("add")
@click.argument("name")
@click.option("--company", required=True, help="IFS company code applied to every record.")
def tenant_add(name: str, company: str) -> None:
    """Create tenant NAME."""
    from connector.services.admin import add_tenant

    with _session() as session:
        t = add_tenant(session, name, company)
        click.echo(f"tenant {t.name} created (company {t.company})")


@tenant.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def tenant_list(as_json: bool) -> None:
    """List tenants."""
    from connector.models import Source, Tenant

    with _session() as session:
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
    from connector.services.admin import get_tenant

    with _session() as session:
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
    from connector.services.admin import InvalidInput, audit_operator, get_tenant

    with _session() as session:
        t = get_tenant(session, name)
        settings = dict(t.settings or {})
        for pair in pairs:
            if "=" not in pair:
                raise InvalidInput(f"--setting wants KEY=VALUE, got {pair!r}")
            key, raw = pair.split("=", 1)
            try:
                settings[key.strip()] = json.loads(raw)
            except json.JSONDecodeError:
                settings[key.strip()] = raw
        t.settings = settings
        if posting_rules is not None:
            try:
                t.posting_rules = json.load(posting_rules)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"posting rules file is not valid JSON: {exc}")
        audit_operator(session, t.id, "tenant", t.name, "update")
    click.echo(f"tenant {name} updated")


# --- IFS target -----------------------------------------------------------------------------


@cli.group()
def ifs() -> None:
    """The tenant's IFS Cloud target."""


@ifs.command("set-target")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--base-url", required=True, help="e.g. https://ifs.example.com")
@click.option("--realm", required=True, help="IAM realm (environment namespace).")
@click.option("--client-id", required=True, help="IAM client id (service account).")
@click.option("--client-secret-file", type=click.File("r"),
              help="File holding the client secret; prompted (hidden) when omitted.")
@click.option("--token-url", help="Defaults to {base}/auth/realms/{realm}/protocol/"
              "openid-connect/token.")
@click.option("--company", help="Company code (changes the tenant's).")
@click.option("--site", help="Default site (Contract) for orders.")
@click.option("--order-type", help="Default order type (OrderId).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Other per-tenant IFS defaults (e.g. email_method_id=E_MAIL).")
def ifs_set_target(tenant_name: str, base_url: str, realm: str, client_id: str,
                   client_secret_file: Any, token_url: str | None, company: str | None,
                   site: str | None, order_type: str | None, options: tuple[str, ...]) -> None:
    """Set where and how the tenant's records are written in IFS."""
    from connector.services.admin import IfsTarget, InvalidInput, get_tenant, set_ifs_target

    if client_secret_file is not None:
        secret = client_secret_file.read().strip()
    else:
        secret = click.prompt("IFS client secret", hide_input=True)
    extra: dict[str, Any] = {}
    for pair in options:
        if "=" not in pair:
            _fail(f"--option wants KEY=VALUE, got {pair!r}", 2)
        key, value = pair.split("=", 1)
        extra[key.strip()] = value
    with _session() as session:
        if not secret:
            raise InvalidInput("the IFS client secret must not be empty")
        t = get_tenant(session, tenant_name)
        set_ifs_target(session, _vault(), t, IfsTarget(
            base_url=base_url, realm=realm, client_id=client_id, client_secret=secret,
            token_url=token_url, site=site, order_type=order_type, company=company, extra=extra))
    click.echo(f"IFS target of {tenant_name} set")


# --- sources --------------------------------------------------------------------------------


def _read_credentials(system: str, credentials_file: Any) -> dict[str, str]:
    from connector.services.admin import CREDENTIAL_FIELDS, PUBLIC_CREDENTIAL_FIELDS

    if credentials_file is not None:
        try:
            data = json.load(credentials_file)
        except json.JSONDecodeError as exc:
            _fail(f"credentials file is not valid JSON: {exc.msg}", 2)
        if not isinstance(data, dict):
            _fail("credentials file must hold a JSON object", 2)
        return {str(k): str(v) for k, v in data.items()}
    creds = {}
    for name in CREDENTIAL_FIELDS[system]:
        creds[name] = click.prompt(name, hide_input=name not in PUBLIC_CREDENTIAL_FIELDS)
    return creds


@cli.group()
def source() -> None:
    """Store sources (WooCommerce, BigCommerce) of a tenant."""


@source.command("add")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--name", required=True, help="Short name, unique per tenant (e.g. shop-eu).")
@click.option("--system", required=True, type=click.Choice(["woocommerce", "bigcommerce"]))
@click.option("--base-url", required=True, help="Store URL (Woo site, or the BigCommerce API "
              "base such as https://api.bigcommerce.com).")
@click.option("--credentials-file", type=click.File("r"),
              help="JSON file with the credentials; prompted (hidden) when omitted.")
@click.option("--key-owner", help="WordPress login that owns the Woo API key (audited).")
@click.option("--interval", "poll_interval_s", default=60, show_default=True,
              type=click.IntRange(5, 86_400), help="Polling interval in seconds.")
@click.option("--setting", "pairs", multiple=True, metavar="KEY=VALUE",
              help="Source option (VALUE parsed as JSON when it can be).")
def source_add(tenant_name: str, name: str, system: str, base_url: str, credentials_file: Any,
               key_owner: str | None, poll_interval_s: int, pairs: tuple[str, ...]) -> None:
    """Add a store to a tenant."""
    from connector.services.admin import add_source, get_tenant

    settings: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            _fail(f"--setting wants KEY=VALUE, got {pair!r}", 2)
        key, raw = pair.split("=", 1)
        try:
            settings[key] = json.loads(raw)
        except json.JSONDecodeError:
            settings[key] = raw
    with _session() as session:
        t = get_tenant(session, tenant_name)
        creds = _read_credentials(system, credentials_file)
        s = add_source(session, _vault(), t, name=name, system=system, base_url=base_url,
                       credentials=creds, key_owner=key_owner, poll_interval_s=poll_interval_s,
                       settings=settings)
        click.echo(f"source {s.name} ({s.system}) added to {t.name}")


@source.command("list")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--json", "as_json", is_flag=True)
def source_list(tenant_name: str, as_json: bool) -> None:
    """List a tenant's sources and their status."""
    from connector.models import Source
    from connector.services.admin import get_tenant

    with _session() as session:
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
    from connector.services.admin import get_source, get_tenant, set_credentials

    with _session() as session:
        t = get_tenant(session, tenant_name)
        s = get_source(session, t, source_name)
        set_credentials(session, _vault(), s, _read_credentials(s.system, credentials_file))
        if key_owner:
            s.key_owner = key_owner
    click.echo(f"credentials of {source_name} updated (run `ml-connector source resume` if it "
               "was paused)")


def _set_status(tenant_name: str, source_name: str, status: str, reason: str | None) -> None:
    from connector.services.admin import get_source, get_tenant, set_source_status

    with _session() as session:
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


# --- status ---------------------------------------------------------------------------------


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """Print the schema revision and the state of every tenant and source.

    Exit code 1 when the database is behind the code (run `ml-connector db upgrade`)."""
    from connector import migrate
    from connector.models import Source, StagedRecord, Tenant

    _bootstrap()
    url = get_settings().database_url
    assert url
    current, head = migrate.current_revision(url), migrate.head_revision()
    if current != head:
        message = (f"database at revision {current or 'base'}, this code expects {head}: "
                   "run `ml-connector db upgrade`")
        if as_json:
            click.echo(json.dumps({"revision": current, "expected": head, "sources": {}}))
        _fail(message, 1)
    with _session() as session:
        rows = session.execute(
            select(Tenant.name, Source.name, Source.system, Source.status,
                   StagedRecord.state, func.count(StagedRecord.id))
            .join(Source, Source.tenant_id == Tenant.id)
            .outerjoin(StagedRecord, StagedRecord.source_id == Source.id)
            .group_by(Tenant.name, Source.name, Source.system, Source.status, StagedRecord.state)
            .order_by(Tenant.name, Source.name)
        ).all()
    data: dict[str, dict[str, Any]] = {}
    for tenant_name, source_name, system, source_status, state, count in rows:
        entry = data.setdefault(f"{tenant_name}/{source_name}",
                                {"system": system, "status": source_status, "records": {}})
        if state:
            entry["records"][state] = count
    if as_json:
        click.echo(json.dumps({"revision": migrate.current_revision(url), "sources": data}))
        return
    click.echo(f"database revision {migrate.current_revision(url)}")
    if not data:
        click.echo("no sources configured yet")
    for key, entry in data.items():
        counts = ", ".join(f"{k}={v}" for k, v in sorted(entry["records"].items())) or "no records"
        click.echo(f"{key} [{entry['system']}, {entry['status']}]: {counts}")


# --- sync, records, replay, alerts ----------------------------------------------------------


def _tenant_sources(session: Session, tenant_name: str,
                    source_name: str | None) -> tuple[Any, list[Any]]:
    from connector.models import Source
    from connector.services.admin import get_source, get_tenant

    t = get_tenant(session, tenant_name)
    if source_name:
        return t, [get_source(session, t, source_name)]
    return t, list(session.scalars(select(Source).where(Source.tenant_id == t.id)))


@cli.command()
@click.option("--tenant", "tenant_name", required=True)
@click.option("--source", "source_name", help="Only this source (default: all of the tenant).")
@click.option("--wait", is_flag=True, help="Wait until the sync has settled, showing progress.")
@click.option("--timeout", default=900, show_default=True, type=int,
              help="Seconds --wait waits before giving up (exit 1).")
def sync(tenant_name: str, source_name: str | None, wait: bool, timeout: int) -> None:
    """Run a sync now: every stream of the tenant's (or one) source is fetched at once."""
    import time

    from connector.services.dispatch import request_now
    from connector.services.progress import tenant_progress

    started = time.time()  # before the request: beat may dispatch it at once
    with _session() as session:
        tenant, sources = _tenant_sources(session, tenant_name, source_name)
        active = [s.id for s in sources if s.status == "active"]
        for s in sources:
            if s.status != "active":
                click.echo(f"skipping {s.name}: {s.status} ({s.status_reason or 'no reason'})")
        request_now(session, active)
        tenant_id = tenant.id
    if not active:
        _fail("no active source to sync", 1)
    from tasks.app import app
    from tasks.sync import dispatch

    if not app.control.ping(timeout=2.0):
        _fail("no worker answers: start one with `ml-connector worker` (and `ml-connector "
              "beat` for the schedule)", 1)
    dispatch.delay()
    click.echo(f"sync requested for {len(active)} source(s) of {tenant_name}")
    if not wait:
        return
    deadline = started + timeout
    last = ""
    while time.time() < deadline:
        progress = tenant_progress(tenant_id, since=started, source_ids=active)
        line = progress.line()
        if line != last:
            click.echo(line)
            last = line
        if progress.settled:
            click.echo("settled")
            return
        time.sleep(1.0)
    _fail(f"not settled after {timeout}s (see `ml-connector records --tenant {tenant_name}`)", 1)


@cli.command()
@click.option("--tenant", "tenant_name", required=True)
@click.option("--state", type=click.Choice(["failed", "parked", "pending", "done",
                                            "superseded"]), default="failed", show_default=True)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True)
def records(tenant_name: str, state: str, limit: int, as_json: bool) -> None:
    """List staged records in a state, with the reason they stopped."""
    from connector.models import Source, StagedRecord
    from connector.services.admin import get_tenant

    with _session() as session:
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


@cli.command()
@click.option("--tenant", "tenant_name", required=True)
@click.option("--id", "ids", multiple=True, type=int, help="Record id (repeatable).")
@click.option("--source", "source_name", help="Only records of this source.")
@click.option("--entity", type=click.Choice(["customer", "order", "payment", "shipment",
                                             "refund"]))
@click.option("--parked/--no-parked", default=True, show_default=True,
              help="Include parked records.")
def replay(tenant_name: str, ids: tuple[int, ...], source_name: str | None,
           entity: str | None, parked: bool) -> None:
    """Put failed (and parked) records back into the pipeline after a fix. Idempotent."""
    from connector.models import FAILED, PARKED
    from connector.services import records as staged
    from connector.services.admin import get_source, get_tenant

    with _session() as session:
        t = get_tenant(session, tenant_name)
        source_id = get_source(session, t, source_name).id if source_name else None
        count = staged.replay(session, tenant_id=t.id, ids=list(ids) or None,
                              source_id=source_id, entity=entity,
                              states=(FAILED, PARKED) if parked else (FAILED,))
        tenant_id = t.id
    click.echo(f"{count} record(s) queued for replay")
    if count:
        from tasks.sync import pump

        pump(tenant_id)


@cli.command()
@click.option("--tenant", "tenant_name", required=True)
@click.option("--all", "show_all", is_flag=True, help="Include resolved alerts.")
def alerts(tenant_name: str, show_all: bool) -> None:
    """Operational alerts (key owner gone, webhook deactivated, auth failing)."""
    from connector.models import Alert, Source
    from connector.services.admin import get_tenant

    with _session() as session:
        t = get_tenant(session, tenant_name)
        q = (select(Alert, Source.name).outerjoin(Source, Source.id == Alert.source_id)
             .where(Alert.tenant_id == t.id).order_by(Alert.id))
        if not show_all:
            q = q.where(Alert.state == "open")
        rows = session.execute(q).all()
        lines = [f"[{a.state}] {a.kind} {name or '-'} x{a.occurrences}: {a.message}"
                 for a, name in rows]
    click.echo("\n".join(lines) if lines else "no open alerts")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the reconciliation as JSON.")
@click.option("--customers", default=120, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--orders", default=300, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--invalid", default=5, show_default=True, type=click.IntRange(0, 1000),
              help="Orders seeded invalid on purpose (they must fail with a reason).")
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--timeout", default=900, show_default=True, type=int)
def demo(as_json: bool, customers: int, orders: int, invalid: int, seed: int,
         timeout: int) -> None:
    """Full sync against the sandbox on the embedded default, then a reconciliation.

    Exit code 0 when every difference between the stores and IFS is explained.
    """
    from connector.demo import DemoOptions, run_demo

    sys.exit(run_demo(DemoOptions(customers=customers, orders=orders, invalid=invalid,
                                  seed=seed, timeout=timeout, as_json=as_json)))


@cli.command(name="reconcile")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--json", "as_json", is_flag=True)
def reconcile_command(tenant_name: str, as_json: bool) -> None:
    """Compare each store with IFS: counts, net totals, failed records with reasons."""
    from connector.services.reconcile import reconcile, render

    _bootstrap()
    try:
        result = reconcile(tenant_name)
    except ValueError as exc:
        _fail(str(exc), 3)
    click.echo(json.dumps(result.as_dict(), indent=2) if as_json else render(result))
    sys.exit(0 if result.unexplained == 0 else 1)


# --- processes (Procfile) --------------------------------------------------------------------


@cli.command()
@click.option("--queues", default="fetch,transform,load,maintenance", show_default=True)
@click.option("--concurrency", type=int, default=None, help="Pool size (default: CPU count).")
@click.option("--loglevel", default="INFO", show_default=True)
def worker(queues: str, concurrency: int | None, loglevel: str) -> None:
    """Run a Celery worker (the `worker` process)."""
    _bootstrap()
    from tasks.app import app

    argv = ["worker", "-Q", queues, "--loglevel", loglevel, "-E", "--without-gossip"]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    app.worker_main(argv)


@cli.command()
@click.option("--loglevel", default="INFO", show_default=True)
def beat(loglevel: str) -> None:
    """Run Celery beat: one dispatcher tick (the `beat` process; run exactly one)."""
    _bootstrap()
    from tasks.app import app

    schedule = get_settings().data_dir / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    app.start(["beat", "--loglevel", loglevel, "--schedule", str(schedule)])


@cli.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True, envvar="MLC_WEB_BIND",
              help="host:port (env MLC_WEB_BIND; PaaS platforms pass 0.0.0.0:$PORT).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
def web(bind: str, workers: int) -> None:
    """Serve webhooks, health and operator pages under gunicorn (the `web` process)."""
    _bootstrap()
    from gunicorn.app.base import BaseApplication

    from web.app import create_app

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")

        def load(self) -> Any:
            return create_app()

    _App().run()


@cli.command()
@click.option("--port", default=5555, show_default=True, type=int)
@click.option("--address", default="127.0.0.1", show_default=True)
def flower(port: int, address: str) -> None:
    """Run the Flower dashboard behind basic auth (MLC_ADMIN_USER / MLC_ADMIN_PASSWORD)."""
    import os

    _bootstrap()
    settings = get_settings()
    if not settings.admin_user or not settings.admin_password:
        raise ConfigError(
            "MLC_ADMIN_PASSWORD",
            "Flower requires MLC_ADMIN_USER and MLC_ADMIN_PASSWORD (no open dashboard)",
        )
    # Passed through the environment, not argv, so the password is not visible in `ps`.
    os.environ["FLOWER_BASIC_AUTH"] = f"{settings.admin_user}:{settings.admin_password.reveal()}"
    from tasks.app import app

    app.start(["flower", f"--port={port}", f"--address={address}"])


def main() -> None:
    """Console-script entry point: configuration errors become one line and exit code 2."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    except SystemExit:
        raise
    sys.exit(0)


from connector.cli_sandbox import sandbox  # noqa: E402

cli.add_command(sandbox)

from connector.cli_bigcommerce import bigcommerce  # noqa: E402

cli.add_command(bigcommerce)

from connector.cli_woocommerce import woocommerce  # noqa: E402

cli.add_command(woocommerce)


if __name__ == "__main__":  # python -m connector.cli
    main()
