from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from connector.config import Secret, Settings
from connector.errors import ConfigError

KEY = Fernet.generate_key().decode()
BASE = {"DATABASE_URL": "postgresql://u@h/db", "REDIS_URL": "redis://h:6379/0",
        "MLC_ENCRYPTION_KEYS": KEY}


def test_defaults_and_embedded_flags() -> None:
    s = Settings.from_env({})
    assert s.embedded_database and s.embedded_redis
    assert s.task_time_limit_s < s.visibility_timeout_s
    assert s.retry_backoff_max_s < s.visibility_timeout_s


def test_external_database_requires_keys() -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"DATABASE_URL": "postgresql://u@h/db"})
    assert err.value.variable == "MLC_ENCRYPTION_KEYS"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://u@h/db"),
        ("REDIS_URL", "http://h:6379"),
        ("CELERY_BROKER_URL", "kafka://x"),
        ("MLC_ENCRYPTION_KEYS", "not-a-fernet-key"),
        ("MLC_LOG_LEVEL", "LOUD"),
        ("MLC_VISIBILITY_TIMEOUT_S", "soon"),
        ("MLC_TASK_TIME_LIMIT_S", "4000"),  # above the 3600 s visibility timeout
        ("MLC_RETRY_BACKOFF_MAX_S", "9999"),
        ("MLC_PUBLIC_URL", "ftp://x"),
    ],
)
def test_malformed_variable_is_named(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env({**BASE, variable: value})
    assert err.value.variable == variable
    assert variable in str(err.value)


def test_key_list_newest_first_and_masked() -> None:
    other = Fernet.generate_key().decode()
    s = Settings.from_env({**BASE, "MLC_ENCRYPTION_KEYS": f"{KEY}, {other}"})
    assert [k.reveal() for k in s.encryption_keys] == [KEY, other]
    assert KEY not in repr(s) and other not in repr(s)
    assert KEY not in str(s.encryption_keys[0])


def test_secret_never_shows_itself() -> None:
    secret = Secret("hunter2-very-secret")
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret}"
    assert secret.reveal() == "hunter2-very-secret"


def test_heroku_style_postgres_scheme_is_accepted() -> None:
    s = Settings.from_env({**BASE, "DATABASE_URL": "postgres://u@h/db"})
    assert s.database_url == "postgresql://u@h/db"
