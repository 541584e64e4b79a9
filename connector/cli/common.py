"""Helpers every command module shares: clean failures with exit codes, bootstrap, one
transaction per command."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session


def fail(message: str, code: int) -> None:
    """One line on stderr (secrets masked, control characters escaped) and the exit code."""
    from connector.logs import escape, redact

    click.echo(f"error: {escape(redact(message))}", err=True)
    sys.exit(code)


def bootstrap() -> None:
    from connector.runtime import bootstrap

    bootstrap()


@contextmanager
def command_session() -> Iterator[Session]:
    """A transaction for one command; admin errors become clean exits with their code."""
    from connector.crypto import VaultError
    from connector.db import session_scope
    from connector.operations.admin import AdminError

    bootstrap()
    try:
        with session_scope() as session:
            yield session
    except AdminError as exc:
        fail(str(exc), exc.exit_code)
    except VaultError as exc:
        fail(str(exc), 2)


def vault() -> Any:
    from connector.handles import get_vault

    return get_vault()


def tenant_sources(session: Session, tenant_name: str,
                   source_name: str | None) -> tuple[Any, list[Any]]:
    """The tenant and its sources (or the one named)."""
    from connector.models import Source
    from connector.operations.admin import get_source, get_tenant

    t = get_tenant(session, tenant_name)
    if source_name:
        return t, [get_source(session, t, source_name)]
    return t, list(session.scalars(select(Source).where(Source.tenant_id == t.id)))
