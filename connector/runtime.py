"""Process start-up: settings, logging, embedded servers, service checks, in that order, once.

Every failure to start is a :class:`~connector.errors.ConfigError` naming the variable (the CLI
prints one line and exits 2): a malformed or unreachable ``DATABASE_URL``, ``REDIS_URL`` or
``CELERY_BROKER_URL``, bad TLS Redis options, the embedded default under ``MLC_ENV=production``.
Unknown ``MLC_*`` variables are warned about with the nearest known name.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import signal
from types import FrameType

from connector import embedded
from connector.config import Settings, get_settings, set_settings, unknown_variables
from connector.errors import ConfigError, safe_url
from connector.logformat import configure_format
from connector.logs import redact, setup_logging

log = logging.getLogger(__name__)
_CONNECT_TIMEOUT_S = 5


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return redact(text[0] if text else type(exc).__name__)[:300]


def check_database(url: str, variable: str = "DATABASE_URL") -> None:
    """Connect once; a malformed or unreachable URL becomes a ConfigError naming ``variable``."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from connector.db import sqlalchemy_url

    where = safe_url(url)
    try:
        engine = create_engine(sqlalchemy_url(url),
                               connect_args={"connect_timeout": _CONNECT_TIMEOUT_S})
    except (ArgumentError, ValueError, ImportError) as exc:
        raise ConfigError(variable, f"is not a valid database URL ({_first_line(exc)})") from None
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, ValueError, OSError) as exc:
        cause = _first_line(getattr(exc, "orig", None) or exc)
        raise ConfigError(variable, f"cannot connect to {where}: {cause}") from None
    finally:
        engine.dispose()


def check_redis(url: str, variable: str) -> None:
    """PING once; a malformed or unreachable URL (TLS options included) names ``variable``."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=_CONNECT_TIMEOUT_S,
                                      socket_timeout=_CONNECT_TIMEOUT_S)
    except (ValueError, TypeError) as exc:
        raise ConfigError(variable, f"is not a valid Redis URL ({_first_line(exc)})") from None
    try:
        client.ping()
    except (redis.RedisError, OSError, ValueError) as exc:
        raise ConfigError(variable, f"cannot connect to {safe_url(url)}: "
                          f"{_first_line(exc)}") from None
    finally:
        client.close()


def check_services(settings: Settings) -> None:
    """The configured (not embedded) services answer."""
    if settings.database_url and not settings.embedded_database:
        check_database(settings.database_url)
    if settings.redis_url and not settings.embedded_redis:
        check_redis(settings.redis_url, "REDIS_URL")
    broker = settings.broker_url
    if broker and broker != settings.redis_url and broker.startswith(("redis://", "rediss://")):
        check_redis(broker, "CELERY_BROKER_URL")


_checked: set[tuple[str | None, str | None, str | None]] = set()


def bootstrap(settings: Settings | None = None) -> Settings:
    """Resolve the settings of this process (starting embedded servers when configured so)."""
    settings = settings or get_settings()
    setup_logging(settings.log_level)
    for name, nearest in unknown_variables():
        hint = f" (did you mean {nearest}?)" if nearest else ""
        log.warning("unknown variable %s is ignored%s", name, hint)
    if settings.production and not settings.encryption_keys:
        raise ConfigError("MLC_ENCRYPTION_KEYS", "is required when MLC_ENV=production")
    key = (settings.database_url, settings.redis_url, settings.broker_url)
    if key not in _checked:
        check_services(settings)  # before the embedded start: it only checks external ones
        _checked.add(key)
    configure_format(settings.log_format)
    if settings.embedded_database or settings.embedded_redis or not settings.encryption_keys:
        settings = embedded.start(settings)
        _stop_embedded_on_exit()
    else:
        log.debug("mode: external Postgres and Redis")
    set_settings(settings)
    return settings



def _stop_embedded_on_exit() -> None:
    """Stop the embedded servers at exit, on Ctrl-C and on SIGTERM. SIGTERM's default action
    ends the process without running exit handlers, so it becomes a normal exit (status 143)
    unless someone (Celery's worker, gunicorn) installs a handler of their own later, which
    ends the process normally too."""
    atexit.register(embedded.stop)
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        # Not the main thread (ValueError): the process's own handling applies.
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
