"""Expected faults are one log line with a counter (issue 10, seen 7)."""

from __future__ import annotations

import logging

import psycopg2
import pytest
from sqlalchemy.exc import OperationalError

from connector.faults import COUNTER_KEY, ExpectedFaultFilter, fault_counts, fault_kind
from connector.handles import get_redis


def _record(exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except BaseException as caught:
        import sys

        record = logging.LogRecord("celery.app.trace", logging.ERROR, __file__, 1,
                                   "Task %s raised unexpected: %r", ("sync.load", caught),
                                   sys.exc_info())
        assert caught
        return record


def _lost_database() -> OperationalError:
    return OperationalError("SELECT 1", {}, psycopg2.OperationalError(
        "server closed the connection unexpectedly"))


def test_a_lost_database_is_one_line_and_counted(services: object) -> None:
    get_redis().delete(COUNTER_KEY)
    record = _record(_lost_database())
    assert ExpectedFaultFilter().filter(record)
    assert record.exc_info is None and "\n" not in record.getMessage()
    assert "expected fault: database_connection" in record.getMessage()
    assert fault_counts(get_redis().hgetall(COUNTER_KEY)) == {"database_connection": 1}


def test_a_bug_keeps_its_traceback() -> None:
    record = _record(KeyError("plan"))
    assert ExpectedFaultFilter().filter(record)
    assert record.exc_info is not None
    # A statement error is not a lost connection.
    assert fault_kind(OperationalError("SELECT", {}, psycopg2.OperationalError(
        "division by zero"))) is None


@pytest.mark.parametrize("exc,kind", [
    (_lost_database(), "database_connection"),
    (__import__("redis").exceptions.ConnectionError("Error 111"), "redis_connection"),
    (__import__("billiard.exceptions").exceptions.WorkerLostError("signal 9"), "worker_lost"),
])
def test_kinds(exc: BaseException, kind: str) -> None:
    assert fault_kind(exc) == kind


def test_a_lost_worker_as_celery_logs_it_is_recognised() -> None:
    # The worker's main process logs the WorkerLostError wrapped by billiard.
    from billiard.einfo import ExceptionWithTraceback
    from billiard.exceptions import WorkerLostError

    wrapped = ExceptionWithTraceback(WorkerLostError("signal 9 (SIGKILL)"), "Traceback ...")
    assert fault_kind(wrapped) == "worker_lost"


def test_beat_losing_redis_is_one_line_without_the_stack_it_puts_in_its_message() -> None:
    # celery.beat logs 'Message Error: %s\n%s' with traceback.format_stack() as the second
    # argument (seen in the chaos run's beat logs at the Redis restart).
    import traceback

    import redis

    try:
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:1.")
    except redis.exceptions.ConnectionError as exc:
        import sys

        record = logging.LogRecord("celery.beat", logging.ERROR, __file__, 1,
                                   "Message Error: %s\n%s", (exc, traceback.format_stack()),
                                   sys.exc_info())
    assert ExpectedFaultFilter().filter(record)
    message = record.getMessage()
    assert record.exc_info is None and "\n" not in message, message
    assert 'File "' not in message
    assert message.startswith("Message Error: Error 111")
    assert "expected fault: redis_connection" in message


def test_a_lost_worker_line_names_the_lost_worker_not_billiards_wrapper() -> None:
    # Seen in the chaos run: "[expected fault: worker_lost: ExceptionWithTraceback: \"\"\"]".
    from billiard.einfo import ExceptionWithTraceback
    from billiard.exceptions import WorkerLostError

    lost = WorkerLostError("Worker exited prematurely: signal 9")
    wrapped = ExceptionWithTraceback(lost, "Traceback (most recent call last): ...")
    record = logging.LogRecord("celery.worker.request", logging.ERROR, __file__, 1,
                               "Task handler raised error: %r", (lost,),
                               (type(wrapped), wrapped, None))
    assert ExpectedFaultFilter().filter(record)
    message = record.getMessage()
    assert "worker_lost: WorkerLostError: Worker exited prematurely: signal 9" in message
    assert "ExceptionWithTraceback" not in message
