"""Log context and JSON lines (``MLC_LOG_FORMAT=json``), beside the redactor of
:mod:`connector.logs`.

Every record carries ``tenant``, ``source``, ``record``, ``task_id``, ``task`` and
``correlation_id`` from the context bound by the task or step that logs; the JSON formatter
(python-json-logger) runs :func:`connector.logs.redact` over each finished line.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

from connector.logs import redact

#: Fields every log record carries (``None`` when not known in that context).
CONTEXT_FIELDS = ("tenant", "source", "record", "task_id", "task", "correlation_id")
_EMPTY: Any = MappingProxyType({})
_context: contextvars.ContextVar[Any] = contextvars.ContextVar("mlc_log_context",
                                                               default=_EMPTY)


def correlation_id(source_id: int, entity: str, external_id: str) -> str:
    """The id that follows one store record from its webhook or fetch to its IFS write: the
    same for every version of the record, computed from what each step knows."""
    return hashlib.sha256(f"{source_id}:{entity}:{external_id}".encode()).hexdigest()[:16]


def bind(**fields: Any) -> None:
    """Add fields to the log context of this task or request (until :func:`reset_context`)."""
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


def reset_context(**fields: Any) -> None:
    """Start a fresh log context (at the start of each task and request)."""
    _context.set({k: v for k, v in fields.items() if v is not None})


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Fields bound for the duration of a block."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Puts the bound context on every record (``extra=`` values win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound = _context.get()
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, bound.get(name))
        return True


def _json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    class RedactingJsonFormatter(JsonFormatter):
        """One JSON object per line; the redactor runs over the finished line, so a secret in
        a message, an argument, an extra field or a traceback never leaves the process."""

        def format(self, record: logging.LogRecord) -> str:
            return redact(super().format(record))

    return RedactingJsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        static_fields={},
    )


def configure_format(fmt: str) -> None:
    """``text`` (default) or ``json`` lines on every root handler, with the context fields."""
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())
        if fmt == "json":
            handler.setFormatter(_json_formatter())
