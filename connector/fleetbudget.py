"""The fleet-wide request budget of a remote system: strict over any 60-second window, with
classes that share it (issue 10, seen 1 and 2).

Every IFS request (and every BigCommerce request) belongs to a class:

* ``interactive`` — records from webhooks and polling (new work a shop is waiting for);
* ``bulk`` — backfills and replays of many records;
* ``background`` — enrichment, reconciliation, health checks.

Each class has a guaranteed share of the budget (``MLC_BUDGET_SHARES``, default 60/25/15 %) and
may borrow what the others leave unused: a class that has asked for tokens in the last
``active_s`` seconds keeps its share reserved, so background work never takes more than its
share while records wait, and takes the whole budget when nothing else runs.

The limit is a sliding-window log in Redis (one sorted set per class), updated by one Lua script
on Redis' own clock (``TIME``): no 60-second window ever holds more grants than the budget,
whoever asks (a token bucket lets ``budget + burst`` through in a window). A per-second cap
(``burst``, twice the average rate by default) keeps the traffic smooth.

A Redis restart loses the log, but not the requests the remote system has counted in the last
minute: a log found missing within the first window after the Redis server started (its
``uptime_in_seconds``) is re-seeded conservatively, as a full window that drains at the
budget's rate, so the restart never becomes a burst. A log missing on a server up for longer
is a first use or an idle budget, and starts empty.

Nothing here sleeps except :meth:`FleetBudget.acquire_waiting` (a short, bounded wait for store
clients whose callers lose work when they stop); everyone else gets
:class:`~connector.errors.RateLimited` with the wait as ``retry_after``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import redis
from redis.commands.core import Script

from connector import metrics
from connector.errors import RateLimited
from connector.patience import remaining
from connector.ratelimit import KEY_PREFIX as BUDGET_PREFIX
from connector.ratelimit import USAGE_SLOT_S, _usage_key

KEY_PREFIX = "mlc:window:"
CLASSES = ("interactive", "bulk", "background")
DEFAULT_SHARES: Mapping[str, int] = {"interactive": 60, "bulk": 25, "background": 15}

# KEYS: [1] state hash (seed, seq), [2..4] per-class grant logs (sorted sets, score = Redis
# time in µs), [5..7] per-class demand markers, [8] and [9] this slot's usage counters
# (granted, refused) that ``status`` reads (``ratelimit.budget_usage``): counted in the same
# round trip as the grant.
# ARGV: limit, window (µs), class index (1..3), n, share 1..3 (% of limit), burst, active (ms),
# marker ttl (ms), the server's uptime in seconds (-1: not read yet).
# Returns the wait in seconds as a string ("0" when granted), or "uptime" when the state is
# missing and the caller must say how long the server has been up.
_WINDOW_LUA = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local ci = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local shares = {tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])}
local burst = tonumber(ARGV[8])
local active = tonumber(ARGV[9])
local marker_ttl = tonumber(ARGV[10])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function deny(wait)
  -- This class wants more than it gets: it is waiting, and keeps its share reserved.
  redis.call('SET', KEYS[4 + ci], '1', 'PX', active)
  redis.call('INCRBY', KEYS[9], 1)
  redis.call('EXPIRE', KEYS[9], 90)
  return string.format('%.6f', wait)
end
local seed = tonumber(redis.call('HGET', KEYS[1], 'seed'))
if seed == nil then
  -- No log: a first use, an idle budget, or a Redis that lost its data. Within the first
  -- window after the server started, assume that window was full (it drains at the rate).
  local uptime = tonumber(ARGV[11])
  if uptime < 0 then
    return 'uptime'
  end
  seed = now - uptime * 1000000
  redis.call('HSET', KEYS[1], 'seed', string.format('%d', seed))
end
redis.call('PEXPIRE', KEYS[1], marker_ttl)
local phantom = 0
if now < seed + window then
  phantom = math.ceil(limit * (seed + window - now) / window)
end
local used = {}
local total = phantom
local last_second = 0
for i = 1, 3 do
  redis.call('ZREMRANGEBYSCORE', KEYS[1 + i], '-inf', now - window)
  used[i] = redis.call('ZCARD', KEYS[1 + i])
  total = total + used[i]
  last_second = last_second + redis.call('ZCOUNT', KEYS[1 + i], now - 1000000, '+inf')
end
local per_token = window / limit / 1000000
if total + n > limit then
  return deny(math.max(0.01, (total + n - limit) * per_token))
end
if last_second + n > burst then
  return deny(math.max(0.01, n * per_token))
end
local reserved = 0
local others_active = false
for i = 1, 3 do
  if i ~= ci then
    local share = math.floor(limit * shares[i] / 100)
    if redis.call('EXISTS', KEYS[4 + i]) == 1 then
      reserved = reserved + math.max(share, used[i])
      others_active = true
    else
      reserved = reserved + used[i]
    end
  end
end
local mine = math.floor(limit * shares[ci] / 100)
local cap = math.max(mine, limit - phantom - reserved)
if ci == 3 and others_active then
  -- Background work borrows only when no record is waiting for the budget.
  cap = mine
end
if used[ci] + n > cap then
  -- Over this class's share while another class wants its own: wait for our oldest grant to
  -- leave the window (or the others to go quiet).
  local oldest = redis.call('ZRANGE', KEYS[1 + ci], 0, 0, 'WITHSCORES')
  local wait = 1.0
  if oldest[2] ~= nil then
    wait = math.max(0.05, (tonumber(oldest[2]) + window - now) / 1000000)
  end
  return deny(math.min(wait, active / 1000))
end
for k = 1, n do
  local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
  redis.call('ZADD', KEYS[1 + ci], now, string.format('%d-%d', now, seq))
end
redis.call('PEXPIRE', KEYS[1 + ci], math.floor(window / 1000) + 1000)
redis.call('INCRBY', KEYS[8], n)
redis.call('EXPIRE', KEYS[8], 90)
return '0'
"""


@dataclass(frozen=True)
class FleetBudget:
    """One remote system's request budget for one tenant (or store), shared by every process
    that uses the same Redis ``key``, seen through one class (:data:`CLASSES`).

    ``rate_per_min`` grants per window of ``window_s`` seconds (60: per minute) at most, in
    any window. Build it once and take a view per class with :meth:`for_class`; all views
    share the one budget.
    """

    redis: redis.Redis
    key: str
    rate_per_min: int
    budget_class: str = "interactive"
    shares: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_SHARES))
    burst: int = 0
    window_s: float = 60.0
    active_s: float = 30.0
    #: The longest a caller blocks in :meth:`acquire_waiting` before it raises instead.
    max_wait_s: float = 5.0

    def __post_init__(self) -> None:
        if self.rate_per_min < 1:
            raise ValueError("rate_per_min must be at least 1")
        if self.budget_class not in CLASSES:
            raise ValueError(f"budget class must be one of {', '.join(CLASSES)}")
        if set(self.shares) != set(CLASSES) or sum(self.shares.values()) > 100:
            raise ValueError("shares must give each class a percentage, 100 in all at most")
        if not self.key.startswith(KEY_PREFIX):
            object.__setattr__(self, "key", KEY_PREFIX + self.key)
        if self.burst < 1:
            per_second = self.rate_per_min / self.window_s
            object.__setattr__(self, "burst", max(1, math.ceil(2 * per_second)))

    def for_class(self, budget_class: str) -> FleetBudget:
        """The same budget, drawn on as ``budget_class``."""
        return replace(self, budget_class=budget_class)

    def _keys(self) -> list[str]:
        return ([f"{self.key}:state"] + [f"{self.key}:log:{c}" for c in CLASSES]
                + [f"{self.key}:demand:{c}" for c in CLASSES])

    def try_acquire(self, n: int = 1) -> float:
        """Take ``n`` grants if the window and this class's share allow: 0.0 when granted,
        else the seconds after which asking again makes sense (nothing is taken then)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        if n > self.burst:
            raise ValueError(f"cannot take {n} grants at once from a budget of {self.burst}/s")
        script = _script(self.redis)
        usage = BUDGET_PREFIX + self.key.removeprefix(KEY_PREFIX)
        slot = int(time.time()) // USAGE_SLOT_S
        keys = [*self._keys(), _usage_key(usage, "used", slot), _usage_key(usage, "wait", slot)]
        args: list[int | float] = [
            self.rate_per_min, int(self.window_s * 1_000_000),
            CLASSES.index(self.budget_class) + 1, n,
            *(int(self.shares[c]) for c in CLASSES), self.burst, int(self.active_s * 1000),
            86_400_000, -1]
        raw = script(keys=keys, args=args)
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        if text == "uptime":  # the state is missing: how long has this server been up?
            info = self.redis.info("server")
            args[-1] = int(info.get("uptime_in_seconds", 0))
            raw = script(keys=keys, args=args)
            text = raw.decode() if isinstance(raw, bytes) else str(raw)
        wait = float(text)
        if wait > 0:
            metrics.budget_wait(usage.removeprefix(BUDGET_PREFIX))
        return 0.0 if wait <= 0 else wait

    def acquire_or_raise(self, n: int = 1) -> None:
        """Take ``n`` grants or raise :class:`RateLimited` (``BUDGET_EXHAUSTED``) with the wait
        as ``retry_after``. Does not sleep (the task layer reschedules the work), except inside
        an operator's :func:`connector.patience.patience` block."""
        if remaining() > 0:
            self.acquire_waiting(n)
            return
        self._acquire_or_raise(n)

    def _acquire_or_raise(self, n: int) -> None:
        wait = self.try_acquire(n)
        if wait > 0:
            exc = RateLimited(
                f"request budget {self.key} ({self.budget_class}) exhausted "
                f"({self.rate_per_min}/min)", code="BUDGET_EXHAUSTED", retry_after=wait)
            exc.rate_per_min = self.rate_per_min
            raise exc

    def acquire_waiting(self, n: int = 1) -> None:
        """Take ``n`` grants, waiting when they are due within :attr:`max_wait_s` in all;
        otherwise raise :class:`RateLimited`. Inside a ``patience`` block, as long as it lasts."""
        waited = 0.0
        limit = max(self.max_wait_s, remaining())
        while True:
            wait = self.try_acquire(n)
            if wait <= 0:
                return
            if waited + wait > limit:
                self._acquire_or_raise(n)
                return
            time.sleep(wait)
            waited += wait

    def usage(self) -> dict[str, int]:
        """Grants per class in the current window (for status pages and tests)."""
        now = self.redis.time()
        now_us = int(now[0]) * 1_000_000 + int(now[1])
        floor = now_us - int(self.window_s * 1_000_000)
        return {c: int(self.redis.zcount(f"{self.key}:log:{c}", floor, "+inf"))
                for c in CLASSES}

    def reset(self) -> None:
        """Forget the budget's log and seed (the next use re-seeds conservatively)."""
        self.redis.delete(*self._keys())


_scripts: dict[int, Script] = {}


def _script(client: redis.Redis) -> Script:
    """The window script registered once per Redis client (``register_script`` hashes it)."""
    script = _scripts.get(id(client))
    if script is None or script.registered_client is not client:
        script = _scripts[id(client)] = client.register_script(_WINDOW_LUA)
    return script


def parse_shares(raw: str) -> dict[str, int]:
    """``interactive=60,bulk=25,background=15`` → a share per class (ValueError if not)."""
    shares: dict[str, int] = {}
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in CLASSES or not value.strip().isdigit():
            raise ValueError(f"{part!r} is not <class>=<percent> with a class among "
                             f"{', '.join(CLASSES)}")
        shares[name] = int(value)
    if set(shares) != set(CLASSES):
        raise ValueError(f"give a share to each of {', '.join(CLASSES)}")
    if sum(shares.values()) > 100:
        raise ValueError("the shares add up to more than 100")
    return shares


#: What kind of work a staged record's origin is (``staged_records.origin``).
ORIGIN_CLASSES: Mapping[str, str] = {"webhook": "interactive", "poll": "interactive",
                                     "backfill": "bulk", "replay": "bulk"}


def class_of_origin(origin: str | None) -> str:
    return ORIGIN_CLASSES.get(origin or "", "interactive")
