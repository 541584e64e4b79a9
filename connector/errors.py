"""The connector's one error family, decided at the client boundary (design.md §5).

Every remote failure becomes one of these, and the task layer decides from the class alone what
to do: wait and retry (rate-limited, transient, conflict), alert and pause (auth), or fail the
record with a reason an operator can act on (data). Errors never carry secrets: URLs are stripped
of query strings that could hold credentials before they are stored here, and the message passes
the redactor (``connector.logs.redact``) when the error is made, so a remote error body that
echoes a token is masked before it reaches a task result, Flower, a log line or a stored reason.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from connector.logs import redact


def safe_url(url: str | None) -> str | None:
    """The URL without its query string and user info (consumer keys can travel in the query)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class ConnectorError(Exception):
    """Base of the family. ``retryable`` tells the task layer whether to try again."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.status = status
        self.url = safe_url(url)
        self.code = code
        self.retry_after = retry_after

    def __str__(self) -> str:
        bits = [self.message]
        if self.status is not None:
            bits.append(f"HTTP {self.status}")
        if self.code:
            bits.append(self.code)
        if self.url:
            bits.append(self.url)
        return " | ".join(bits)


class RateLimited(ConnectorError):
    """429 (or a WAF 503): wait ``retry_after`` seconds when the server said, else back off.
    ``rate_per_min`` is set when our own fleet-wide budget (not the server) said no."""

    retryable = True
    rate_per_min: int | None = None


class Transient(ConnectorError):
    """5xx, timeouts, dropped connections: retry with backoff."""

    retryable = True


class OutcomeUnknown(Transient):
    """A write whose answer could not be read (connection dropped after sending, timeout while
    waiting, an unreadable body): IFS may have committed it. Never a failure: re-read by natural
    key before any retry (the executor's lookups do), and audit it as ``unknown``."""

    outcome_unknown = True


class Conflict(ConnectorError):
    """412 Precondition Failed: re-read, re-apply the fields we own, retry."""

    retryable = True


class AuthError(ConnectorError):
    """401/403: credentials rejected. A store key that stops working pauses its source."""


class DataError(ConnectorError):
    """4xx validation or a business rule: permanent, never retried; the record fails with it."""


class NotFound(DataError):
    """404 on a read: callers usually treat it as 'absent' rather than as a failure."""


class ConfigError(Exception):
    """A missing or malformed setting. Raised at start, names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem
