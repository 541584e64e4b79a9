"""Webhooks of the BigCommerce simulator (reference/bigcommerce.md §5): the hook registry of
``/v3/hooks`` and a background dispatcher that delivers thin, Standard-Webhooks-signed payloads
with the real retry schedule (compressed), the per-domain blocklist and deactivation after the
last retry.

Locking: every structure here is guarded by the simulator's RLock (through ``self.cond``); the
HTTP POST to a destination always happens outside it.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import json
import math
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from sandbox.bigcommerce.model import BcConfig, BcError, Event
from sandbox.common import Clock

ORDER_SCOPES = (
    "store/order/created",
    "store/order/updated",
    "store/order/archived",
    "store/order/statusUpdated",
    "store/order/message/created",
    "store/order/refund/created",
    "store/order/transaction/created",
    "store/order/transaction/updated",
    "store/order/email/updated",
)
SHIPMENT_SCOPES = ("store/shipment/created", "store/shipment/updated", "store/shipment/deleted")
CUSTOMER_SCOPES = (
    "store/customer/created",
    "store/customer/updated",
    "store/customer/deleted",
    "store/customer/address/created",
    "store/customer/address/updated",
    "store/customer/address/deleted",
    "store/customer/payment/instrument/default/updated",
)
OTHER_SCOPES = (
    "store/product/created",
    "store/product/updated",
    "store/product/deleted",
    "store/sku/created",
    "store/sku/updated",
    "store/cart/created",
    "store/cart/updated",
    "store/app/uninstalled",
    "store/information/updated",
)
WILDCARD_SCOPES = (
    "store/order/*",
    "store/shipment/*",
    "store/customer/*",
    "store/customer/address/*",
    "store/product/*",
    "store/sku/*",
    "store/cart/*",
)
KNOWN_SCOPES = frozenset(
    ORDER_SCOPES + SHIPMENT_SCOPES + CUSTOMER_SCOPES + OTHER_SCOPES + WILDCARD_SCOPES
)
MAX_HOOKS_PER_SCOPE = 10  # per (store, client_id, scope), §5
MAX_DELIVERY_LOG = 200_000


def scope_matches(hook_scope: str, event_scope: str) -> bool:
    """``store/order/*`` matches every ``store/order/...`` event, including nested ones."""
    if hook_scope == event_scope:
        return True
    return hook_scope.endswith("/*") and event_scope.startswith(hook_scope[:-1])


def event_hash(data: dict[str, Any]) -> str:
    """SHA-1 hex of the event data as canonical JSON: identical on re-fires (§5)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(canonical.encode(), usedforsecurity=False).hexdigest()


def sign(client_secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """Standard Webhooks ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` keyed with the client
    secret's bytes (the library is given ``base64(client_secret)``, which decodes to them)."""
    mac = hmac.new(
        client_secret.encode(), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256
    ).digest()
    return "v1," + base64.b64encode(mac).decode()


def domain_of(url: str) -> str:
    """``host:port`` of a destination: the unit of the blocklist."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


@dataclass
class ApiAccount:
    """A store-level API account (§1): static token, client id/secret, optional scopes."""

    client_id: str
    client_secret: str
    access_token: str
    scopes: frozenset[str] | None = None  # None = every scope

    def public(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "access_token": self.access_token,
            "scopes": None if self.scopes is None else sorted(self.scopes),
        }


@dataclass
class Hook:
    id: int
    client_id: str
    store_hash: str
    scope: str
    destination: str
    headers: dict[str, str] | None
    is_active: bool
    created_at: int
    updated_at: int
    deactivated: bool = False  # set by the system after the last retry failed

    @property
    def status(self) -> str:
        if self.is_active:
            return "active"
        return "deactivated" if self.deactivated else "inactive"

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "client_id": self.client_id,
            "store_hash": self.store_hash,
            "scope": self.scope,
            "destination": self.destination,
            "headers": None if self.headers is None else dict(self.headers),
            "is_active": self.is_active,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass
class Message:
    """One event for one hook; keeps its ``webhook-id`` and body across retries."""

    webhook_id: str
    hook_id: int
    scope: str
    body: str
    hash: str
    generation: int
    attempts: int = 0


@dataclass(order=True)
class _Queued:
    next_at: float
    seq: int
    message: Message = field(compare=False)


@dataclass
class _Blocked:
    until: float
    reasons: list[dict[str, Any]]


@dataclass
class _DomainWindow:
    samples: deque[tuple[float, bool, str]] = field(default_factory=deque)
    ok: int = 0


class BcWebhooks:
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

    # ----------------------------------------------------------------- registry (§5)

    def _validate(
        self, body: dict[str, Any], client_id: str, *, existing: Hook | None
    ) -> dict[str, Any]:
        cfg = self.config()
        merged: dict[str, Any] = (
            {
                "scope": existing.scope,
                "destination": existing.destination,
                "is_active": existing.is_active,
                "headers": existing.headers,
            }
            if existing
            else {"is_active": True, "headers": None}
        )
        merged.update(
            {k: body[k] for k in ("scope", "destination", "is_active", "headers") if k in body}
        )
        errors: dict[str, str] = {}
        scope, destination = merged.get("scope"), merged.get("destination")
        if not isinstance(scope, str) or not scope:
            errors["scope"] = "error.path.missing"
        elif scope not in KNOWN_SCOPES:
            errors["scope"] = f"Invalid scope {scope}"
        if not isinstance(destination, str) or not destination:
            errors["destination"] = "error.path.missing"
        else:
            parts = urlsplit(destination)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                errors["destination"] = "Destination must be a valid URL"
            elif cfg.require_https_destination and (
                parts.scheme != "https" or parts.port not in (None, 443)
            ):
                errors["destination"] = "Destination must be served over HTTPS on port 443"
        if not isinstance(merged.get("is_active"), bool):
            errors["is_active"] = "is_active must be a boolean"
        headers = merged.get("headers")
        if headers is not None and not (
            isinstance(headers, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
        ):
            errors["headers"] = "headers must be an object of strings"
        if errors:
            raise BcError(422, "JSON data is missing or invalid", errors)
        others = [
            h
            for h in self.hooks.values()
            if h.client_id == client_id
            and h.store_hash == cfg.store_hash
            and h.scope == scope
            and (existing is None or h.id != existing.id)
        ]
        if any(h.destination == destination for h in others):
            raise BcError(
                422,
                "A webhook with this scope and destination already exists for this client.",
                {"destination": "duplicate scope and destination"},
            )
        if len(others) >= MAX_HOOKS_PER_SCOPE:
            raise BcError(
                422,
                f"The limit of {MAX_HOOKS_PER_SCOPE} webhooks per scope has been reached.",
                {"scope": f"maximum {MAX_HOOKS_PER_SCOPE} webhooks per scope"},
            )
        return merged

    def create(self, client_id: str, body: dict[str, Any]) -> Hook:
        with self.cond:
            fields = self._validate(body, client_id, existing=None)
            now = int(self.clock.time())
            self._next_hook_id += 1
            hook = Hook(
                id=self._next_hook_id,
                client_id=client_id,
                store_hash=self.config().store_hash,
                scope=fields["scope"],
                destination=fields["destination"],
                headers=None if fields["headers"] is None else dict(fields["headers"]),
                is_active=fields["is_active"],
                created_at=now,
                updated_at=now,
            )
            self.hooks[hook.id] = hook
            return hook

    def get(self, client_id: str, hook_id: int) -> Hook:
        with self.cond:
            hook = self.hooks.get(hook_id)
            if hook is None or hook.client_id != client_id:
                raise BcError(404, f"Webhook with id [{hook_id}] not found")
            return hook

    def update(self, client_id: str, hook_id: int, body: dict[str, Any]) -> Hook:
        with self.cond:
            hook = self.get(client_id, hook_id)
            fields = self._validate(body, client_id, existing=hook)
            hook.scope = fields["scope"]
            hook.destination = fields["destination"]
            hook.headers = None if fields["headers"] is None else dict(fields["headers"])
            if "is_active" in body:
                # PUT is_active:true re-activates a deactivated hook; false makes it inactive.
                hook.is_active = fields["is_active"]
                hook.deactivated = False
            hook.updated_at = int(self.clock.time())
            return hook

    def delete(self, client_id: str, hook_id: int) -> Hook:
        with self.cond:
            hook = self.get(client_id, hook_id)
            del self.hooks[hook_id]
            return hook

    def delete_for_client(self, client_id: str) -> int:
        with self.cond:
            doomed = [h.id for h in self.hooks.values() if h.client_id == client_id]
            for hook_id in doomed:
                del self.hooks[hook_id]
            return len(doomed)

    def find(
        self,
        client_id: str | None,
        *,
        is_active: bool | None = None,
        scope: str | None = None,
        destination: str | None = None,
    ) -> list[Hook]:
        with self.cond:
            return [
                h
                for h in sorted(self.hooks.values(), key=lambda h: h.id)
                if (client_id is None or h.client_id == client_id)
                and (is_active is None or h.is_active == is_active)
                and (scope is None or h.scope == scope)
                and (destination is None or h.destination == destination)
            ]

    def deactivate(self, hook_id: int) -> Hook:
        """What BigCommerce does after the last retry fails (also an admin switch)."""
        with self.cond:
            hook = self.hooks.get(hook_id)
            if hook is None:
                raise BcError(404, f"Webhook with id [{hook_id}] not found")
            self._deactivate(hook, self.clock.time())
            return hook

    def _deactivate(self, hook: Hook, now: float) -> None:
        hook.is_active = False
        hook.deactivated = True
        hook.updated_at = int(now)
        kept = [q for q in self._queue if q.message.hook_id != hook.id]
        for q in self._queue:
            if q.message.hook_id == hook.id:
                self._record(q.message, hook, now, "dropped", error="hook deactivated")
        self._queue = kept
        heapq.heapify(self._queue)

    def blocked_domains(self, client_id: str | None) -> list[dict[str, Any]]:
        with self.cond:
            now = self.clock.time()
            out = []
            for (cid, domain), blocked in sorted(self._blocked.items()):
                if blocked.until <= now or (client_id is not None and cid != client_id):
                    continue
                out.append(
                    {
                        "destination": domain,
                        "time_left": math.ceil(blocked.until - now),
                        "reasons": [dict(r) for r in blocked.reasons],
                    }
                )
            return out

    def block_domain(self, client_id: str, domain: str, seconds: float, reason: str) -> None:
        """Admin: put a destination domain on the blocklist (``seconds`` on the sim clock)."""
        with self.cond:
            now = self.clock.time()
            self._blocked[(client_id, domain)] = _Blocked(
                until=now + seconds,
                reasons=[{"failure_description": reason, "count": 1, "timestamp": int(now)}],
            )

    def unblock_all(self) -> None:
        with self.cond:
            self._blocked.clear()
            self._windows.clear()

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
