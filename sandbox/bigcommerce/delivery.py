"""Webhook delivery of the BigCommerce simulator: fires thin, signed payloads, retries on
the real (compressed) schedule, records every attempt and deactivates a hook after the
last retry (§5). The HTTP POST to a destination always happens outside the lock.
"""

from __future__ import annotations

import heapq
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import requests

from sandbox.bigcommerce.hooks import (
    MAX_DELIVERY_LOG,
    Hook,
    Message,
    _Blocked,
    _DomainWindow,
    _Queued,
    domain_of,
    event_hash,
    scope_matches,
    sign,
)
from sandbox.bigcommerce.model import BcConfig, Event
from sandbox.common import Clock


class HookDelivery:
    """Firing, the dispatcher thread and attempts; mixed into ``BcWebhooks``."""

    cond: threading.Condition
    clock: Clock
    config: Callable[[], BcConfig]
    hooks: dict[int, Hook]

    # ----------------------------------------------------------------- firing

    def fire(self, events: list[Event]) -> int:
        """Queue ``events`` for every active hook whose scope matches; returns messages queued."""
        if not events:
            return 0
        queued = 0
        with self.cond:
            cfg = self.config()
            now = self.clock.time()
            for scope, data in events:
                if self.mode == "off":
                    self.suppressed += 1
                    continue
                targets = [
                    h
                    for h in self.hooks.values()
                    if h.is_active
                    and h.store_hash == cfg.store_hash
                    and scope_matches(h.scope, scope)
                ]
                if not targets:
                    continue
                digest = event_hash(data)
                payload = {
                    "scope": scope,
                    "store_id": cfg.store_id,
                    "data": data,
                    "hash": digest,
                    "created_at": int(now),
                    "producer": f"stores/{cfg.store_hash}",
                }
                body = json.dumps(payload, separators=(",", ":"))
                for hook in sorted(targets, key=lambda h: h.id):
                    message = Message(
                        webhook_id=f"msg_{uuid.uuid4().hex}",
                        hook_id=hook.id,
                        scope=scope,
                        body=body,
                        hash=digest,
                        generation=self._generation,
                    )
                    self._push(message, now)
                    queued += 1
            if queued:
                self.cond.notify_all()
        if queued:
            self._ensure_thread()
        return queued

    def _push(self, message: Message, at: float) -> None:
        self._seq += 1
        heapq.heappush(self._queue, _Queued(at, self._seq, message))

    # ----------------------------------------------------------------- dispatching

    def _dispatch_loop(self) -> None:
        while True:
            with self.cond:
                if self._stop:
                    return
                batch: list[Message] = []
                now = self.clock.time()
                limit = max(1, self.config().delivery_workers) * 4
                if self.mode == "on":
                    while self._queue and self._queue[0].next_at <= now and self._in_flight < limit:
                        batch.append(heapq.heappop(self._queue).message)
                        self._in_flight += 1
                if not batch:
                    delay = 0.05  # also catches clock advances made by tests
                    if self.mode == "on" and self._queue and self._in_flight < limit:
                        delay = min(delay, max(0.001, self._queue[0].next_at - now))
                    self.cond.wait(delay)
                    continue
                executor = self._executor
            assert executor is not None
            for message in batch:
                executor.submit(self._attempt, message)

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session

    def _attempt(self, message: Message) -> None:
        try:
            self._attempt_unguarded(message)
        finally:
            with self.cond:
                self._in_flight -= 1
                self.cond.notify_all()

    def _attempt_unguarded(self, message: Message) -> None:
        with self.cond:
            if message.generation != self._generation:
                return
            cfg = self.config()
            now = self.clock.time()
            hook = self.hooks.get(message.hook_id)
            if hook is None or not hook.is_active:
                self._record(
                    message, hook, now, "dropped",
                    error="hook deleted" if hook is None else "hook inactive",
                )  # fmt: skip
                return
            secret = self.secret_for(hook.client_id)
            if secret is None:
                self._record(message, hook, now, "dropped", error="API account deleted")
                return
            key = (hook.client_id, domain_of(hook.destination))
            message.attempts += 1
            blocked = self._blocked.get(key)
            if blocked is not None and blocked.until > now:
                # §5: events for a blocklisted domain go to the retry queue unsent.
                self._failed(message, hook, now, "blocked", None, "domain blocked", cfg)
                return
            timestamp = int(now)
            headers = {
                **(hook.headers or {}),
                "Content-Type": "application/json",
                "User-Agent": "BigCommerce-Webhooks-Sandbox/1.0",
                "webhook-id": message.webhook_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(secret, message.webhook_id, timestamp, message.body),
            }
            destination = hook.destination
            timeout = cfg.delivery_timeout_s
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            resp = self._session().post(
                destination,
                data=message.body.encode(),
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
            )
            status = resp.status_code
            resp.close()
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except requests.Timeout:
            error = "Timeout"
        except requests.RequestException as exc:
            error = f"Connection error: {type(exc).__name__}"
        elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        with self.cond:
            if message.generation != self._generation:
                return
            cfg = self.config()
            now = self.clock.time()
            hook = self.hooks.get(message.hook_id)
            self._observe(key, now, error is None, error or "", cfg)
            extra: dict[str, Any] = {"timestamp": timestamp, "duration_ms": elapsed_ms}
            if error is None:
                self._record(message, hook, now, "success", status=status, **extra)
            elif hook is None or not hook.is_active:
                self._record(message, hook, now, "failed", status=status, error=error, **extra)
            else:
                self._failed(message, hook, now, "failed", status, error, cfg, **extra)

    def _failed(
        self,
        message: Message,
        hook: Hook,
        now: float,
        outcome: str,
        status: int | None,
        error: str | None,
        cfg: BcConfig,
        **extra: Any,
    ) -> None:
        """Schedule the next retry, or deactivate the hook after the last one (§5)."""
        retry_index = message.attempts - 1
        if retry_index < len(cfg.retry_schedule_s):
            next_at = now + cfg.scaled(cfg.retry_schedule_s[retry_index])
            self._push(message, next_at)
            self._record(
                message, hook, now, outcome, status=status, error=error, next_retry_at=next_at,
                **extra,
            )  # fmt: skip
            self.cond.notify_all()
        else:
            self._record(
                message, hook, now, outcome, status=status, error=error, hook_deactivated=True,
                **extra,
            )  # fmt: skip
            self._deactivate(hook, now)

    def _observe(
        self, key: tuple[str, str], now: float, ok: bool, error: str, cfg: BcConfig
    ) -> None:
        """Sliding success-ratio window per (client_id, domain); block below the threshold."""
        window = self._windows.setdefault(key, _DomainWindow())
        window.samples.append((now, ok, error))
        window.ok += ok
        horizon = now - cfg.scaled(cfg.block_window_s)
        while window.samples and window.samples[0][0] < horizon:
            window.ok -= window.samples.popleft()[1]
        total = len(window.samples)
        if total >= cfg.block_min_requests and window.ok / total < cfg.block_success_ratio:
            reasons = Counter(e for _, good, e in window.samples if not good)
            self._blocked[key] = _Blocked(
                until=now + cfg.scaled(cfg.block_duration_s),
                reasons=[
                    {"failure_description": desc, "count": count, "timestamp": int(now)}
                    for desc, count in reasons.most_common()
                ],
            )
            window.samples.clear()
            window.ok = 0

    def _record(
        self,
        message: Message,
        hook: Hook | None,
        now: float,
        outcome: str,
        *,
        status: int | None = None,
        error: str | None = None,
        next_retry_at: float | None = None,
        hook_deactivated: bool = False,
        timestamp: int | None = None,
        duration_ms: float | None = None,
    ) -> None:
        self._delivery_seq += 1
        self._deliveries.append(
            {
                "id": self._delivery_seq,
                "webhook_id": message.webhook_id,
                "hook_id": message.hook_id,
                "client_id": hook.client_id if hook else None,
                "destination": hook.destination if hook else None,
                "scope": message.scope,
                "hash": message.hash,
                "attempt": message.attempts,
                "outcome": outcome,  # success | failed | blocked | dropped
                "status_code": status,
                "error": error,
                "at": now,
                "webhook_timestamp": timestamp,
                "duration_ms": duration_ms,
                "next_retry_at": next_retry_at,
                "hook_deactivated": hook_deactivated,
                "body": message.body,
            }
        )
        if len(self._deliveries) > MAX_DELIVERY_LOG:
            del self._deliveries[: MAX_DELIVERY_LOG // 2]
