"""Settings, built once from the environment (conventions habit 10).

A missing or malformed variable raises :class:`~connector.errors.ConfigError` naming it, and the
CLI turns that into a one-line message and exit code 2 before anything else starts. Every
variable read here is documented in ``deploy/env.example``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from connector.errors import ConfigError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Secret:
    """A string that never shows itself in ``repr``/``str``/logs. Call :meth:`reveal` to use it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme.split("+")[0] not in schemes:
        raise ConfigError(name, f"must be a URL starting with one of {', '.join(schemes)}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"must be a whole number, got {raw!r}")
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {value}")
    return value


def _shares(env: Mapping[str, str], name: str) -> tuple[tuple[str, int], ...]:
    raw = env.get(name, "").strip() or "interactive=60,bulk=25,background=15"
    from connector.fleetbudget import parse_shares

    try:
        return tuple(parse_shares(raw).items())
    except ValueError as exc:
        raise ConfigError(name, str(exc))


def _keys(env: Mapping[str, str], name: str) -> tuple[Secret, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return ()
    from cryptography.fernet import Fernet

    keys = []
    for i, part in enumerate(p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            Fernet(part.encode())
        except (ValueError, TypeError):
            raise ConfigError(
                name,
                f"key #{i + 1} is not a valid Fernet key (32 url-safe base64 bytes); "
                "generate one with `ml-connector keys generate`",
            )
        keys.append(Secret(part))
    return tuple(keys)


@dataclass(frozen=True)
class Settings:
    """Everything the processes read from the environment. Build with :meth:`from_env`."""

    database_url: str | None
    redis_url: str | None
    broker_url: str | None
    encryption_keys: tuple[Secret, ...]
    log_level: str = "INFO"
    data_dir: Path = field(default_factory=lambda: Path(".mlc-data"))
    visibility_timeout_s: int = 3600
    task_soft_time_limit_s: int = 240
    task_time_limit_s: int = 300
    max_retries: int = 0  # 0: no count limit, the per-kind deadlines below decide
    retry_backoff_max_s: int = 600
    # How long a retryable error of each kind may go on before the record fails as exhausted,
    # counted from its first failure (an IFS outage of a few hours is survived).
    retry_deadline_transient_s: int = 21_600
    retry_deadline_rate_limited_s: int = 21_600
    retry_deadline_conflict_s: int = 900
    dispatch_interval_s: int = 5
    fetch_lease_s: int = 60
    sweep_after_s: int = 300
    load_inflight_per_tenant: int = 20
    ifs_budget_per_min: int = 600
    # guaranteed share (%) of each request class in a budget; a class borrows what is unused
    budget_shares: tuple[tuple[str, int], ...] = (
        ("interactive", 60), ("bulk", 25), ("background", 15))
    webhook_max_body_bytes: int = 1_048_576
    webhook_tolerance_s: int = 300
    public_url: str | None = None
    admin_user: str | None = None
    admin_password: Secret | None = None

    def retry_deadline_s(self, kind: str) -> int:
        """The retry deadline of an error kind (``transient``, ``rate_limited``,
        ``conflict``); an unknown kind gets the transient one."""
        return {"rate_limited": self.retry_deadline_rate_limited_s,
                "conflict": self.retry_deadline_conflict_s}.get(
                    kind, self.retry_deadline_transient_s)

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url is None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        database_url = _url(env, "DATABASE_URL", ("postgresql", "postgres"))
        if database_url and database_url.startswith("postgres://"):
            # Heroku-style scheme; SQLAlchemy only knows postgresql://
            database_url = "postgresql://" + database_url[len("postgres://") :]
        redis_url = _url(env, "REDIS_URL", ("redis", "rediss", "unix"))
        broker_url = _url(env, "CELERY_BROKER_URL", ("redis", "rediss", "amqp", "amqps"))
        level = env.get("MLC_LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if level not in LOG_LEVELS:
            raise ConfigError("MLC_LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}")
        keys = _keys(env, "MLC_ENCRYPTION_KEYS")
        if database_url and not keys:
            raise ConfigError(
                "MLC_ENCRYPTION_KEYS",
                "is required when DATABASE_URL is set (comma-separated Fernet keys, newest "
                "first; `ml-connector keys generate` prints one)",
            )
        visibility = _int(env, "MLC_VISIBILITY_TIMEOUT_S", 3600, 60)
        hard = _int(env, "MLC_TASK_TIME_LIMIT_S", 300, 10)
        if hard >= visibility:
            raise ConfigError(
                "MLC_TASK_TIME_LIMIT_S",
                f"must be below MLC_VISIBILITY_TIMEOUT_S ({visibility}) or a running task "
                "would be redelivered to a second worker",
            )
        soft = _int(env, "MLC_TASK_SOFT_TIME_LIMIT_S", max(5, hard - 60), 5)
        if soft >= hard:
            raise ConfigError("MLC_TASK_SOFT_TIME_LIMIT_S", "must be below MLC_TASK_TIME_LIMIT_S")
        backoff_max = _int(env, "MLC_RETRY_BACKOFF_MAX_S", 600, 1)
        if backoff_max >= visibility:
            raise ConfigError(
                "MLC_RETRY_BACKOFF_MAX_S", f"must be below MLC_VISIBILITY_TIMEOUT_S ({visibility})"
            )
        password = env.get("MLC_ADMIN_PASSWORD", "")
        return cls(
            database_url=database_url,
            redis_url=redis_url,
            broker_url=broker_url,
            encryption_keys=keys,
            log_level=level,
            data_dir=Path(env.get("MLC_DATA_DIR", "").strip() or ".mlc-data"),
            visibility_timeout_s=visibility,
            task_soft_time_limit_s=soft,
            task_time_limit_s=hard,
            max_retries=_int(env, "MLC_MAX_RETRIES", 0, 0),
            retry_backoff_max_s=backoff_max,
            retry_deadline_transient_s=_int(env, "MLC_RETRY_DEADLINE_TRANSIENT_S", 21_600, 1),
            retry_deadline_rate_limited_s=_int(env, "MLC_RETRY_DEADLINE_RATE_LIMITED_S",
                                               21_600, 1),
            retry_deadline_conflict_s=_int(env, "MLC_RETRY_DEADLINE_CONFLICT_S", 900, 1),
            dispatch_interval_s=_int(env, "MLC_DISPATCH_INTERVAL_S", 5, 1),
            fetch_lease_s=_int(env, "MLC_FETCH_LEASE_S", 60, 5),
            sweep_after_s=_int(env, "MLC_SWEEP_AFTER_S", 300, 5),
            load_inflight_per_tenant=_int(env, "MLC_LOAD_INFLIGHT_PER_TENANT", 20, 1),
            ifs_budget_per_min=_int(env, "MLC_IFS_BUDGET_PER_MIN", 600, 1),
            budget_shares=_shares(env, "MLC_BUDGET_SHARES"),
            webhook_max_body_bytes=_int(env, "MLC_WEBHOOK_MAX_BODY_BYTES", 1_048_576, 1024),
            webhook_tolerance_s=_int(env, "MLC_WEBHOOK_TOLERANCE_S", 300, 1),
            public_url=_url(env, "MLC_PUBLIC_URL", ("http", "https")),
            admin_user=env.get("MLC_ADMIN_USER", "").strip() or None,
            admin_password=Secret(password) if password else None,
        )

    def with_services(self, database_url: str, redis_url: str,
                      keys: tuple[Secret, ...] | None = None) -> Settings:
        """A copy with concrete service URLs (used once the embedded servers are up)."""
        from dataclasses import replace

        return replace(
            self,
            database_url=database_url,
            redis_url=redis_url,
            broker_url=self.broker_url or redis_url,
            encryption_keys=keys if keys is not None else self.encryption_keys,
        )


_settings: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings


def set_settings(settings: Settings | None) -> None:
    """Replace the process-wide settings (embedded start-up, tests)."""
    global _settings
    _settings = settings
