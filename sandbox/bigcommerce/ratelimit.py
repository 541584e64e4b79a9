"""Per-store rate limits of the BigCommerce simulator (``reference/bigcommerce.md`` §6)."""

from __future__ import annotations

import math
import threading
from collections import deque

from sandbox.bigcommerce.model import BcConfig


class RateLimiter:
    """Per-store request quota on the simulator clock: ``fixed`` (a window opens at the first
    request after the previous one closed) or ``sliding`` (the last ``window_ms``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._start: float | None = None
        self._count = 0
        self._stamps: deque[float] = deque()

    def reset(self) -> None:
        with self._lock:
            self._start, self._count = None, 0
            self._stamps.clear()

    def take(self, now_ms: float, cfg: BcConfig) -> tuple[bool, int, int]:
        """Consume one unit if allowed; returns (allowed, left, reset_ms)."""
        with self._lock:
            return self._check(now_ms, cfg, consume=True)

    def peek(self, now_ms: float, cfg: BcConfig) -> tuple[int, int]:
        with self._lock:
            _, left, reset_ms = self._check(now_ms, cfg, consume=False)
            return left, reset_ms

    def _check(self, now_ms: float, cfg: BcConfig, *, consume: bool) -> tuple[bool, int, int]:
        window = cfg.window_ms
        if cfg.rate_limit_mode == "sliding":
            while self._stamps and self._stamps[0] <= now_ms - window:
                self._stamps.popleft()
            used = len(self._stamps)
            allowed = used < cfg.quota
            if allowed and consume:
                self._stamps.append(now_ms)
                used += 1
            oldest = self._stamps[0] if self._stamps else now_ms
            return allowed, max(0, cfg.quota - used), max(0, math.ceil(oldest + window - now_ms))
        if self._start is None or now_ms >= self._start + window:
            if not consume:
                return True, cfg.quota, window
            self._start, self._count = now_ms, 0
        allowed = self._count < cfg.quota
        if allowed and consume:
            self._count += 1
        reset_ms = max(0, math.ceil(self._start + window - now_ms))
        return allowed, max(0, cfg.quota - self._count), reset_ms
