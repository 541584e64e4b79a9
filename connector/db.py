"""Engine and session scope. One engine per process, created from the settings on first use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from connector.config import get_settings

_engine: Engine | None = None
_factory: sessionmaker[Session] | None = None


def sqlalchemy_url(url: str) -> str:
    """Pin the psycopg2 driver whatever scheme the operator wrote."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg2://" + url[len("postgresql://") :]
    return url


def _compact_json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def get_engine() -> Engine:
    global _engine, _factory
    if _engine is None:
        url = get_settings().database_url
        if not url:
            raise RuntimeError("database URL not resolved yet (call connector.runtime.bootstrap)")
        # No pre-ping: it was a round trip per checkout (7 % of worker samples, issue 14). A
        # connection that died meanwhile (Postgres restarted) fails one statement; SQLAlchemy
        # then drops the whole pool, and the record is retried or handed out again by the
        # sweeper (Postgres is the queue of record). Recycling keeps connections from going
        # stale behind idle-timeout proxies. JSON (plans, payloads, details) is stored compact.
        _engine = create_engine(
            sqlalchemy_url(url), pool_pre_ping=False, pool_recycle=1800, pool_size=5,
            max_overflow=10, future=True, json_serializer=_compact_json,
        )
        _factory = sessionmaker(_engine, expire_on_commit=False)
    return _engine


def reset_engine() -> None:
    """Drop the engine (after settings change, or in a forked worker process)."""
    global _engine, _factory
    if _engine is not None:
        _engine.dispose()
    _engine = None
    _factory = None


@contextmanager
def session_scope() -> Iterator[Session]:
    """A transaction: commits on success, rolls back on any exception."""
    get_engine()
    assert _factory is not None
    session = _factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
