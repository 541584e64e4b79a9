from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import cli


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_tenant_lifecycle_and_exit_codes(clean_db: None, runner: CliRunner) -> None:
    r = runner.invoke(cli, ["tenant", "add", "acme", "--company", "10"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["tenant", "add", "acme", "--company", "10"])
    assert r.exit_code == 4 and "already exists" in r.output
    r = runner.invoke(cli, ["tenant", "show", "nobody"])
    assert r.exit_code == 3 and "unknown tenant 'nobody'" in r.output
    r = runner.invoke(cli, ["tenant", "list", "--json"])
    assert json.loads(r.output) == [{"name": "acme", "company": "10", "sources": 0}]


def test_ifs_target_and_sources(clean_db: None, runner: CliRunner, tmp_path: Path) -> None:
    runner.invoke(cli, ["tenant", "add", "acme", "--company", "10"])
    r = runner.invoke(cli, ["ifs", "set-target", "--no-check", "--tenant", "acme",
                            "--base-url", "not a url", "--realm", "r", "--client-id", "c"],
                      input="sec-ret-1\n")
    assert r.exit_code == 2 and "IFS base URL" in r.output
    secret_file = tmp_path / "secret"
    secret_file.write_text("sec-ret-1\n")
    r = runner.invoke(cli, ["ifs", "set-target", "--no-check", "--tenant", "acme", "--base-url",
                            "https://ifs.test/", "--realm", "r", "--client-id", "c",
                            "--client-secret-file", str(secret_file), "--site", "S1",
                            "--order-type", "NO", "--option", "email_method_id=E_MAIL"])
    assert r.exit_code == 0, r.output
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps({"consumer_key": "ck_1", "consumer_secret": "cs-secret-one"}))
    r = runner.invoke(cli, ["source", "add", "--no-check", "--tenant", "acme", "--name", "eu",
                            "--system", "woocommerce", "--base-url", "https://shop.test",
                            "--credentials-file", str(creds), "--key-owner", "shop-admin",
                            "--interval", "30"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["source", "add", "--no-check", "--tenant", "acme", "--name", "eu",
                            "--system", "woocommerce", "--base-url", "https://shop.test",
                            "--credentials-file", str(creds)])
    assert r.exit_code == 4
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"consumer_key": "ck_1"}))
    r = runner.invoke(cli, ["source", "add", "--no-check", "--tenant", "acme", "--name", "us",
                            "--system", "woocommerce", "--base-url", "https://shop.test",
                            "--credentials-file", str(bad)])
    assert r.exit_code == 2 and "consumer_secret" in r.output
    r = runner.invoke(cli, ["tenant", "show", "acme"])
    shown = json.loads(r.output)
    assert shown["ifs"]["client_secret"] == "********"
    assert shown["ifs"]["base_url"] == "https://ifs.test"
    assert shown["ifs"]["site"] == "S1" and shown["ifs"]["email_method_id"] == "E_MAIL"
    assert "sec-ret-1" not in r.output
    r = runner.invoke(cli, ["source", "pause", "--tenant", "acme", "--source", "eu"])
    assert r.exit_code == 0
    r = runner.invoke(cli, ["source", "list", "--tenant", "acme", "--json"])
    assert json.loads(r.output)[0]["status"] == "paused"
    r = runner.invoke(cli, ["source", "set-credentials", "--tenant", "acme", "--source", "eu"],
                      input="ck_2\ncs-secret-two\n")
    assert r.exit_code == 0 and "cs-secret-two" not in r.output
    r = runner.invoke(cli, ["source", "resume", "--tenant", "acme", "--source", "eu"])
    r = runner.invoke(cli, ["source", "list", "--tenant", "acme", "--json"])
    assert json.loads(r.output)[0]["status"] == "active"
    r = runner.invoke(cli, ["source", "pause", "--tenant", "acme", "--source", "nope"])
    assert r.exit_code == 3


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "connector.cli", *args], capture_output=True,
                          text=True, env=env or dict(os.environ), timeout=120)


def test_subprocess_help_and_commands(clean_db: None) -> None:
    r = _run("--help")
    assert r.returncode == 0
    for group in ("db", "keys", "tenant", "source", "ifs"):
        assert group in r.stdout
    assert _run("source", "add", "--help").returncode == 0
    r = _run("tenant", "add", "sub", "--company", "20")
    assert r.returncode == 0, r.stderr
    r = _run("tenant", "list", "--json")
    assert json.loads(r.stdout)[0]["name"] == "sub"
    r = _run("db", "current")
    assert r.returncode == 0 and r.stdout.strip() != "base"
    key = _run("keys", "generate").stdout.strip()
    assert len(key) == 44


def test_subprocess_config_error_names_variable() -> None:
    env = {**os.environ, "MLC_ENCRYPTION_KEYS": "garbage"}
    r = _run("tenant", "list", env=env)
    assert r.returncode == 2
    assert "MLC_ENCRYPTION_KEYS" in r.stderr
    assert "Traceback" not in r.stderr
    env = {**os.environ, "MLC_LOG_LEVEL": "LOUD"}
    r = _run("tenant", "list", env=env)
    assert r.returncode == 2 and "MLC_LOG_LEVEL" in r.stderr


def test_keys_rotate_command(clean_db: None, runner: CliRunner) -> None:
    runner.invoke(cli, ["tenant", "add", "acme", "--company", "10"])
    r = runner.invoke(cli, ["keys", "rotate"])
    assert r.exit_code == 0 and "rotated 0 secret(s)" in r.output


def test_flower_refuses_to_start_without_operator_credentials() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLC_ADMIN_")}
    r = _run("flower", env=env)
    assert r.returncode == 2
    assert "MLC_ADMIN_PASSWORD" in r.stderr and "Traceback" not in r.stderr
