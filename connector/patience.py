"""Patience: an operator's command may wait out a remote system's "slow down" instead of
failing (issue 10, seen 3).

The pipeline never waits in a worker: a 429 becomes a retry later (``tasks/base.py``). A
command run by a person — ``reconcile``, the demo's reconciliation — has nobody to retry it
for them, so inside ``with patience(seconds):`` the store clients (``connector.http.send``)
wait a 429/503 out with the server's hint as a floor under a capped backoff, and the fleet
budgets wait for their grants, until the patience is spent; then the error is raised as usual.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from connector.errors import ConnectorError, RateLimited, Transient

#: A dropped connection or a 5xx is tried this many times more; a rate limit as long as the
#: patience lasts (the server said when to come back).
TRANSIENT_ATTEMPTS = 3

_deadline: ContextVar[float | None] = ContextVar("mlc_patience_deadline", default=None)


@contextmanager
def patience(seconds: float) -> Iterator[None]:
    """Within the block, rate limits and transient errors are waited out for ``seconds``."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float:
    """Seconds of patience left (0 outside a ``patience`` block)."""
    deadline = _deadline.get()
    return 0.0 if deadline is None else max(0.0, deadline - time.monotonic())


def wait_for(exc: ConnectorError, attempt: int, cap: float = 30.0) -> float | None:
    """How long to wait before trying again after ``exc`` (the ``attempt``-th, 0-based), or
    None when it is not worth waiting (no patience left, or not a retryable error)."""
    if not isinstance(exc, (RateLimited, Transient)):
        return None
    if not isinstance(exc, RateLimited) and attempt >= TRANSIENT_ATTEMPTS:
        return None  # an unreachable server is reported, not waited for
    backoff = random.uniform(0.5, 1.0) * min(cap, 2.0 ** attempt)
    wait = max(backoff, float(exc.retry_after or 0))
    return wait if wait < remaining() else None


def wait_out(exc: ConnectorError, attempt: int) -> bool:
    """Sleep as :func:`wait_for` says and return True, or return False (raise the error)."""
    wait = wait_for(exc, attempt)
    if wait is None:
        return False
    time.sleep(wait)
    return True
