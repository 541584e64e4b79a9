"""Session-wide real services. The environment is set before any test module imports the
connector, so the Celery app and the settings see the test database and Redis."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

from tests.services import ServiceSet

TEST_KEY = Fernet.generate_key().decode()
_services: ServiceSet | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _services
    _services = ServiceSet()
    os.environ["DATABASE_URL"] = _services.database_url
    os.environ["REDIS_URL"] = _services.redis_url
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ["MLC_ENCRYPTION_KEYS"] = TEST_KEY
    os.environ.setdefault("MLC_LOG_LEVEL", "INFO")
    from connector import migrate
    from connector.config import Settings, set_settings

    migrate.upgrade(_services.database_url)
    set_settings(Settings.from_env())


def pytest_unconfigure(config: pytest.Config) -> None:
    if _services is not None:
        _services.drop()


@pytest.fixture(scope="session")
def services() -> ServiceSet:
    assert _services is not None
    return _services


@pytest.fixture
def clean_db(services: ServiceSet) -> Iterator[None]:
    """Empty every table and the connector's Redis keys (not the broker's) before the test."""
    from sqlalchemy import text

    from connector.db import get_engine
    from connector.handles import get_redis
    from connector.models import Base

    tables = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))
    with get_engine().begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    client = get_redis()
    for key in client.scan_iter("mlc:*"):
        client.delete(key)
    yield


@pytest.fixture
def fleet_paused(clean_db: None) -> Iterator[None]:
    """The session's worker and beat, if running, stopped (SIGSTOP) for the test and resumed
    after it: a test that claims rows itself must not race the fleet's sweeper, which pumps
    every tenant's ready rows every few seconds. (After ``clean_db``: a stopped worker must
    not hold a lock its TRUNCATE waits for.)"""
    import os
    import signal

    from tests.integration.harness import FLEET

    procs = [p.proc for p in FLEET if p.proc is not None and p.proc.poll() is None]
    for proc in procs:
        os.killpg(proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGCONT)
