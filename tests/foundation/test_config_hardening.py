"""Issue 9 §7: every failure to start exits 2 with one line naming the variable; misspelt
``MLC_*`` variables are reported; TLS Redis options are checked at start; ``MLC_ENV=production``
refuses the embedded default."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from connector.config import Settings, unknown_variables
from connector.errors import ConfigError

KEY = os.environ["MLC_ENCRYPTION_KEYS"]


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in env or env[k] != ""}
    full.update({k: v for k, v in env.items() if v != ""})
    for k, v in env.items():
        if v == "":
            full.pop(k, None)
    return subprocess.run([sys.executable, "-m", "connector.cli", *args], capture_output=True,
                          text=True, env=full, timeout=120)


def _one_line_exit_2(r: subprocess.CompletedProcess[str], variable: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    errors = [line for line in r.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and variable in errors[0], r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("url", [
    "postgresql://mlc:s3cret-pw@127.0.0.1:1/mlc",              # nobody listens
    "postgresql://mlc:s3cret-pw@127.0.0.1:notaport/mlc",       # malformed port
    "postgresql://mlc:s3cret-pw@no-such-host.invalid/mlc",     # unknown host
])
def test_a_bad_database_url_exits_2_naming_it(url: str) -> None:
    r = _run("tenant", "list", DATABASE_URL=url)
    _one_line_exit_2(r, "DATABASE_URL")
    assert "s3cret-pw" not in r.stderr


def test_an_unreachable_redis_exits_2_naming_it() -> None:
    _one_line_exit_2(_run("tenant", "list", REDIS_URL="redis://127.0.0.1:1/0"), "REDIS_URL")


def test_rediss_without_certificate_options_is_refused_at_start() -> None:
    r = _run("tenant", "list", REDIS_URL="rediss://:pw@127.0.0.1:1/0")
    _one_line_exit_2(r, "MLC_REDIS_SSL_CERT_REQS")
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"REDIS_URL": "rediss://h:6380/0", "MLC_REDIS_SSL_CERT_REQS": "maybe"})
    assert err.value.variable == "MLC_REDIS_SSL_CERT_REQS"


def test_tls_redis_options_reach_redis_kombu_and_celery() -> None:
    from tasks.app import celery_config

    settings = Settings.from_env({"REDIS_URL": "rediss://:pw@redis.example:6380/0",
                                  "MLC_REDIS_SSL_CERT_REQS": "none",
                                  "DATABASE_URL": "postgresql://u@db.example/x",
                                  "MLC_ENCRYPTION_KEYS": KEY})
    assert settings.redis_url is not None and "ssl_cert_reqs=none" in settings.redis_url
    conf = celery_config(settings)
    assert "ssl_cert_reqs=none" in conf["broker_url"]
    assert "ssl_cert_reqs=none" in conf["result_backend"]
    kept = Settings.from_env({"REDIS_URL": "rediss://h:6380/0?ssl_cert_reqs=CERT_REQUIRED"})
    assert kept.redis_url is not None and "ssl_cert_reqs=required" in kept.redis_url
    import ssl

    import redis
    from kombu.utils.url import parse_url

    client = redis.Redis.from_url(settings.redis_url)
    assert client.connection_pool.connection_kwargs["ssl_cert_reqs"] == "none"
    assert parse_url(settings.redis_url)["ssl"] == {"ssl_cert_reqs": ssl.CERT_NONE}


def test_misspelt_variables_are_reported_with_the_nearest_name() -> None:
    assert unknown_variables({"MLC_LOG_LEVL": "DEBUG", "MLC_LOG_LEVEL": "INFO",
                              "MLC_TEST_REDIS_URL": "x", "PATH": "/bin"}) == [
        ("MLC_LOG_LEVL", "MLC_LOG_LEVEL")]
    r = _run("tenant", "list", MLC_WEBHOOK_TOLERANCE="30")
    assert r.returncode == 0, r.stderr
    assert "MLC_WEBHOOK_TOLERANCE" in r.stderr and "MLC_WEBHOOK_TOLERANCE_S" in r.stderr


def test_production_refuses_the_embedded_default() -> None:
    r = _run("db", "upgrade", MLC_ENV="production", DATABASE_URL="")
    _one_line_exit_2(r, "DATABASE_URL")
    r = _run("tenant", "list", MLC_ENV="production", REDIS_URL="")
    _one_line_exit_2(r, "REDIS_URL")
    _one_line_exit_2(_run("tenant", "list", MLC_ENV="staging"), "MLC_ENV")
    r = _run("tenant", "list", MLC_ENV="production")
    assert r.returncode == 0, r.stderr
