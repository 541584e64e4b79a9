"""Webhook delivery of the WooCommerce simulator (reference doc §6).

Deliveries are asynchronous (WooCommerce uses Action Scheduler): events are queued and a single
background thread POSTs them. The creation ping is synchronous, as in the REST controller.
``flush()`` waits until the queue is empty so tests stay deterministic.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import requests

USER_AGENT = "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)"
MAX_LOG = 10_000


def php_json(data: Any) -> str:
    """``wp_json_encode`` output: compact, non-ASCII as ``\\uXXXX``, slashes escaped as ``\\/``.
    Receivers must verify the signature over these raw bytes, never a re-serialisation."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")


def signature(body: bytes, secret: str) -> str:
    """``X-WC-Webhook-Signature``: base64(HMAC-SHA256(raw body, secret))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Delivery:
    """One attempt (there are no retries). ``kind`` is ``ping`` or ``event``."""

    delivery_id: str
    webhook_id: int
    kind: str
    topic: str
    url: str
    headers: dict[str, str]
    body: str
    resource_id: int | None = None
    queued_at: float = field(default_factory=time.time)
    sent_at: float | None = None
    status_code: int | None = None
    error: str | None = None
    ok: bool | None = None  # None while queued

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class WebhookDispatcher:
    """A FIFO queue and one worker thread. ``on_result(webhook_id, ok)`` updates the webhook
    (failure count, disabling) under the store lock."""

    def __init__(
        self,
        on_result: Callable[[int, bool], None],
        delay_s: Callable[[], float],
        timeout_s: Callable[[], float],
    ) -> None:
        self._on_result = on_result
        self._delay_s = delay_s
        self._timeout_s = timeout_s
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._cond = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._session = requests.Session()
        self._counter = itertools.count(1)
        self.log: list[Delivery] = []

    def new_delivery_id(self, webhook_id: int) -> str:
        # wp_hash( id . strtotime('now') ): a 32-character hex hash, not a number.
        seed = f"{webhook_id}-{time.time()}-{next(self._counter)}"
        return hashlib.blake2b(seed.encode(), digest_size=16).hexdigest()

    def _record(self, d: Delivery) -> None:
        with self._cond:
            self.log.append(d)
            if len(self.log) > MAX_LOG:
                del self.log[: MAX_LOG // 2]

    # ------------------------------------------------------------------ ping (synchronous)

    def ping(self, webhook_id: int, url: str) -> Delivery:
        """The creation ping: form-encoded ``webhook_id=<id>``, no signature headers; WooCommerce
        wants exactly 200 (a failed ping is reported, it does not count as a failure)."""
        body = f"webhook_id={webhook_id}"
        headers = {
            "User-Agent": USER_AGENT,
            "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
        }
        d = Delivery(self.new_delivery_id(webhook_id), webhook_id, "ping", "", url, headers, body)
        self._record(d)
        self._send(d, timeout=min(5.0, self._timeout_s()))
        d.ok = d.status_code == 200
        return d

    # ------------------------------------------------------------------ events (async)

    def enqueue(
        self,
        *,
        webhook_id: int,
        topic: str,
        url: str,
        secret: str,
        source: str,
        payload: Any,
        resource_id: int | None,
    ) -> Delivery:
        body = php_json(payload)
        resource, _, event = topic.partition(".")
        delivery_id = self.new_delivery_id(webhook_id)
        headers = {
            "User-Agent": USER_AGENT,
            "Content-Type": "application/json",
            "X-WC-Webhook-Source": source,
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": signature(body.encode(), secret),
            "X-WC-Webhook-ID": str(webhook_id),
            "X-WC-Webhook-Delivery-ID": delivery_id,
        }
        d = Delivery(delivery_id, webhook_id, "event", topic, url, headers, body, resource_id)
        self._record(d)
        with self._cond:
            self._pending += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="woo-webhooks", daemon=True)
                self._thread.start()
        self._queue.put(d)
        return d

    def _run(self) -> None:
        while True:
            d = self._queue.get()
            if d is None:
                return
            try:
                delay = self._delay_s()
                if delay > 0:
                    time.sleep(delay)
                self._send(d, timeout=self._timeout_s())
                code = d.status_code
                d.ok = code is not None and 200 <= code <= 302
                self._on_result(d.webhook_id, d.ok)
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

    def _send(self, d: Delivery, timeout: float) -> None:
        d.sent_at = time.time()
        try:
            resp = self._session.post(
                d.url,
                data=d.body.encode(),
                headers=d.headers,
                timeout=timeout,
                allow_redirects=False,  # WooCommerce: redirection 0
            )
            d.status_code = resp.status_code
        except requests.RequestException as exc:
            d.error = f"{type(exc).__name__}: {exc}"

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued delivery was attempted. False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    @property
    def pending(self) -> int:
        with self._cond:
            return self._pending

    def deliveries(self) -> list[Delivery]:
        with self._cond:
            return list(self.log)

    def clear(self) -> None:
        with self._cond:
            self.log.clear()

    def close(self) -> None:
        self._queue.put(None)
