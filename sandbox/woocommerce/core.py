"""Core of the WooCommerce simulator: configuration and the data-level operations (orders,
customers, users and keys, refunds, webhook firing, the moving-records switch) that the REST
handlers, the admin routes and the public API share. Callers hold ``state.lock`` (an RLock).
Parsing of order and customer bodies is mixed in from :mod:`sandbox.woocommerce.bodies`."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from sandbox.woocommerce.bodies import RequestBodies
from sandbox.woocommerce.errors import WooError
from sandbox.woocommerce.hosting import HostRateLimit
from sandbox.woocommerce.models import ApiKey, Order, Refund, WpUser
from sandbox.woocommerce.render import render_customer, render_order
from sandbox.woocommerce.store import WooState
from sandbox.woocommerce.webhooks import WebhookDispatcher

DEFAULT_CONSUMER_KEY = "ck_sandbox_0001"
DEFAULT_CONSUMER_SECRET = "cs_sandbox_0001"
DEFAULT_KEY_OWNER = "shop-admin"

API_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
MANAGER_ROLES = ("administrator", "shop_manager")
PERMISSION_ERRORS = {
    "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "view": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "delete": (
        "woocommerce_rest_cannot_delete",
        "Sorry, you are not allowed to delete this resource.",
    ),
}
WEBHOOK_RESOURCES = ("coupon", "customer", "order", "product")
WEBHOOK_EVENTS = ("created", "updated", "deleted", "restored")


@dataclass
class WooConfig:
    """Store-level switches (all changeable at run time through ``POST /_sandbox/woo/config``)."""

    site_url: str = "https://shop.example.test"  # what X-WC-Webhook-Source reports
    assume_https: bool = True  # True: Basic/query creds accepted; False: plain HTTP -> OAuth 1.0a
    # The site's home URL as WordPress knows it ("" = the Host of each request). OAuth 1.0a
    # signatures are checked against get_home_url(path, is_ssl() ? https : http): behind a
    # TLS-terminating proxy (assume_https False) with home_url https://shop… the shop signs
    # http://shop…/wp-json/…, not the URL the client called (woocommerce.md, OAuth behind a proxy).
    home_url: str = ""
    utc_offset_hours: int = 1  # site-local time zone for date_* fields (date_*_gmt are UTC)
    webhook_failures_to_disable: int = 5  # >5 consecutive failures -> disabled (per doc)
    currency: str = "EUR"  # store currency (orders created through the API)
    prices_include_tax: bool = False  # the store's "prices entered with tax" setting
    webhook_delay_s: float = 0.0  # wait before each asynchronous delivery (Action Scheduler lag)
    webhook_timeout_s: float = 10.0  # WooCommerce waits 60 s; the sandbox is less patient
    # The hosting's request limit in front of the shop (doc §5; sandbox.woocommerce.hosting):
    # 0 = none, as core. Else at most this many API requests per sliding window.
    rate_limit_per_window: int = 0
    rate_limit_window_s: float = 60.0
    rate_limit_status: int = 429  # what the host answers over the limit (some send 503)
    rate_limit_count_refused: bool = True  # refused requests count (strict WAFs do)
    rate_limit_headers: str = ""  # "", "ratelimit" (RateLimit-*) or "x-ratelimit" (X-RateLimit-*)


def _valid_topic(topic: str) -> bool:
    if topic.startswith("action.") and len(topic) > len("action."):
        return True
    resource, _, event = topic.partition(".")
    return resource in WEBHOOK_RESOURCES and event in WEBHOOK_EVENTS


class WooCore(RequestBodies):
    """Data-level behaviour shared by the REST handlers, the admin routes and the public API."""

    def __init__(self, config: WooConfig | None = None) -> None:
        self.config = config or WooConfig()
        self.state = WooState()
        self._mutation_rng = random.Random(0)
        self.host_limit = HostRateLimit()
        self.dispatcher = WebhookDispatcher(
            on_result=self._delivery_result,
            delay_s=lambda: self.config.webhook_delay_s,
            timeout_s=lambda: self.config.webhook_timeout_s,
        )
        self._reset_data()

    def add_key(
        self,
        consumer_key: str,
        consumer_secret: str,
        permissions: str = "read_write",
        user: str = DEFAULT_KEY_OWNER,
    ) -> None:
        """Create an API key owned by WordPress user ``user`` (created as administrator if new)."""
        if permissions not in ("read", "write", "read_write"):
            raise ValueError(f"bad permissions {permissions!r}")
        with self.state.lock:
            owner = self.state.user_by_login(user) or self.add_user(user, role="administrator")
            self.state.keys[consumer_key] = ApiKey(
                key_id=self.state.next_key,
                consumer_key=consumer_key,
                consumer_secret=consumer_secret,
                permissions=permissions,
                user_id=owner.id,
                description=f"sandbox key {self.state.next_key}",
            )
            self.state.next_key += 1

    def revoke_key(self, consumer_key: str) -> bool:
        with self.state.lock:
            return self.state.keys.pop(consumer_key, None) is not None

    def add_user(self, login: str, role: str = "administrator", email: str | None = None) -> WpUser:
        """A WordPress user (key owner or any role)."""
        with self.state.lock:
            if self.state.user_by_login(login) is not None:
                raise ValueError(f"user {login!r} exists")
            now = self.state.now()
            user = WpUser(
                id=self.state.user_id(),
                username=login,
                email=email or f"{login}@{self._site_host()}",
                role=role,
                created=now,
                modified=now,
            )
            self.state.users[user.id] = user
            return user

    # ================================================================== internals: data

    def _reset_data(self) -> None:
        with self.state.lock:
            self.state.clear_data()
            self.dispatcher.clear()
            self.host_limit.clear()
            self.add_user(DEFAULT_KEY_OWNER, role="administrator", email=None)
            self.add_key(
                DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET, "read_write", DEFAULT_KEY_OWNER
            )

    def _offset(self) -> timedelta:
        return timedelta(hours=self.config.utc_offset_hours)

    def _site_base(self) -> str:
        return self.config.site_url.rstrip("/")

    def _site_host(self) -> str:
        host = re.sub(r"^[a-z]+://", "", self._site_base())
        return host.split("/", 1)[0] or "shop.example.test"

    def _order_payload(self, o: Order, base: str | None = None, dp: int = 2) -> dict[str, Any]:
        return render_order(o, self._offset(), base or self._site_base(), dp)

    def _customer_payload(self, u: WpUser, base: str | None = None) -> dict[str, Any]:
        return render_customer(u, self._offset(), base or self._site_base())

    def _touch_meta(self, order: Order) -> None:
        for m in order.meta_data:
            if m["key"] == "_sandbox_revision":
                m["value"] = int(m["value"]) + 1
                return
        order.meta_data.append({"id": self.state.meta_id(), "key": "_sandbox_revision", "value": 1})

    def _delete_user(self, user: WpUser) -> None:
        for ck in [k for k, v in self.state.keys.items() if v.user_id == user.id]:
            del self.state.keys[ck]
        for o in self.state.orders.values():
            if o.customer_id == user.id:
                o.customer_id = 0  # wc_reset_order_customer_id_on_deleted_user: no date bump
        del self.state.users[user.id]
        if user.role == "customer":  # customer.deleted only for role customer (doc §6)
            self._fire("customer.deleted", user.id, lambda: {"id": user.id})

    def _delete_order(self, order: Order, force: bool) -> None:
        if force:
            del self.state.orders[order.id]
        else:
            order.meta_data.append(
                {"id": self.state.meta_id(), "key": "_wp_trash_meta_status", "value": order.status}
            )
            order.status = "trash"
            order.modified = self.state.now()
        self._fire("order.deleted", order.id, lambda: {"id": order.id})

    def _create_refund(
        self, order: Order, amount: int, reason: str, refunded_payment: bool
    ) -> Refund:
        remaining = order.totals()["total"] - sum(r.amount for r in order.refunds)
        if amount <= 0 or amount > remaining:
            raise WooError(
                500, "woocommerce_rest_cannot_create_order_refund", "Invalid refund amount."
            )
        now = self.state.now()
        refund = Refund(
            id=self.state.post_id(),
            created=now,
            amount=amount,
            reason=reason,
            refunded_payment=refunded_payment,
        )
        order.refunds.append(refund)
        if amount == remaining:
            order.status = "refunded"
        order.modified = now
        self._fire("order.updated", order.id, lambda: self._order_payload(order))
        return refund

    # ================================================================== internals: webhooks

    def _fire(self, topic: str, resource_id: int, payload: Callable[[], Any]) -> None:
        """Queue one delivery per active webhook on ``topic`` (caller holds the lock). The body is
        rendered now: the resource as it is at the time of the event."""
        hooks = [
            w for w in self.state.webhooks.values() if w.status == "active" and w.topic == topic
        ]
        if not hooks:
            return
        body = payload()
        for w in hooks:
            self.dispatcher.enqueue(
                webhook_id=w.id,
                topic=topic,
                url=w.delivery_url,
                secret=w.secret,
                source=self._site_base() + "/",
                payload=body,
                resource_id=resource_id,
            )

    def _delivery_result(self, webhook_id: int, ok: bool) -> None:
        """WC_Webhook::log_delivery / failed_delivery: 200-302 resets the count; otherwise when
        the count is already above the limit the hook is disabled, else it is incremented (so
        with the default 5 the 7th consecutive failure disables it)."""
        with self.state.lock:
            w = self.state.webhooks.get(webhook_id)
            if w is None:
                return
            if ok:
                w.failure_count = 0
            elif w.failure_count > self.config.webhook_failures_to_disable:
                w.status = "disabled"
            else:
                w.failure_count += 1

    def _tick_mutating(self) -> None:
        with self.state.lock:
            m = self.state.mutating
            if not m.active:
                return
            m.requests_seen += 1
            if m.requests_seen % m.every_n_requests:
                return
            candidates = [o for o in self.state.orders.values() if o.status != "trash"]
            n = min(m.count, len(candidates))
            if m.limit is not None:
                n = min(n, m.limit - m.done)
            if n <= 0:
                return
            if m.pick == "oldest":
                chosen = sorted(candidates, key=lambda o: (o.modified, o.id))[:n]
            else:
                chosen = self._mutation_rng.sample(candidates, n)
            now = self.state.now()
            for o in chosen:
                self._touch_meta(o)
                o.modified = now
                if not m.silent:
                    self._fire("order.updated", o.id, partial(self._order_payload, o))
                m.log.append(
                    {
                        "order_id": o.id,
                        "date_modified_gmt": now.strftime("%Y-%m-%dT%H:%M:%S"),
                        "after_request": m.requests_seen,
                    }
                )
            m.done += n
            self.state.bump()

    def _mutating_status(self) -> dict[str, Any]:
        m = self.state.mutating
        return {
            "every_n_requests": m.every_n_requests,
            "count": m.count,
            "limit": m.limit,
            "pick": m.pick,
            "silent": m.silent,
            "active": m.active,
            "done": m.done,
            "requests_seen": m.requests_seen,
            "log": list(m.log),
        }
