"""The one base task class: retries bounded by time, exponential backoff with jitter, server
hints as a floor.

Tasks are thin (conventions habit 1): they call one service function and let this class turn
the connector's error family into a retry or a failure. Nothing here sleeps: a wait is a
countdown on the message, capped below the broker's visibility timeout.

A retryable error retries until its kind's deadline (``MLC_RETRY_DEADLINE_*_S``) counted from
the first failure, not for a number of attempts: a storm of connection errors that ends after
twenty minutes is survived however many attempts it took. When the first failure happened is
kept on the record's row (staged records) or in a message header (``mlc_failing_since``, a
timestamp; never a payload) for the other tasks.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from celery import Task
from celery.exceptions import Ignore

from connector.config import Settings, get_settings
from connector.errors import Conflict, ConnectorError, RateLimited
from connector.faults import count_fault, fault_kind, one_line

log = logging.getLogger(__name__)

FAILING_SINCE_HEADER = "mlc_failing_since"


def backoff_seconds(attempt: int, exc: BaseException | None, cap: float,
                    base: float = 2.0, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff, capped at ``cap``. A server's wait hint is a floor
    under it (plus a little jitter so a fleet does not wake in lockstep), never a replacement:
    ``Retry-After: 1`` does not turn the eighth attempt into a one-second wait."""
    rng = rng or random.Random()
    ceiling = min(cap, base * (2 ** attempt))
    wait = max(0.5, rng.uniform(ceiling / 2, ceiling))
    hint = getattr(exc, "retry_after", None)
    if hint is not None:
        wait = max(wait, float(hint) + rng.uniform(0.05, 1.0))
    return float(min(cap, wait))


def error_kind(exc: ConnectorError) -> str:
    """The retry-deadline kind of a retryable error."""
    if isinstance(exc, RateLimited):
        return "rate_limited"
    if isinstance(exc, Conflict):
        return "conflict"
    return "transient"


@dataclass(frozen=True)
class RetryDecision:
    """Whether to retry, and if not, the reason the work gives up with."""

    retry: bool
    countdown: float = 0.0
    reason: str = ""


def decide_retry(exc: ConnectorError, *, attempt: int, failing_since: datetime,
                 settings: Settings | None = None, now: datetime | None = None,
                 rng: random.Random | None = None) -> RetryDecision:
    """Retry ``exc`` (the ``attempt``-th failure, 0-based) unless its kind's deadline, counted
    from ``failing_since``, has passed (or the optional count cap ``MLC_MAX_RETRIES``)."""
    settings = settings or get_settings()
    now = now or datetime.now(UTC)
    kind = error_kind(exc)
    deadline = settings.retry_deadline_s(kind)
    elapsed = max(0.0, (now - failing_since).total_seconds())
    capped = settings.max_retries > 0 and attempt >= settings.max_retries
    if exc.retryable and elapsed < deadline and not capped:
        countdown = backoff_seconds(attempt, exc, settings.retry_backoff_max_s, rng=rng)
        return RetryDecision(True, countdown)
    since = failing_since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    reason = (f"gave up after {attempt + 1} attempt(s) over {_duration(elapsed)} "
              f"(failing since {since}; {kind} errors retry for {_duration(deadline)}): {exc}")
    return RetryDecision(False, reason=reason)


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def parse_since(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def budget_countdown(exc: RateLimited | ConnectorError) -> float:
    """When to run work deferred by the fleet budget: the budget's own wait, plus a spread
    over the time the tenant's in-flight window needs at the budget's rate, so deferred tasks
    do not all come back for the same few tokens at once."""
    settings = get_settings()
    rate_per_s = max(1e-3, float(getattr(exc, "rate_per_min", None) or 600) / 60)
    spread = min(30.0, settings.load_inflight_per_tenant / rate_per_s)
    return float(exc.retry_after or 0.1) + random.uniform(0, spread)


class ConnectorTask(Task):  # type: ignore[misc]
    """Base for every task: late acks, reject on worker lost, typed-error retries."""

    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    # Retries are bounded by time (decide_retry), not by Celery's count: ``retry(
    # max_retries=None)`` falls back to this attribute, whose Celery default is 3.
    max_retries = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task; an expected fleet fault (a lost database or Redis connection) is one
        log line, a counter, and a retry — not a traceback (``connector.faults``)."""
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            kind = fault_kind(exc)
            if kind is None or self.request.called_directly:
                raise
            count_fault(kind)
            retries = int(self.request.retries or 0)
            countdown = backoff_seconds(retries, exc, get_settings().retry_backoff_max_s)
            log.warning("%s: %s [expected fault: %s]; retry in %.1fs", self.name,
                        one_line(exc), kind, countdown)
            raise self.retry(exc=exc, countdown=countdown, max_retries=None,
                             headers=self._since_headers(self.failing_since())) from None

    def failing_since(self) -> datetime | None:
        """When this message's run of failures began (its ``mlc_failing_since`` header)."""
        return parse_since(getattr(self.request, FAILING_SINCE_HEADER, None)
                           or (self.request.headers or {}).get(FAILING_SINCE_HEADER))

    def _since_headers(self, since: datetime | None) -> dict[str, str]:
        return {FAILING_SINCE_HEADER: since.isoformat()} if since is not None else {}

    def defer_for_budget(self, exc: ConnectorError) -> float | None:
        """When ``exc`` is our own fleet-wide budget running dry, run this task again once
        tokens are due, without counting as a failure (flow control is not a failure).
        Returns the countdown, or None when ``exc`` is something else.

        The wake-ups are spread over the time the tenant's in-flight work needs at the budget's
        rate, so deferred tasks do not all come back for the same few tokens at once."""
        if not (isinstance(exc, RateLimited) and exc.code == "BUDGET_EXHAUSTED"):
            return None
        countdown = budget_countdown(exc)
        self.signature(self.request.args, self.request.kwargs,
                       retries=int(self.request.retries or 0)).apply_async(
            countdown=countdown, headers=self._since_headers(self.failing_since()))
        return countdown

    def retry_on(self, exc: ConnectorError, *,
                 before_wait: Callable[[float], None] | None = None,
                 on_give_up: Callable[[str], None] | None = None, **kwargs: Any) -> Any:
        """Retry a retryable error with backoff until its kind's deadline, or re-raise. Budget
        exhaustion defers instead (see :meth:`defer_for_budget`). ``before_wait(seconds)`` runs
        before the task waits (a fetch keeps its stream claimed over the wait);
        ``on_give_up(reason)`` before the error is re-raised for good."""
        retries = int(self.request.retries or 0)
        if isinstance(exc, RateLimited) and exc.code == "BUDGET_EXHAUSTED" and before_wait:
            before_wait(float(exc.retry_after or 0.1) + 30.0)  # covers the deferral's spread
        if self.defer_for_budget(exc) is not None:
            raise Ignore()
        if not exc.retryable:
            if on_give_up is not None:
                on_give_up(str(exc))
            raise exc
        since = self.failing_since() or datetime.now(UTC)
        decision = decide_retry(exc, attempt=retries, failing_since=since)
        if not decision.retry:
            log.warning("%s: %s", self.name, decision.reason)
            if on_give_up is not None:
                on_give_up(decision.reason)
            raise exc
        if before_wait is not None:
            before_wait(decision.countdown)
        log.info("%s: %s; retry %d in %.1fs", self.name, type(exc).__name__, retries + 1,
                 decision.countdown)
        raise self.retry(exc=exc, countdown=decision.countdown, max_retries=None,
                         headers=self._since_headers(since), **kwargs)
