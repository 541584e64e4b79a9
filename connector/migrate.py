"""``ml-connector db upgrade|downgrade|current`` — Alembic driven from code, no alembic.ini."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

from connector.db import sqlalchemy_url

MIGRATIONS = Path(__file__).parent / "migrations"


class _NoBoilerplate(logging.Filter):
    """Drops the two lines Alembic logs at INFO every time it opens a migration context
    ("Context impl PostgresqlImpl.", "Will assume transactional DDL."); the "Running upgrade"
    lines stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Context impl", "Will assume"))


_migration_log = logging.getLogger("alembic.runtime.migration")
if not any(isinstance(f, _NoBoilerplate) for f in _migration_log.filters):
    _migration_log.addFilter(_NoBoilerplate())


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # '%' must be doubled for configparser (passwords can contain it)
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision this code ships."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_current_head()
