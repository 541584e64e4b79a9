"""``ml-connector worker``: a node name of its own, and a non-zero exit when Celery gives up
(issue 10, seen 10 and 13)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tasks.cli import _exit_with, worker


def test_worker_takes_a_node_name_and_defaults_to_a_unique_one() -> None:
    r = CliRunner().invoke(worker, ["--help"])
    assert r.exit_code == 0
    assert "-n, --hostname" in r.output and "worker-<pid>@<host>" in r.output


def test_an_unrecoverable_exit_is_not_zero() -> None:
    # Celery's app.start() returns the worker's exit code instead of exiting with it.
    with pytest.raises(SystemExit) as info:
        _exit_with(1)
    assert info.value.code == 1
    _exit_with(0)
    _exit_with(None)
