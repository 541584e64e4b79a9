"""``ml-connector`` — the operator's command line (click): a thin root that loads its command
groups on first use.

Exit codes scripts can rely on: 0 success; 1 the operation failed; 2 bad usage, bad input or a
configuration error (the message names the variable); 3 unknown tenant/source; 4 already exists.
Secrets are read from a prompt (hidden) or a file, never from the command line or echoed.

Where the commands live: one module per group in this package; each store's group in its
package (``connector/stores/<system>/cli.py``, named by its plugin); the commands that run or
talk to Celery (``worker``, ``beat``, ``flower``, ``sync``, ``replay``, ``backfill``) in
``tasks/cli.py``, ``fleet`` in ``tasks/fleet.py`` and ``web`` in ``web/cli.py``, registered
through the ``ml_connector.commands`` entry-point group so that the library never imports the
Celery app or the web app.
"""

from __future__ import annotations

import sys
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

import click

from connector.errors import ConfigError

COMMAND_ENTRY_POINTS = "ml_connector.commands"
#: Built-in commands: name -> "module:attribute".
BUILTIN: dict[str, str] = {
    "db": "connector.cli.db:db",
    "keys": "connector.cli.keys:keys",
    "tenant": "connector.cli.tenant:tenant",
    "ifs": "connector.cli.ifs:ifs",
    "source": "connector.cli.source:source",
    "status": "connector.cli.status:status",
    "records": "connector.cli.records:records",
    "alerts": "connector.cli.alerts:alerts",
    "reconcile": "connector.cli.reconcile:reconcile_command",
    "demo": "connector.cli.demo:demo",
    "sandbox": "connector.cli.sandbox:sandbox",
}


#: One-line help of every known command, so that ``ml-connector --help`` lists them without
#: importing them (SQLAlchemy, Celery and the store packages cost seconds to import). A test
#: keeps these in step with the commands' own docstrings; an unknown command is loaded.
SUMMARY: dict[str, str] = {
    "alerts": "Operational alerts (key owner gone, webhook deactivated, auth failing, lagging).",
    "backfill": "Stage a store's history between two dates, in windows (resumable).",
    "beat": "Run Celery beat: one dispatcher tick (the `beat` process; run exactly one).",
    "bigcommerce": "BigCommerce stores: webhook registration and health.",
    "db": "Database schema (Alembic migrations).",
    "demo": "Full sync against the sandbox on the embedded default, then a reconciliation.",
    "fleet": "Run the whole fleet locally: release, then web, worker, beat and flower.",
    "flower": ("Run the Flower dashboard behind basic auth (MLC_ADMIN_USER / MLC_ADMIN_PASSWORD); "
               "its /metrics and /healthcheck ask for the same credentials."),
    "ifs": "The tenant's IFS Cloud target.",
    "keys": "Encryption keys of the credential vault.",
    "reconcile": "Compare each store with IFS: counts, net totals, failed records with reasons.",
    "records": "List staged records in a state, with the reason they stopped.",
    "replay": "Put failed (and parked) records back into the pipeline after a fix. Idempotent.",
    "sandbox": "Local simulators of IFS Cloud, WooCommerce and BigCommerce (docs/sandbox.md).",
    "source": "Store sources (WooCommerce, BigCommerce) of a tenant.",
    "status": "Schema revision and the health of every source.",
    "sync": "Run a sync now: every stream of the tenant's (or one) source is fetched at once.",
    "tenant": "Tenants: one IFS company and its stores.",
    "web": "Serve webhooks, health and operator pages under gunicorn (the `web` process).",
    "woocommerce": "WooCommerce stores: webhook registration.",
    "worker": ("Run a Celery worker (the `worker` process). Exits non-zero on an unrecoverable "
               "error."),
}


def _load(target: str) -> click.Command:
    module, _, attr = target.partition(":")
    command = getattr(import_module(module), attr)
    assert isinstance(command, click.Command), target
    return command


class LazyGroup(click.Group):
    """The root group: built-in commands, each store's group (from the store registry) and
    the commands other packages register, imported only when asked for."""

    def _targets(self) -> dict[str, str]:
        found = dict(BUILTIN)
        for ep in entry_points(group=COMMAND_ENTRY_POINTS):
            found.setdefault(ep.name, ep.value)
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        from connector.stores.registry import systems

        return sorted({*self._targets(), *systems()})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, from :data:`SUMMARY` (nothing imported)."""
        rows = []
        for name in self.list_commands(ctx):
            summary = SUMMARY.get(name)
            if summary is None:
                command = self.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                summary = command.get_short_help_str(formatter.width - 6 - len(name))
            rows.append((name, summary))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self._targets().get(cmd_name)
        if target is not None:
            return _load(target)
        from connector.stores.registry import UnknownStore, get_store

        try:
            store_cli = get_store(cmd_name).cli
        except UnknownStore:
            return None
        return _load(store_cli) if store_cli else None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ml-connector")
def cli() -> None:
    """ml-connector: keeps IFS Cloud in sync with WooCommerce and BigCommerce stores.

    Without DATABASE_URL / REDIS_URL it starts an embedded Postgres and Redis under
    MLC_DATA_DIR (default ./.mlc-data). See deploy/env.example for every variable.
    """


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point: configuration errors become one line and exit code 2."""
    try:
        cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ConfigError as exc:
        from connector.logs import escape, redact

        click.echo(f"configuration error: {escape(redact(str(exc)))}", err=True)
        sys.exit(2)
    except SystemExit:
        raise
    sys.exit(0)
