"""WooCommerce simulator: the ``/wp-json/wc/v3`` REST API of one self-hosted shop.

Faithful to ``reference/woocommerce.md`` (section numbers below refer to it): key auth over
"HTTPS" or OAuth 1.0a over plain HTTP (§1), key owners that can be deleted (§2), orders and
customers with exact money (§3), WordPress paging and filters including the time-zone and
moving-set pitfalls (§4), hosting-style 429/503 without ``Retry-After`` (§5) and signed,
unretried, auto-disabling webhooks (§6).

Usage::

    sim = WooSimulator()
    sim.seed(customers=50, orders=200)
    server = ServerThread(sim.app).start()   # server.url + "/wp-json/wc/v3/orders"

Admin routes live under ``/_sandbox/woo/`` (see ``docs/sandbox.md``); the common ones
(faults, request log, clock, reset) under ``/_sandbox/``. This package never imports the
connector.
"""

from __future__ import annotations

import copy
import random
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from flask import Flask

from sandbox.common import make_app
from sandbox.woocommerce.admin import admin_blueprint
from sandbox.woocommerce.api import WooApi
from sandbox.woocommerce.core import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_KEY_OWNER,
    WooConfig,
)
from sandbox.woocommerce.errors import WooError
from sandbox.woocommerce.generator import PRODUCTS, generate
from sandbox.woocommerce.models import parse_money
from sandbox.woocommerce.render import render_refund, render_webhook
from sandbox.woocommerce.store import Mutating

__all__ = [
    "DEFAULT_CONSUMER_KEY",
    "DEFAULT_CONSUMER_SECRET",
    "DEFAULT_KEY_OWNER",
    "WooConfig",
    "WooSimulator",
]


class WooSimulator(WooApi):
    """One WooCommerce shop. ``.app`` is the Flask app, ``.state`` its data, ``.config``."""

    def __init__(self, config: WooConfig | None = None) -> None:
        super().__init__(config)
        self.app: Flask = make_app(
            "woocommerce", self.state, reset=self._reset_data, rate_limited=self._rate_limited
        )
        self._install_api(self.app)
        self.app.register_blueprint(admin_blueprint(self))

    # ================================================================== public API

    def set_user_role(self, login: str, role: str) -> None:
        """Demote/promote a user; a key owner without shop-manager rights gets 403s."""
        with self.state.lock:
            user = self.state.user_by_login(login)
            if user is None:
                raise KeyError(login)
            user.role = role

    def delete_user(self, login: str) -> None:
        """Delete a WordPress user: their API keys go too (doc §2); their orders keep existing
        with ``customer_id`` 0 and no ``date_modified`` bump (WooCommerce resets it by SQL)."""
        with self.state.lock:
            user = self.state.user_by_login(login)
            if user is None:
                raise KeyError(login)
            self._delete_user(user)
            self.state.bump()

    def seed(
        self,
        customers: int,
        orders: int,
        seed: int = 42,
        guest_ratio: float = 0.2,
        invalid: int = 0,
        currencies: tuple[str, ...] | list[str] = ("EUR",),
        *,
        silent: bool = False,
        days: int = 90,
        anchor: datetime | None = None,
        bulk_ratio: float = 0.0,
    ) -> dict[str, Any]:
        """Add deterministic customers and orders (dates spread over ``days`` before ``anchor``,
        default: the simulator clock). Returns a summary; ``summary["invalid"]`` lists the
        orders a connector must reject, with the problem. ``silent`` suppresses webhooks.
        ``bulk_ratio``: share of orders with a bulk line at an odd price below a cent per unit
        (its subtotal does not divide by the quantity, woo §3)."""
        with self.state.lock:
            users, new_orders, summary = generate(
                self.state,
                customers=customers,
                orders=orders,
                seed=seed,
                guest_ratio=guest_ratio,
                invalid=invalid,
                currencies=tuple(currencies),
                anchor=anchor or self.state.now() - timedelta(seconds=1),
                days=days,
                prices_include_tax=self.config.prices_include_tax,
                bulk_ratio=bulk_ratio,
            )
            for u in users:
                self.state.users[u.id] = u
                if not silent:
                    self._fire("customer.created", u.id, partial(self._customer_payload, u))
            for o in new_orders:
                self.state.orders[o.id] = o
                if not silent:
                    self._fire("order.created", o.id, partial(self._order_payload, o))
            self.state.bump()
        return summary

    def mutate_order(
        self,
        order_id: int,
        *,
        bump_modified: bool = True,
        fire_webhooks: bool = True,
        **changes: Any,
    ) -> dict[str, Any]:
        """Change an order like the shop admin would (any ``PUT /orders/{id}`` field; no changes
        = a touch). Bumps ``date_modified`` to now and fires ``order.updated``.
        ``bump_modified=False`` imitates a plugin writing meta directly (doc §4, missed
        changes)."""
        with self.state.lock:
            current = self.state.orders.get(int(order_id))
            if current is None:
                raise KeyError(order_id)
            order = copy.deepcopy(current)
            try:
                self._apply_order_body(order, changes, creating=False)
            except WooError as exc:
                raise ValueError(exc.message) from exc
            self.state.orders[order.id] = order
            self.state.bump()
            if not changes:
                self._touch_meta(order)
            if bump_modified:
                order.modified = self.state.now()
            if fire_webhooks:
                self._fire("order.updated", order.id, lambda: self._order_payload(order))
            return self._order_payload(order)

    def mutate_customer(
        self, customer_id: int, *, fire_webhooks: bool = True, **changes: Any
    ) -> dict[str, Any]:
        """Change a customer (``PUT /customers/{id}`` fields). Bumps ``date_modified``."""
        with self.state.lock:
            current = self.state.users.get(int(customer_id))
            if current is None:
                raise KeyError(customer_id)
            user = copy.deepcopy(current)
            try:
                self._apply_customer_body(user, changes, creating=False)
            except WooError as exc:
                raise ValueError(exc.message) from exc
            self.state.users[user.id] = user
            user.modified = self.state.now()
            if fire_webhooks:
                self._fire("customer.updated", user.id, lambda: self._customer_payload(user))
            return self._customer_payload(user)

    def add_refund(self, order_id: int, amount: str | float, reason: str = "") -> dict[str, Any]:
        """Refund part of an order: a refund post, ``order.updated`` fired (doc §6)."""
        with self.state.lock:
            order = self.state.orders.get(int(order_id))
            if order is None:
                raise KeyError(order_id)
            refund = self._create_refund(order, parse_money(amount), reason, refunded_payment=False)
            self.state.bump()
            return render_refund(order, refund, self._offset(), self._site_base())

    def delete_order(self, order_id: int, force: bool = False) -> None:
        """Trash (or with ``force`` delete) an order, firing ``order.deleted``."""
        with self.state.lock:
            order = self.state.orders.get(int(order_id))
            if order is None:
                raise KeyError(order_id)
            self._delete_order(order, force)
            self.state.bump()

    def orders(self) -> list[dict[str, Any]]:
        """Every order (trash included) as the API renders it, by id."""
        with self.state.lock:
            return [
                self._order_payload(o)
                for o in sorted(self.state.orders.values(), key=lambda o: o.id)
            ]

    def customers(self) -> list[dict[str, Any]]:
        """Every user with role ``customer`` as the API renders it, by id (guests are not users)."""
        with self.state.lock:
            return [
                self._customer_payload(u)
                for u in sorted(self.state.users.values(), key=lambda u: u.id)
                if u.role == "customer"
            ]

    def products(self) -> list[dict[str, Any]]:
        """The catalogue the generator and ``POST /orders`` use (id, sku, name, price)."""
        return [
            {"id": p.id, "sku": p.sku, "name": p.name, "price": f"{p.price / 100:.2f}"}
            for p in PRODUCTS
        ]

    def webhooks(self) -> list[dict[str, Any]]:
        """Webhooks with the fields the API hides (``secret``, ``failure_count``, owner)."""
        with self.state.lock:
            return [
                {
                    **render_webhook(w, self._offset(), self._site_base()),
                    "secret": w.secret,
                    "failure_count": w.failure_count,
                    "user_id": w.user_id,
                }
                for w in sorted(self.state.webhooks.values(), key=lambda w: w.id)
            ]

    def deliveries(self) -> list[dict[str, Any]]:
        return [d.as_dict() for d in self.dispatcher.deliveries()]

    def flush_webhooks(self, timeout: float = 10.0) -> bool:
        """Wait for queued deliveries; True when the queue is empty."""
        return self.dispatcher.flush(timeout)

    def set_mutating(
        self,
        every_n_requests: int,
        count: int = 1,
        *,
        limit: int | None = None,
        pick: str = "random",
        seed: int = 0,
        silent: bool = False,
    ) -> dict[str, Any]:
        """Modify ``count`` orders after every ``every_n_requests`` API requests (0 = off)."""
        if pick not in ("random", "oldest"):
            raise ValueError("pick must be random or oldest")
        with self.state.lock:
            self.state.mutating = Mutating(
                every_n_requests=max(0, int(every_n_requests)),
                count=max(1, int(count)),
                limit=None if limit is None else int(limit),
                pick=pick,
                silent=silent,
            )
            self._mutation_rng = random.Random(seed)
            return self._mutating_status()

    def close(self) -> None:
        """Stop the delivery thread (it is a daemon; this is for tidy shutdowns)."""
        self.dispatcher.close()
