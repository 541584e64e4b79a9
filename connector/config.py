"""Settings, built once from the environment (conventions habit 10).

A missing or malformed variable raises :class:`~connector.errors.ConfigError` naming it, and the
CLI turns that into a one-line message and exit code 2 before anything else starts. Every
variable read here is documented in ``deploy/env.example``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from connector.errors import ConfigError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
ENVIRONMENTS = ("development", "production")
#: ``ssl_cert_reqs`` of a ``rediss://`` connection (redis-py, kombu and Celery all take these).
SSL_CERT_REQS = ("required", "optional", "none")
_SSL_ALIASES = {"cert_required": "required", "cert_optional": "optional", "cert_none": "none"}

#: Every ``MLC_*`` variable the processes read (deploy/env.example documents each). Any other
#: ``MLC_*`` variable is reported at start with the nearest known name: a misspelt setting
#: would otherwise be ignored silently. Add a new variable here and in deploy/env.example.
KNOWN_VARIABLES = frozenset({
    "MLC_ENV", "MLC_ENCRYPTION_KEYS", "MLC_ADMIN_USER", "MLC_ADMIN_PASSWORD", "MLC_LOG_LEVEL",
    "MLC_DATA_DIR", "MLC_PUBLIC_URL", "MLC_VISIBILITY_TIMEOUT_S", "MLC_TASK_TIME_LIMIT_S",
    "MLC_TASK_SOFT_TIME_LIMIT_S", "MLC_MAX_RETRIES", "MLC_RETRY_BACKOFF_MAX_S",
    "MLC_RETRY_DEADLINE_TRANSIENT_S", "MLC_RETRY_DEADLINE_RATE_LIMITED_S",
    "MLC_RETRY_DEADLINE_CONFLICT_S", "MLC_FETCH_LEASE_S", "MLC_BUDGET_SHARES",
    "MLC_DISPATCH_INTERVAL_S", "MLC_SWEEP_AFTER_S", "MLC_LOAD_INFLIGHT_PER_TENANT",
    "MLC_LOAD_BATCH_SIZE", "MLC_IFS_BUDGET_PER_MIN", "MLC_WEBHOOK_MAX_BODY_BYTES",
    "MLC_WEBHOOK_TOLERANCE_S",
    "MLC_WEBHOOK_FETCHES_PER_MIN", "MLC_REDIS_SSL_CERT_REQS", "MLC_REDIS_SSL_CA_CERTS",
    "MLC_WEB_BIND", "MLC_INITIAL_SYNC_DAYS", "MLC_LOG_FORMAT", "MLC_METRICS_PORT",
    "MLC_ALERT_LAG_S", "MLC_ALERT_FAILURE_RATE", "MLC_ALERT_FAILURE_MIN", "MLC_ALERT_WINDOW_S",
    "MLC_SMTP_HOST", "MLC_SMTP_PORT", "MLC_SMTP_USER", "MLC_SMTP_PASSWORD", "MLC_SMTP_FROM",
    "MLC_SMTP_STARTTLS",
})
#: Prefixes of variables that belong to other tools (the test suite's service URLs).
_FOREIGN_PREFIXES = ("MLC_TEST_",)


def unknown_variables(env: Mapping[str, str] | None = None) -> list[tuple[str, str | None]]:
    """``(name, nearest known name or None)`` for every ``MLC_*`` variable nobody reads."""
    env = os.environ if env is None else env
    out = []
    for name in sorted(env):
        if (not name.startswith("MLC_") or name in KNOWN_VARIABLES
                or name.startswith(_FOREIGN_PREFIXES)):
            continue
        close = difflib.get_close_matches(name, sorted(KNOWN_VARIABLES), n=1, cutoff=0.6)
        out.append((name, close[0] if close else None))
    return out


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
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ConfigError(name, f"is not a valid URL ({exc})") from None
    if parts.scheme.split("+")[0] not in schemes:
        raise ConfigError(name, f"must be a URL starting with one of {', '.join(schemes)}")
    if parts.scheme != "unix" and not parts.hostname and "host=" not in parts.query:
        raise ConfigError(name, "must name a host")
    return value


def _ssl_value(raw: str, name: str) -> str:
    value = _SSL_ALIASES.get(raw.strip().lower(), raw.strip().lower())
    if value not in SSL_CERT_REQS:
        raise ConfigError(name, f"must be one of {', '.join(SSL_CERT_REQS)}, got {raw!r}")
    return value


def _tls_redis(url: str | None, name: str, cert_reqs: str | None,
               ca_certs: str | None) -> str | None:
    """A ``rediss://`` URL with its TLS options in the query, where redis-py, kombu and Celery
    all read them. Without ``ssl_cert_reqs`` (in the URL or MLC_REDIS_SSL_CERT_REQS) Celery
    refuses the URL only once a worker connects, so the check is made here, at start."""
    if not url or not url.startswith("rediss://"):
        return url
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if "ssl_cert_reqs" in query:
        query["ssl_cert_reqs"] = _ssl_value(query["ssl_cert_reqs"], name)
    elif cert_reqs is not None:
        query["ssl_cert_reqs"] = cert_reqs
    else:
        raise ConfigError(
            "MLC_REDIS_SSL_CERT_REQS",
            f"{name} is a rediss:// URL: say how to check the server's certificate: "
            "'required' (with MLC_REDIS_SSL_CA_CERTS for a private CA) or 'none' (Heroku Redis "
            "uses self-signed certificates)")
    if ca_certs and "ssl_ca_certs" not in query:
        query["ssl_ca_certs"] = ca_certs
    return urlunsplit(parts._replace(query=urlencode(query)))


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


def _ratio(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"must be a number between 0 and 1, got {raw!r}") from None
    if not 0 < value <= 1:
        raise ConfigError(name, f"must be a number between 0 and 1, got {raw!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(name, f"must be true or false, got {raw!r}")
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
    # records of one tenant loaded by one task (one broker message) when a backlog is handed out
    load_batch_size: int = 4
    ifs_budget_per_min: int = 600
    # guaranteed share (%) of each request class in a budget; a class borrows what is unused
    budget_shares: tuple[tuple[str, int], ...] = (
        ("interactive", 60), ("bulk", 25), ("background", 15))
    webhook_max_body_bytes: int = 1_048_576
    webhook_tolerance_s: int = 300
    webhook_fetches_per_min: int = 6
    public_url: str | None = None
    admin_user: str | None = None
    admin_password: Secret | None = None
    environment: str = "development"

    @property
    def production(self) -> bool:
        """``MLC_ENV=production``: no embedded defaults, every service must be configured."""
        return self.environment == "production"
    initial_sync_days: int = 30
    log_format: str = "text"
    alert_lag_s: int = 1800
    alert_failure_rate: float = 0.25
    alert_failure_min: int = 5
    alert_window_s: int = 900
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: Secret | None = None
    smtp_from: str = "ml-connector@localhost"
    smtp_starttls: bool = True

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
        environment = env.get("MLC_ENV", "").strip().lower() or "development"
        if environment not in ENVIRONMENTS:
            raise ConfigError("MLC_ENV", f"must be one of {', '.join(ENVIRONMENTS)}, "
                              f"got {environment!r}")
        database_url = _url(env, "DATABASE_URL", ("postgresql", "postgres"))
        if database_url and database_url.startswith("postgres://"):
            # Heroku-style scheme; SQLAlchemy only knows postgresql://
            database_url = "postgresql://" + database_url[len("postgres://") :]
        raw_reqs = env.get("MLC_REDIS_SSL_CERT_REQS", "").strip()
        cert_reqs = _ssl_value(raw_reqs, "MLC_REDIS_SSL_CERT_REQS") if raw_reqs else None
        ca_certs = env.get("MLC_REDIS_SSL_CA_CERTS", "").strip() or None
        if ca_certs and not Path(ca_certs).is_file():
            raise ConfigError("MLC_REDIS_SSL_CA_CERTS", f"no such file: {ca_certs}")
        redis_url = _tls_redis(_url(env, "REDIS_URL", ("redis", "rediss", "unix")),
                               "REDIS_URL", cert_reqs, ca_certs)
        broker_url = _tls_redis(
            _url(env, "CELERY_BROKER_URL", ("redis", "rediss", "amqp", "amqps")),
            "CELERY_BROKER_URL", cert_reqs, ca_certs)
        if environment == "production":
            for name, value in (("DATABASE_URL", database_url), ("REDIS_URL", redis_url)):
                if not value:
                    raise ConfigError(name, "is required when MLC_ENV=production (the embedded "
                                      "default is for development; is the add-on attached?)")
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
        smtp_password = env.get("MLC_SMTP_PASSWORD", "")
        log_format = env.get("MLC_LOG_FORMAT", "text").strip().lower() or "text"
        if log_format not in ("text", "json"):
            raise ConfigError("MLC_LOG_FORMAT", f"must be text or json, got {log_format!r}")
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
            load_batch_size=_int(env, "MLC_LOAD_BATCH_SIZE", 4, 1),
            ifs_budget_per_min=_int(env, "MLC_IFS_BUDGET_PER_MIN", 600, 1),
            budget_shares=_shares(env, "MLC_BUDGET_SHARES"),
            webhook_max_body_bytes=_int(env, "MLC_WEBHOOK_MAX_BODY_BYTES", 1_048_576, 1024),
            webhook_tolerance_s=_int(env, "MLC_WEBHOOK_TOLERANCE_S", 300, 1),
            webhook_fetches_per_min=_int(env, "MLC_WEBHOOK_FETCHES_PER_MIN", 6, 1),
            public_url=_url(env, "MLC_PUBLIC_URL", ("http", "https")),
            admin_user=env.get("MLC_ADMIN_USER", "").strip() or None,
            admin_password=Secret(password) if password else None,
            environment=environment,
            initial_sync_days=_int(env, "MLC_INITIAL_SYNC_DAYS", 30, 0),
            log_format=log_format,
            alert_lag_s=_int(env, "MLC_ALERT_LAG_S", 1800, 60),
            alert_failure_rate=_ratio(env, "MLC_ALERT_FAILURE_RATE", 0.25),
            alert_failure_min=_int(env, "MLC_ALERT_FAILURE_MIN", 5, 1),
            alert_window_s=_int(env, "MLC_ALERT_WINDOW_S", 900, 60),
            smtp_host=env.get("MLC_SMTP_HOST", "").strip() or None,
            smtp_port=_int(env, "MLC_SMTP_PORT", 587, 1),
            smtp_user=env.get("MLC_SMTP_USER", "").strip() or None,
            smtp_password=Secret(smtp_password) if smtp_password else None,
            smtp_from=env.get("MLC_SMTP_FROM", "").strip() or "ml-connector@localhost",
            smtp_starttls=_bool(env, "MLC_SMTP_STARTTLS", True),
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
