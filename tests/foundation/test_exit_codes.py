"""The README's exit codes, one test per code: 0 success, 1 the operation failed, 2 bad
usage/input or configuration (naming the variable), 3 unknown tenant or source, 4 already
exists. Run as a real process, as scripts see them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "connector.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=120)


@pytest.fixture
def acme(clean_db: None) -> None:
    assert _run("tenant", "add", "acme", "--company", "10").returncode == 0


def test_exit_0_success(acme: None) -> None:
    r = _run("tenant", "list")
    assert r.returncode == 0 and "acme" in r.stdout


def test_exit_1_the_operation_failed(acme: None) -> None:
    r = _run("sync", "--tenant", "acme")
    assert r.returncode == 1 and "no active source" in r.stderr
    assert "Traceback" not in r.stderr


def test_exit_2_bad_input(acme: None) -> None:
    r = _run("tenant", "set", "acme", "--setting", "bc_customer_policy=maybe")
    assert r.returncode == 2 and "bc_customer_policy" in r.stderr
    r = _run("tenant", "add", "a/b", "--company", "10")
    assert r.returncode == 2 and "tenant name" in r.stderr
    r = _run("tenant", "nonsense")
    assert r.returncode == 2


def test_exit_2_configuration_names_the_variable() -> None:
    r = _run("tenant", "list", MLC_WEBHOOK_TOLERANCE_S="soon")
    assert r.returncode == 2 and "MLC_WEBHOOK_TOLERANCE_S" in r.stderr
    assert "Traceback" not in r.stderr


def test_exit_3_unknown_tenant_or_source(acme: None) -> None:
    assert _run("tenant", "show", "nobody").returncode == 3
    r = _run("source", "pause", "--tenant", "acme", "--source", "nope")
    assert r.returncode == 3 and "unknown source" in r.stderr


def test_exit_4_already_exists(acme: None) -> None:
    r = _run("tenant", "add", "acme", "--company", "10")
    assert r.returncode == 4 and "already exists" in r.stderr
