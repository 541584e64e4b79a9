"""The hosting in front of the simulated shop: a request limit as a host, CDN/WAF or security
plugin enforces it (doc §5: core ``wc/v3`` never limits; whatever answers 429 sits in front of
WordPress, so it answers before authentication and routing).

Off by default, as in core. When ``WooConfig.rate_limit_per_window`` is set, every API request
(``/wp-json/…`` and ``/?rest_route=…``) counts in a sliding window of
``rate_limit_window_s`` seconds on the simulator clock; a request that finds the window full is
answered ``rate_limit_status`` (429) with ``Retry-After``: the whole seconds until the window has
room again. Strict by default: refused requests count too (``rate_limit_count_refused``), so a
client that comes back before ``Retry-After`` stays locked out. ``rate_limit_headers`` adds
``RateLimit-Limit/-Remaining/-Reset`` (``ratelimit``, as WooCommerce's Store API sends them) or
``X-RateLimit-*`` (``x-ratelimit``) to every answer, ``Reset`` as a Unix time.
"""

from __future__ import annotations

import math
import threading
from bisect import insort
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """What the limit says about one request."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # simulator epoch seconds when the window next has room
    retry_after_s: int  # whole seconds, >= 1 when refused


class HostRateLimit:
    """A sliding window of request times (simulator clock), thread-safe."""

    def __init__(self) -> None:
        self._stamps: list[float] = []
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._stamps.clear()

    def check(self, now: float, limit: int, window_s: float, count_refused: bool) -> Verdict:
        with self._lock:
            stamps = self._stamps
            horizon = now - window_s
            drop = 0
            while drop < len(stamps) and stamps[drop] <= horizon:
                drop += 1
            del stamps[:drop]
            allowed = len(stamps) < limit
            if allowed or count_refused:
                insort(stamps, now)
            used = len(stamps)
            # Room for one more once (used - limit + 1) of the counted requests have left.
            index = used - limit
            reset_at = stamps[index] + window_s if 0 <= index < used else now
            wait = 0 if allowed else max(1, math.ceil(reset_at - now))
            return Verdict(allowed, limit, max(0, limit - used), reset_at, wait)
