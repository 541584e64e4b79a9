"""The WooCommerce simulator's data: users (customers and key owners), API keys, orders,
webhooks, and the id sequences. Guarded by ``SimulatorState.lock`` (one RLock)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.common import SimulatorState
from sandbox.woocommerce.models import ApiKey, Order, Webhook, WpUser

FIRST_ORDER_ID = 1001  # orders and refunds share the post id sequence, like WordPress posts
FIRST_ITEM_ID = 1  # line/shipping/fee/coupon/tax lines share the order-item sequence


@dataclass
class Mutating:
    """The "records move while you page" switch: after every ``every_n_requests`` API requests,
    ``count`` existing orders get modified (``date_modified`` = now), at most ``limit`` in all."""

    every_n_requests: int = 0  # 0 = off
    count: int = 1
    limit: int | None = None
    pick: str = "random"  # random | oldest (the oldest date_modified: always a row already paged)
    silent: bool = False  # True: no order.updated webhooks for these modifications
    done: int = 0
    requests_seen: int = 0
    log: list[dict[str, object]] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.every_n_requests > 0 and (self.limit is None or self.done < self.limit)


@dataclass
class WooState(SimulatorState):
    users: dict[int, WpUser] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)  # by consumer key
    orders: dict[int, Order] = field(default_factory=dict)
    webhooks: dict[int, Webhook] = field(default_factory=dict)
    mutating: Mutating = field(default_factory=Mutating)
    next_post: int = FIRST_ORDER_ID
    next_item: int = FIRST_ITEM_ID
    next_user: int = 1
    next_key: int = 1
    next_webhook: int = 1
    next_meta: int = 1
    # Bumped by every write (API non-GET, admin, public API): invalidates the sorted-order cache.
    version: int = 0
    sort_cache: dict[tuple[object, ...], Any] = field(default_factory=dict)

    def bump(self) -> None:
        with self.lock:
            self.version += 1
            self.sort_cache.clear()

    def post_id(self) -> int:
        with self.lock:
            self.next_post += 1
            return self.next_post - 1

    def item_id(self) -> int:
        with self.lock:
            self.next_item += 1
            return self.next_item - 1

    def user_id(self) -> int:
        with self.lock:
            self.next_user += 1
            return self.next_user - 1

    def meta_id(self) -> int:
        with self.lock:
            self.next_meta += 1
            return self.next_meta - 1

    def now(self) -> datetime:
        """Simulator clock, at the one-second resolution WordPress stores dates with."""
        return self.clock.now().replace(microsecond=0)

    def user_by_login(self, login: str) -> WpUser | None:
        for u in self.users.values():
            if u.username == login:
                return u
        return None

    def user_by_email(self, email: str) -> WpUser | None:
        wanted = email.strip().lower()
        for u in self.users.values():
            if u.email.lower() == wanted:
                return u
        return None

    def clear_data(self) -> None:
        with self.lock:
            self.users.clear()
            self.keys.clear()
            self.orders.clear()
            self.webhooks.clear()
            self.mutating = Mutating()
            self.next_post = FIRST_ORDER_ID
            self.next_item = FIRST_ITEM_ID
            self.next_user = 1
            self.next_key = 1
            self.next_webhook = 1
            self.next_meta = 1
            self.bump()
