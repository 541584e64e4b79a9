"""Expected faults of a fleet: one log line and a counter, not a traceback (issue 10, seen 7).

A restarted Postgres, a restarted Redis, a worker killed mid-task: a fleet lives through these
every week and recovers by itself (Postgres is the queue of record; the sweeper and the broker's
visibility timeout hand the work out again). Their tracebacks buried the worker log of the
chaos run (153 tracebacks, 77 OperationalErrors). Here they are recognised by type, logged as
one line saying what happened, and counted in Redis (``mlc:faults``), which ``/metrics`` shows
as ``mlc_expected_faults_total{kind=…}``.

Recognised by class name and module, so the core imports neither Celery nor billiard.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

COUNTER_KEY = "mlc:faults"

#: (module prefix, class name) → kind
_EXPECTED: dict[tuple[str, str], str] = {
    ("sqlalchemy.exc", "OperationalError"): "database_connection",
    ("sqlalchemy.exc", "InterfaceError"): "database_connection",
    ("psycopg2", "OperationalError"): "database_connection",
    ("psycopg2", "InterfaceError"): "database_connection",
    ("redis.exceptions", "ConnectionError"): "redis_connection",
    ("redis.exceptions", "TimeoutError"): "redis_connection",
    ("kombu.exceptions", "OperationalError"): "broker_connection",
    ("billiard.exceptions", "WorkerLostError"): "worker_lost",
}

#: Database errors that are about the connection, not the statement.
_DB_HINTS = ("server closed the connection", "could not connect", "connection refused",
             "terminating connection", "connection already closed", "ssl syscall",
             "the database system is", "no connection to the server", "connection reset")


def fault_kind(exc: BaseException | None) -> str | None:
    """The kind of an expected fault, or None when ``exc`` is something else (a bug)."""
    seen = 0
    while exc is not None and seen < 5:
        cls = type(exc)
        for (module, name), kind in _EXPECTED.items():
            if cls.__name__ == name and cls.__module__.startswith(module):
                if kind == "database_connection" and not _about_connection(exc):
                    return None
                return kind
        wrapped = getattr(exc, "exc", None)  # billiard's ExceptionWithTraceback wraps it
        exc = wrapped if isinstance(wrapped, BaseException) else (exc.__cause__
                                                                  or exc.__context__)
        seen += 1
    return None


def _about_connection(exc: BaseException) -> bool:
    if getattr(exc, "connection_invalidated", False):
        return True
    text = str(exc).lower()
    return any(hint in text for hint in _DB_HINTS)


_sink: Callable[[str], None] | None = None


def set_sink(sink: Callable[[str], None] | None) -> None:
    """Where :func:`count_fault` counts (``connector.handles`` sets Redis: ``mlc:faults``)."""
    global _sink
    _sink = sink


def count_fault(kind: str) -> None:
    """Add one to the fleet's counter of ``kind`` (best effort: Redis may be the fault)."""
    if _sink is not None:
        with contextlib.suppress(Exception):  # the counter must never be the thing that fails
            _sink(kind)


def fault_counts(raw: dict[Any, Any]) -> dict[str, int]:
    """The counters from the ``mlc:faults`` hash as read from Redis."""
    return {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in raw.items()}


def one_line(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:200]}"


class ExpectedFaultFilter(logging.Filter):
    """On a handler: a record carrying an expected fault loses its traceback, says what the
    fault was in one line, and counts it."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        kind = fault_kind(exc)
        if kind is None or exc is None:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        # Its first line: celery.beat puts the whole call stack after it ("Message Error").
        message = (message.strip().splitlines() or [""])[0]
        inner = getattr(exc, "exc", None)  # billiard's ExceptionWithTraceback wraps it
        shown = inner if isinstance(inner, BaseException) else exc
        record.msg = f"{message} [expected fault: {kind}: {one_line(shown)}]"
        record.args = None
        record.exc_info = None
        record.exc_text = None
        count_fault(kind)
        return True
