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


def test_a_worker_that_dies_of_an_unrecoverable_error_returns_its_exit_code(
        services: object) -> None:
    """The real Celery worker command, made to fail as the broker crash did (an exception out
    of a bootstep: "Unrecoverable error"). Celery sets exit code 1 and ``ctx.exit(1)``, but
    ``app.start()`` drops it (click returns it in non-standalone mode): the process ended 0
    (seen 10; and in the chaos run, a pool child killed while its worker started)."""
    import os

    from celery import Celery, bootsteps

    from tasks.cli import start_celery

    class Explodes(bootsteps.StartStopStep):
        def start(self, worker: object) -> None:
            raise RuntimeError("boom (an unrecoverable error)")

    app = Celery("mlc-test-unrecoverable", broker=os.environ["REDIS_URL"])
    app.steps["worker"].add(Explodes)
    try:
        code = start_celery(app, ["worker", "--pool", "solo", "--without-mingle",
                                  "--without-gossip", "--without-heartbeat", "-n",
                                  f"unrecoverable-{os.getpid()}@localhost", "-Q",
                                  f"mlc-test-unrecoverable-{os.getpid()}"])
    finally:
        app.close()
    assert code == 1
