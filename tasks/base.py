"""The one base task class: bounded retries, exponential backoff with jitter, server hints.

Tasks are thin (conventions habit 1): they call one service function and let this class turn
the connector's error family into a retry or a failure. Nothing here sleeps: a wait is a
countdown on the message, capped below the broker's visibility timeout.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from celery import Task

from connector.config import get_settings
from connector.errors import ConnectorError

log = logging.getLogger(__name__)


def backoff_seconds(attempt: int, exc: BaseException | None, cap: float,
                    base: float = 2.0, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff; a server's wait hint is honoured (plus a little jitter
    so a fleet does not wake in lockstep) but never beyond ``cap``."""
    rng = rng or random.Random()
    hint = getattr(exc, "retry_after", None)
    if hint is not None:
        return float(min(cap, float(hint) + rng.uniform(0.05, 1.0)))
    ceiling = min(cap, base * (2 ** attempt))
    return float(max(0.5, rng.uniform(ceiling / 2, ceiling)))


class ConnectorTask(Task):  # type: ignore[misc]
    """Base for every task: late acks, reject on worker lost, typed-error retries."""

    abstract = True
    acks_late = True
    reject_on_worker_lost = True

    def retry_on(self, exc: ConnectorError, **kwargs: Any) -> Any:
        """Retry a retryable error with backoff, or re-raise when the budget is spent."""
        settings = get_settings()
        retries = int(self.request.retries or 0)
        if not exc.retryable or retries >= settings.max_retries:
            raise exc
        countdown = backoff_seconds(retries, exc, settings.retry_backoff_max_s)
        log.info("%s: %s; retry %d/%d in %.1fs", self.name, type(exc).__name__, retries + 1,
                 settings.max_retries, countdown)
        raise self.retry(exc=exc, countdown=countdown, max_retries=settings.max_retries, **kwargs)

    def retries_left(self) -> bool:
        return int(self.request.retries or 0) < get_settings().max_retries
