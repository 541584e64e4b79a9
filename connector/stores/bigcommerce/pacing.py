"""Flow control of the BigCommerce client: the store's request budget (bc §6).

BigCommerce reports the per-store window on each response (``X-Rate-Limit-Requests-Left``,
``X-Rate-Limit-Time-Reset-Ms`` …); :class:`RateState` keeps the last of them so callers can slow
down *before* hitting the wall. The store's quota is shared by the fleet through a
:class:`StoreBudget` (a Redis limiter every worker draws from), and when the last response said
the window is nearly spent the client waits for its reset — briefly, or it raises
:class:`~connector.errors.RateLimited` and the task waits instead (issue 10, seen 8).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from connector.errors import RateLimited
from connector.patience import remaining

__all__ = ["Pacing", "RateState", "StoreBudget"]


class StoreBudget(Protocol):
    """The fleet-wide request budget of one store (``connector.fleetbudget.FleetBudget``)."""

    @property
    def max_wait_s(self) -> float: ...

    def acquire_waiting(self, n: int = 1) -> None: ...


@dataclass(frozen=True)
class RateState:
    """The per-store request budget as of the last response (bc §6 headers).

    ``observed_at`` is ``time.monotonic()`` when it was read. Every field may be ``None``: the
    headers are not guaranteed on every response.
    """

    requests_left: int | None
    requests_quota: int | None
    window_ms: int | None
    reset_ms: int | None
    observed_at: float

    @property
    def reset_s(self) -> float | None:
        """Seconds until the window resets, as of ``observed_at``."""
        return None if self.reset_ms is None else self.reset_ms / 1000.0

    def suggested_wait(self, reserve: int = 0, now: float | None = None) -> float:
        """Seconds to wait before the next request so that ``reserve`` requests stay for others
        (0 when budget remains or nothing is known)."""
        if self.requests_left is None or self.requests_left > reserve or self.reset_ms is None:
            return 0.0
        elapsed = (time.monotonic() if now is None else now) - self.observed_at
        return max(0.0, self.reset_ms / 1000.0 - elapsed)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


class Pacing:
    """The client's flow control: reads the budget headers of every response and waits (or
    raises :class:`RateLimited`) before a request the window has no room for."""

    _rate: RateState | None
    budget: StoreBudget | None
    reserve: int

    @property
    def rate_state(self) -> RateState | None:
        """Budget headers of the last response that carried them (``None`` before any)."""
        return self._rate

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        headers = response.headers
        left = _int_header(headers, "X-Rate-Limit-Requests-Left")
        reset = _int_header(headers, "X-Rate-Limit-Time-Reset-Ms")
        if left is None and reset is None:
            return
        self._rate = RateState(
            requests_left=left,
            requests_quota=_int_header(headers, "X-Rate-Limit-Requests-Quota"),
            window_ms=_int_header(headers, "X-Rate-Limit-Time-Window-Ms"),
            reset_ms=reset,
            observed_at=time.monotonic(),
        )

    def _before_send(self) -> None:
        """Flow control before every request (bc §6): when the last response said the store's
        window is nearly spent, wait for its reset (or raise :class:`RateLimited` with the wait
        when it is long); then take a token from the fleet-wide budget every worker shares."""
        if self._rate is not None:
            wait = self._rate.suggested_wait(reserve=self.reserve)
            if wait > 0:
                if self.budget is None or wait > max(self.budget.max_wait_s, remaining()):
                    raise RateLimited("the store's request window is nearly spent",
                                      code="BUDGET_EXHAUSTED", retry_after=wait)
                time.sleep(wait)
                self._rate = None
        if self.budget is not None:
            self.budget.acquire_waiting()
