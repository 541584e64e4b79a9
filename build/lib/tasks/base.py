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
from celery.exceptions import Ignore

from connector.config import get_settings
from connector.errors import ConnectorError, RateLimited

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

    def defer_for_budget(self, exc: ConnectorError) -> float | None:
        """When ``exc`` is our own fleet-wide budget running dry, run this task again once
        tokens are due, without spending its retries (flow control is not a failure).
        Returns the countdown, or None when ``exc`` is something else.

        The wake-ups are spread over the time the tenant's in-flight work needs at the budget's
        rate, so deferred tasks do not all come back for the same few tokens at once."""
        if not (isinstance(exc, RateLimited) and exc.code == "BUDGET_EXHAUSTED"):
            return None
        settings = get_settings()
        rate_per_s = max(1e-3, float(exc.rate_per_min or 600) / 60)
        spread = min(30.0, settings.load_inflight_per_tenant / rate_per_s)
        countdown = float(exc.retry_after or 0.1) + random.uniform(0, spread)
        self.signature(self.request.args, self.request.kwargs,
                       retries=int(self.request.retries or 0)).apply_async(countdown=countdown)
        return countdown

    def retry_on(self, exc: ConnectorError, **kwargs: Any) -> Any:
        """Retry a retryable error with backoff, or re-raise when the budget is spent. Budget
        exhaustion defers instead (see :meth:`defer_for_budget`)."""
        settings = get_settings()
        retries = int(self.request.retries or 0)
        if self.defer_for_budget(exc) is not None:
            raise Ignore()
        if not exc.retryable or retries >= settings.max_retries:
            raise exc
        countdown = backoff_seconds(retries, exc, settings.retry_backoff_max_s)
        log.info("%s: %s; retry %d/%d in %.1fs", self.name, type(exc).__name__, retries + 1,
                 settings.max_retries, countdown)
        raise self.retry(exc=exc, countdown=countdown, max_retries=settings.max_retries, **kwargs)

    def retries_left(self) -> bool:
        return int(self.request.retries or 0) < get_settings().max_retries
