"""``ml-connector db``: schema migrations (Alembic)."""

from __future__ import annotations

import click

from connector.cli.common import bootstrap
from connector.config import get_settings


@click.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (the `release` process runs this)."""
    from connector import migrate

    bootstrap()
    url = get_settings().database_url
    assert url
    migrate.upgrade(url, revision)
    click.echo(f"database at revision {migrate.current_revision(url)}")


@db.command("downgrade")
@click.option("--revision", required=True, help="Target revision ('base' drops everything).")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    from connector import migrate

    bootstrap()
    url = get_settings().database_url
    assert url
    migrate.downgrade(url, revision)
    click.echo(f"database at revision {migrate.current_revision(url) or 'base'}")


@db.command("current")
def db_current() -> None:
    """Print the applied revision."""
    from connector import migrate

    bootstrap()
    url = get_settings().database_url
    assert url
    click.echo(migrate.current_revision(url) or "base")
