"""Fleet-wide request budgets: one token bucket per (remote system, tenant) in Redis.

Every worker process that talks to a tenant's IFS (or a store) draws from the same bucket, so the
fleet as a whole stays under the tenant's limit and a 429 normally never happens (ifs-cloud.md,
"Decisions for this project" 2; design.md §5). The bucket lives in one Redis hash and is updated
by one Lua script, so concurrent workers never double-spend a token; the script reads Redis' own
clock (``TIME``), so worker clocks that drift do not matter.

Nothing here sleeps: a caller that gets no token learns how long to wait and turns that into a
:class:`~connector.errors.RateLimited`, which the task layer retries later (conventions habit 5).
"""

from __future__ import annotations

import math
import time
from typing import Protocol

import redis

from connector.errors import RateLimited

KEY_PREFIX = "mlc:budget:"

# KEYS[1] bucket hash; ARGV: rate (tokens per microsecond), burst, n, ttl (ms).
# State: tokens (float) and ts (Redis time in microseconds of the last update).
# Returns the wait in seconds as a string ("0" when granted); Lua numbers returned as-is would be
# truncated to integers by Redis.
_TOKEN_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate)
  ts = now
end
local wait = 0
if tokens >= n then
  tokens = tokens - n
else
  wait = (n - tokens) / rate / 1000000
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', string.format('%d', ts))
redis.call('PEXPIRE', KEYS[1], ttl)
return string.format('%.6f', wait)
"""


def budget_key(system: str, tenant: str | int) -> str:
    """The conventional budget name for one tenant on one remote system, e.g. ``ifs:7``."""
    return f"{system}:{tenant}"


class RedisBudget:
    """A token bucket shared by every process that uses the same Redis ``key``.

    ``rate_per_min`` tokens are added per minute, up to ``burst`` (default: one second's worth,
    at least 1). Two instances with the same key share one budget — that is the point: each
    worker builds its own instance, Redis holds the one bucket.
    """

    def __init__(
        self,
        redis: redis.Redis,
        key: str,
        rate_per_min: int,
        burst: int | None = None,
    ) -> None:
        if rate_per_min < 1:
            raise ValueError("rate_per_min must be at least 1")
        if burst is None:
            burst = max(1, math.ceil(rate_per_min / 60))
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.redis = redis
        self.key = key if key.startswith(KEY_PREFIX) else KEY_PREFIX + key
        self.rate_per_min = rate_per_min
        self.burst = burst
        self._rate_per_us = rate_per_min / 60_000_000
        # An idle bucket is full again after burst / rate; keep the hash a little longer, then
        # let it expire (a missing hash reads as a full bucket, which is what it would be).
        self._ttl_ms = math.ceil(burst / rate_per_min * 60_000) + 60_000
        self._script = redis.register_script(_TOKEN_BUCKET_LUA)

    def try_acquire(self, n: int = 1) -> float:
        """Take ``n`` tokens if they are there: 0.0 when granted, else the seconds until they
        will be (nothing is taken then). Never sleeps."""
        if n < 1:
            raise ValueError("n must be at least 1")
        if n > self.burst:
            raise ValueError(f"cannot take {n} tokens at once from a bucket of {self.burst}")
        raw = self._script(
            keys=[self.key],
            args=[repr(self._rate_per_us), self.burst, n, self._ttl_ms],
        )
        wait = float(raw.decode() if isinstance(raw, bytes) else raw)
        _count_use(self.redis, self.key, n if wait <= 0 else 0, waited=wait > 0)
        return 0.0 if wait <= 0 else wait

    def acquire_or_raise(self, n: int = 1) -> None:
        """Take ``n`` tokens or raise :class:`RateLimited` with the wait as ``retry_after``.

        Does not sleep: the task layer reschedules the work (conventions habit 5).
        """
        wait = self.try_acquire(n)
        if wait > 0:
            exc = RateLimited(
                f"request budget {self.key} exhausted ({self.rate_per_min}/min)",
                code="BUDGET_EXHAUSTED",
                retry_after=wait,
            )
            exc.rate_per_min = self.rate_per_min  # lets the task layer spread its wake-ups
            raise exc

    #: The longest a caller blocks in :meth:`acquire_waiting` before it raises instead.
    max_wait_s: float = 5.0

    def acquire_waiting(self, n: int = 1) -> None:
        """Take ``n`` tokens, waiting for them when they are due within :attr:`max_wait_s`;
        otherwise raise :class:`RateLimited`. For store clients, whose callers (a scan over
        pages) lose work when they stop: a short bounded wait is cheaper than a retry."""
        waited = 0.0
        while True:
            wait = self.try_acquire(n)
            if wait <= 0:
                return
            if waited + wait > self.max_wait_s:
                self.acquire_or_raise(n)
                return
            time.sleep(wait)
            waited += wait

    def reset(self) -> None:
        """Forget the bucket (it reads as full again). For tests and operator tooling."""
        self.redis.delete(self.key)


USAGE_SLOT_S = 10  # usage is counted in 10-second slots, kept for a little over a minute


def _usage_key(key: str, kind: str, slot: int) -> str:
    return f"mlc:budget-{kind}:{key.removeprefix(KEY_PREFIX)}:{slot}"


def _count_use(client: redis.Redis, key: str, n: int, *, waited: bool) -> None:
    """Count granted tokens and refusals per slot (``status`` shows them; best effort)."""
    import time

    if waited:
        from connector import metrics

        metrics.budget_wait(key.removeprefix(KEY_PREFIX))
    slot = int(time.time()) // USAGE_SLOT_S
    name = _usage_key(key, "wait" if waited else "used", slot)
    try:
        pipe = client.pipeline(transaction=False)
        pipe.incrby(name, n if not waited else 1)
        pipe.expire(name, 90)
        pipe.execute()
    except redis.RedisError:  # counting must never stop a request
        pass


def budget_usage(client: redis.Redis, key: str) -> tuple[int, int]:
    """(tokens granted, refusals) of the budget ``key`` over roughly the last minute."""
    import time

    key = key if key.startswith(KEY_PREFIX) else KEY_PREFIX + key
    now = int(time.time()) // USAGE_SLOT_S
    slots = range(now - 60 // USAGE_SLOT_S + 1, now + 1)
    used = client.mget([_usage_key(key, "used", s) for s in slots])
    waits = client.mget([_usage_key(key, "wait", s) for s in slots])
    return (sum(int(v) for v in used if v is not None),
            sum(int(v) for v in waits if v is not None))


class Budget(Protocol):
    """What a client draws from: :class:`RedisBudget` or
    :class:`connector.fleetbudget.FleetBudget`."""

    @property
    def key(self) -> str: ...

    @property
    def rate_per_min(self) -> int: ...

    @property
    def burst(self) -> int: ...

    def acquire_or_raise(self, n: int = 1) -> None: ...


class PrepaidBudget:
    """Tokens taken up front for a unit of work, then the shared bucket.

    A load reserves its expected number of requests before it starts, so it either runs
    through or does not start at all: under contention no half-done work (a lookup whose
    create never got a token) is thrown away and redone.
    """

    def __init__(self, budget: Budget, prepaid: int) -> None:
        self.budget = budget
        self.prepaid = prepaid
        self.key = budget.key
        self.rate_per_min = budget.rate_per_min
        self.burst = budget.burst

    @classmethod
    def reserve(cls, budget: Budget, n: int) -> PrepaidBudget:
        """Take ``n`` tokens (capped at the bucket's burst) or raise :class:`RateLimited`."""
        n = max(1, min(n, budget.burst))
        budget.acquire_or_raise(n)
        return cls(budget, n)

    def acquire_or_raise(self, n: int = 1) -> None:
        if self.prepaid >= n:
            self.prepaid -= n
            return
        self.budget.acquire_or_raise(n)
