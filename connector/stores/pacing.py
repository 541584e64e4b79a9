"""Flow control of a store client, shared by the store packages (issue 10, "one fetch per
stream, ever": each store client reads its rate-limit headers before sending and waits through
the fleet limiter, so a store's quota is shared by the fleet like IFS's).

Three things decide whether a store client may send now:

* the store's **fleet budget** (:class:`StoreBudget`, a ``connector.fleetbudget.FleetBudget``
  every worker draws from): never more than its requests in any 60-second window;
* the store's own **rate-limit headers** of the last response (:class:`RateState`): when they
  say the window is nearly spent, wait for its reset. Each store reads its own headers
  (:meth:`Pacing._read_rate`): BigCommerce ``X-Rate-Limit-*``, WooCommerce hosts ``RateLimit-*``;
* a **fleet hold** (:class:`StoreHold`, a :class:`FleetHold` on Redis): when the store
  answered 429/503 with a wait hint, every process waits it out, not only the one told.

A short wait (within the budget's ``max_wait_s``, or an operator's patience) is slept; a longer
one raises :class:`~connector.errors.RateLimited` (``BUDGET_EXHAUSTED``) with the wait, and the
task layer runs the work again then (flow control is not a failure).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import redis
import requests

from connector.errors import RateLimited
from connector.patience import remaining

__all__ = ["MAX_HOLD_S", "FleetHold", "Pacing", "RateState", "StoreBudget", "StoreHold",
           "int_header"]

#: The longest a store's wait hint holds the fleet back; a longer ``Retry-After`` is taken as
#: this (the task layer's backoff keeps its own cap).
MAX_HOLD_S = 600.0


class StoreBudget(Protocol):
    """The fleet-wide request budget of one store (``connector.fleetbudget.FleetBudget``)."""

    @property
    def max_wait_s(self) -> float: ...

    def acquire_waiting(self, n: int = 1) -> None: ...


class StoreHold(Protocol):
    """The fleet's shared wait after a store's 429 hint (:class:`FleetHold`)."""

    def hold(self, seconds: float) -> None: ...

    def remaining(self) -> float: ...


@dataclass(frozen=True)
class RateState:
    """The store's request window as of the last response that described it.

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


_NUMBER = re.compile(r"\s*(-?\d+(?:\.\d+)?)")


def int_header(headers: Mapping[str, str], name: str) -> int | None:
    """The leading number of a header as an int (``"100, 100;w=60"`` → 100), else ``None``."""
    value = headers.get(name)
    if value is None:
        return None
    match = _NUMBER.match(value)
    if match is None:
        return None
    return int(float(match.group(1)))


# KEYS[1]: the hold; ARGV[1]: its length in ms. A hold is only ever lengthened.
_HOLD_LUA = """
local ttl = redis.call('PTTL', KEYS[1])
if ttl < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0
"""


@dataclass(frozen=True)
class FleetHold:
    """A store's "come back in N seconds", shared by every process: one Redis key whose time to
    live is the wait (Redis' clock, so no process's clock matters)."""

    redis: redis.Redis
    key: str

    def __post_init__(self) -> None:
        if not self.key.startswith("mlc:hold:"):
            object.__setattr__(self, "key", "mlc:hold:" + self.key)

    def hold(self, seconds: float) -> None:
        """Nobody sends for ``seconds`` (at most :data:`MAX_HOLD_S`); a longer hold stays."""
        ms = math.ceil(min(MAX_HOLD_S, max(0.0, seconds)) * 1000)
        if ms > 0:
            self.redis.register_script(_HOLD_LUA)(keys=[self.key], args=[ms])

    def remaining(self) -> float:
        """Seconds the hold still lasts (0 when there is none)."""
        ttl = int(self.redis.pttl(self.key))
        return ttl / 1000.0 if ttl > 0 else 0.0


class Pacing:
    """A store client's flow control (mix into the client): reads the rate-limit headers of
    every response (``hooks={"response": [self._observe]}``), and before every request waits
    for the store's window, the fleet hold and a grant of the fleet budget — or raises
    :class:`RateLimited` with the wait when it is long.

    The client sets ``_rate`` (``None``), ``budget``, ``reserve`` and optionally ``hold``.
    """

    _rate: RateState | None
    budget: StoreBudget | None
    reserve: int
    hold: StoreHold | None = None

    @property
    def rate_state(self) -> RateState | None:
        """Rate-limit headers of the last response that carried them (``None`` before any)."""
        return self._rate

    def _read_rate(self, response: requests.Response) -> RateState | None:
        """The store's window as the response describes it (``None``: it says nothing)."""
        return None

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        state = self._read_rate(response)
        if state is not None:
            self._rate = state

    def _throttled(self, exc: RateLimited) -> RateLimited:
        """The store said "too many" (429/503): its wait hint — ``Retry-After``, or the reset of
        a window it reported spent — becomes the error's ``retry_after`` (a floor under the
        task's backoff) and, with a :class:`FleetHold`, the whole fleet's wait."""
        hint = exc.retry_after
        rate = self._rate
        if hint is None and rate is not None and rate.requests_left == 0:
            hint = rate.suggested_wait() or None
        if hint is not None and hint > 0:
            exc.retry_after = hint
            if self.hold is not None:
                self.hold.hold(hint)
        return exc

    def _before_send(self) -> None:
        """Flow control before every request: when the last response said the store's window
        is nearly spent, or the store told the fleet to hold off, wait (or raise
        :class:`RateLimited` with the wait when it is long); then take a token from the
        fleet-wide budget every worker shares."""
        wait = 0.0
        reason = "the store's request window is nearly spent"
        if self._rate is not None:
            wait = self._rate.suggested_wait(reserve=self.reserve)
        if self.hold is not None:
            held = self.hold.remaining()
            if held > wait:
                wait, reason = held, "the store asked the fleet to wait (Retry-After)"
        if wait > 0:
            if self.budget is None or wait > max(self.budget.max_wait_s, remaining()):
                raise RateLimited(reason, code="BUDGET_EXHAUSTED", retry_after=wait)
            time.sleep(wait)
            self._rate = None
        if self.budget is not None:
            self.budget.acquire_waiting()
