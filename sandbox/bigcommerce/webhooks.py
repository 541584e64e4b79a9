"""Webhooks of the BigCommerce simulator (reference/bigcommerce.md §5): the hook registry of
``/v3/hooks`` and a background dispatcher that delivers thin, Standard-Webhooks-signed payloads
with the real retry schedule (compressed), the per-domain blocklist and deactivation after the
last retry.

Locking: every structure here is guarded by the simulator's RLock (through ``self.cond``); the
HTTP POST to a destination always happens outside it.

:class:`BcWebhooks` holds the shared state and lifecycle; the registry is mixed in from
:mod:`sandbox.bigcommerce.registry`, delivery from :mod:`sandbox.bigcommerce.delivery`, and the
records (hooks, messages, signature) live in :mod:`sandbox.bigcommerce.hooks`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sandbox.bigcommerce.delivery import HookDelivery
from sandbox.bigcommerce.hooks import Hook, _Blocked, _DomainWindow, _Queued
from sandbox.bigcommerce.model import BcConfig, BcError
from sandbox.bigcommerce.registry import HookRegistry
from sandbox.common import Clock


class BcWebhooks(HookRegistry, HookDelivery):
    """Hook registry plus delivery engine for one simulated store."""

    def __init__(
        self,
        *,
        lock: threading.RLock,
        clock: Clock,
        config: Callable[[], BcConfig],
        secret_for: Callable[[str], str | None],
    ) -> None:
        self.cond = threading.Condition(lock)
        self.clock = clock
        self.config = config
        self.secret_for = secret_for
        self.hooks: dict[int, Hook] = {}
        self.mode = "on"  # "on" | "paused" (held, sent on resume) | "off" (events dropped)
        self.suppressed = 0
        self.emails: list[str] = []
        self._next_hook_id = 22_561_590
        self._queue: list[_Queued] = []
        self._seq = 0
        self._in_flight = 0
        self._generation = 0
        self._deliveries: list[dict[str, Any]] = []
        self._delivery_seq = 0
        self._windows: dict[tuple[str, str], _DomainWindow] = {}
        self._blocked: dict[tuple[str, str], _Blocked] = {}
        self._thread: threading.Thread | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._stop = False
        self._local = threading.local()

    # ----------------------------------------------------------------- lifecycle

    def reset(self) -> None:
        with self.cond:
            self.hooks.clear()
            self.mode = "on"
            self.suppressed = 0
            self.emails = []
            self._next_hook_id = 22_561_590
            self._queue.clear()
            self._generation += 1  # in-flight attempts of the old generation are ignored
            self._deliveries.clear()
            self._windows.clear()
            self._blocked.clear()
            self.cond.notify_all()
            # Let POSTs already on the wire finish, so nothing of the old generation reaches a
            # destination after reset returns.
            deadline = time.monotonic() + self.config().delivery_timeout_s + 1
            while self._in_flight and time.monotonic() < deadline:
                self.cond.wait(0.02)

    def close(self) -> None:
        with self.cond:
            self._stop = True
            self.cond.notify_all()
            thread, executor = self._thread, self._executor
        if thread is not None:
            thread.join(timeout=2)
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def _ensure_thread(self) -> None:
        with self.cond:
            if self._thread is not None or self._stop:
                return
            workers = max(1, self.config().delivery_workers)
            self._executor = ThreadPoolExecutor(workers, thread_name_prefix="bc-webhook")
            self._thread = threading.Thread(
                target=self._dispatch_loop, name="bc-webhook-dispatcher", daemon=True
            )
            self._thread.start()

    # ----------------------------------------------------------------- inspection

    def deliveries(self) -> list[dict[str, Any]]:
        with self.cond:
            return [dict(d) for d in self._deliveries]

    def clear_deliveries(self) -> None:
        with self.cond:
            self._deliveries.clear()

    def status(self) -> dict[str, Any]:
        with self.cond:
            now = self.clock.time()
            return {
                "mode": self.mode,
                "queued": len(self._queue),
                "due": sum(1 for q in self._queue if q.next_at <= now),
                "in_flight": self._in_flight,
                "suppressed_events": self.suppressed,
                "deliveries": len(self._deliveries),
            }

    def set_mode(self, mode: str) -> None:
        if mode not in ("on", "paused", "off"):
            raise BcError(422, "mode must be on, paused or off", {"mode": "invalid"})
        with self.cond:
            self.mode = mode
            self.cond.notify_all()
        if mode == "on":
            self._ensure_thread()

    def flush(self, timeout: float = 10.0, *, include_retries: bool = False) -> None:
        """Wait until every message due now has been attempted (and, with ``include_retries``,
        until the queue is empty: all delivered, dropped or given up). While paused or off only
        in-flight attempts are awaited. Raises ``TimeoutError`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self.cond:
            has_work = bool(self._queue)
        if has_work:
            self._ensure_thread()
        with self.cond:
            while True:
                now = self.clock.time()
                if self.mode != "on":
                    pending = False
                elif include_retries:
                    pending = bool(self._queue)
                else:
                    pending = bool(self._queue) and self._queue[0].next_at <= now
                if not pending and self._in_flight == 0:
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"webhook flush timed out: {len(self._queue)} queued, "
                        f"{self._in_flight} in flight"
                    )
                self.cond.notify_all()
                self.cond.wait(min(remaining, 0.02))
