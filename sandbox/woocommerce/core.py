"""Core of the WooCommerce simulator: configuration and the data-level operations (orders,
customers, users and keys, refunds, webhook firing, the moving-records switch) that the REST
handlers, the admin routes and the public API share. Callers hold ``state.lock`` (an RLock)."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from sandbox.woocommerce.errors import WooError, invalid_params
from sandbox.woocommerce.generator import PRODUCTS_BY_ID, PRODUCTS_BY_SKU
from sandbox.woocommerce.models import (
    BILLING_FIELDS,
    COUPONS,
    ORDER_STATUSES,
    SHIPPING_FIELDS,
    ApiKey,
    CouponLine,
    FeeLine,
    LineItem,
    Order,
    Refund,
    ShippingLine,
    WpUser,
    merge_address,
    merge_meta,
    parse_money,
)
from sandbox.woocommerce.render import render_customer, render_order
from sandbox.woocommerce.store import WooState
from sandbox.woocommerce.webhooks import WebhookDispatcher

DEFAULT_CONSUMER_KEY = "ck_sandbox_0001"
DEFAULT_CONSUMER_SECRET = "cs_sandbox_0001"
DEFAULT_KEY_OWNER = "shop-admin"

API_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
MANAGER_ROLES = ("administrator", "shop_manager")
DELETABLE_CUSTOMER_ROLES = ("customer", "subscriber")
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
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class WooConfig:
    """Store-level switches (all changeable at run time through ``POST /_sandbox/woo/config``)."""

    site_url: str = "https://shop.example.test"  # what X-WC-Webhook-Source reports
    assume_https: bool = True  # True: Basic/query creds accepted; False: plain HTTP -> OAuth 1.0a
    utc_offset_hours: int = 1  # site-local time zone for date_* fields (date_*_gmt are UTC)
    webhook_failures_to_disable: int = 5  # >5 consecutive failures -> disabled (per doc)
    currency: str = "EUR"  # store currency (orders created through the API)
    prices_include_tax: bool = False  # the store's "prices entered with tax" setting
    webhook_delay_s: float = 0.0  # wait before each asynchronous delivery (Action Scheduler lag)
    webhook_timeout_s: float = 10.0  # WooCommerce waits 60 s; the sandbox is less patient


def _valid_topic(topic: str) -> bool:
    if topic.startswith("action.") and len(topic) > len("action."):
        return True
    resource, _, event = topic.partition(".")
    return resource in WEBHOOK_RESOURCES and event in WEBHOOK_EVENTS


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise invalid_params({name: f"{name} is not of type integer."})
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.match(r"^[+-]?\d+$", value.strip()):
        return int(value)
    raise invalid_params({name: f"{name} is not of type integer."})


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


class WooCore:
    """Data-level behaviour shared by the REST handlers, the admin routes and the public API."""

    def __init__(self, config: WooConfig | None = None) -> None:
        self.config = config or WooConfig()
        self.state = WooState()
        self._mutation_rng = random.Random(0)
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

    def _apply_order_body(self, order: Order, body: dict[str, Any], creating: bool) -> None:
        """Validate and apply writable order fields (POST/PUT and admin mutate)."""
        if "status" in body:
            status = str(body["status"])
            if status not in ORDER_STATUSES:
                raise invalid_params(
                    {"status": f"status is not one of {', '.join(ORDER_STATUSES)}."}
                )
        if "currency" in body and not re.match(r"^[A-Z]{3}$", str(body["currency"])):
            raise invalid_params({"currency": "currency is not a valid ISO 4217 code."})
        if "customer_id" in body:
            cid = _as_int(body["customer_id"], "customer_id")
            if cid != 0 and cid not in self.state.users:
                raise WooError(
                    400, "woocommerce_rest_invalid_customer_id", "Customer ID is invalid."
                )
            order.customer_id = cid
        if "currency" in body:
            order.currency = str(body["currency"])
        if "billing" in body:
            email = (
                (body["billing"] or {}).get("email") if isinstance(body["billing"], dict) else None
            )
            if email and not _EMAIL.match(str(email)):
                raise WooError(400, "order_invalid_billing_email", "Invalid billing email address")
            merge_address(order.billing, body["billing"], BILLING_FIELDS)
        if "shipping" in body:
            merge_address(order.shipping, body["shipping"], SHIPPING_FIELDS)
        for name in ("customer_note", "payment_method", "payment_method_title", "transaction_id"):
            if name in body:
                setattr(order, name, "" if body[name] is None else str(body[name]))
        if "parent_id" in body:
            order.parent_id = _as_int(body["parent_id"], "parent_id")
        if "meta_data" in body:
            merge_meta(order.meta_data, body["meta_data"], self.state.meta_id)
        repriced = False
        if "line_items" in body:
            self._apply_line_items(order, body["line_items"])
            repriced = True
        if "shipping_lines" in body:
            self._apply_shipping_lines(order, body["shipping_lines"])
            repriced = True
        if "fee_lines" in body:
            self._apply_fee_lines(order, body["fee_lines"])
            repriced = True
        if "coupon_lines" in body:
            self._apply_coupon_lines(order, body["coupon_lines"])
            repriced = True
        if repriced or "billing" in body or "shipping" in body:
            order.reprice()
        now = self.state.now()
        if "status" in body:
            order.status = str(body["status"])
        if _as_bool(body.get("set_paid", False)):
            order.paid = order.paid or now
            if order.status in ("pending", "on-hold", "failed"):
                order.status = "processing"
        if order.status in ("processing", "completed") and order.paid is None:
            order.paid = now  # WC_Order::maybe_set_date_paid
        if order.status == "completed" and order.completed is None:
            order.completed = now

    def _product(self, entry: dict[str, Any], index: int) -> Any:
        if entry.get("product_id"):
            product = PRODUCTS_BY_ID.get(
                _as_int(entry["product_id"], f"line_items[{index}][product_id]")
            )
        elif entry.get("sku"):
            product = PRODUCTS_BY_SKU.get(str(entry["sku"]))
        else:
            raise WooError(
                400, "woocommerce_rest_required_product_reference", "Product ID or SKU is required."
            )
        if product is None:
            raise WooError(400, "woocommerce_rest_invalid_product_id", "Invalid product ID.")
        return product

    def _apply_line_items(self, order: Order, entries: Any) -> None:
        if not isinstance(entries, list):
            raise invalid_params({"line_items": "line_items is not of type array."})
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise invalid_params({"line_items": f"line_items[{i}] is not of type object."})
            if entry.get("id"):
                item_id = _as_int(entry["id"], f"line_items[{i}][id]")
                line = next((li for li in order.line_items if li.id == item_id), None)
                if line is None:
                    raise WooError(
                        400,
                        "woocommerce_rest_invalid_item_id",
                        "Order item ID provided is not associated with order.",
                    )
                if ("product_id" in entry and entry["product_id"] is None) or (
                    "quantity" in entry
                    and _as_int(entry["quantity"], f"line_items[{i}][quantity]") == 0
                ):
                    order.line_items.remove(line)
                    continue
                if entry.get("product_id") or entry.get("sku"):
                    product = self._product(entry, i)
                    line.product_id, line.sku, line.name = product.id, product.sku, product.name
                    line.unit_price = product.price
                if "quantity" in entry:
                    line.quantity = _as_int(entry["quantity"], f"line_items[{i}][quantity]")
                if "name" in entry:
                    line.name = str(entry["name"])
                continue
            product = self._product(entry, i)
            quantity = _as_int(entry.get("quantity", 1), f"line_items[{i}][quantity]")
            order.line_items.append(
                LineItem(
                    id=self.state.item_id(),
                    name=str(entry.get("name") or product.name),
                    product_id=product.id,
                    variation_id=_as_int(
                        entry.get("variation_id", 0) or 0, f"line_items[{i}][variation_id]"
                    ),
                    quantity=quantity,
                    unit_price=product.price,
                    sku=product.sku,
                )
            )

    def _apply_shipping_lines(self, order: Order, entries: Any) -> None:
        if not isinstance(entries, list):
            raise invalid_params({"shipping_lines": "shipping_lines is not of type array."})
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            line = None
            if entry.get("id"):
                line = next(
                    (s for s in order.shipping_lines if s.id == _as_int(entry["id"], "id")), None
                )
                if line is None:
                    raise WooError(
                        400,
                        "woocommerce_rest_invalid_item_id",
                        "Order item ID provided is not associated with order.",
                    )
                if "method_id" in entry and entry["method_id"] is None:
                    order.shipping_lines.remove(line)
                    continue
            else:
                line = ShippingLine(self.state.item_id(), "flat_rate", "Flat rate", 0)
                order.shipping_lines.append(line)
            if entry.get("method_id"):
                line.method_id = str(entry["method_id"])
            if entry.get("method_title"):
                line.method_title = str(entry["method_title"])
            if "total" in entry:
                line.total = self._money(entry["total"], "shipping_lines[total]")

    def _apply_fee_lines(self, order: Order, entries: Any) -> None:
        if not isinstance(entries, list):
            raise invalid_params({"fee_lines": "fee_lines is not of type array."})
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            if entry.get("id"):
                line = next(
                    (f for f in order.fee_lines if f.id == _as_int(entry["id"], "id")), None
                )
                if line is None:
                    raise WooError(
                        400,
                        "woocommerce_rest_invalid_item_id",
                        "Order item ID provided is not associated with order.",
                    )
                if "name" in entry and entry["name"] is None:
                    order.fee_lines.remove(line)
                    continue
            else:
                line = FeeLine(self.state.item_id(), "Fee", 0)
                order.fee_lines.append(line)
            if entry.get("name"):
                line.name = str(entry["name"])
            if entry.get("tax_status") in ("taxable", "none"):
                line.tax_status = str(entry["tax_status"])
            if "total" in entry:
                line.total = self._money(entry["total"], "fee_lines[total]")

    def _apply_coupon_lines(self, order: Order, entries: Any) -> None:
        if not isinstance(entries, list):
            raise invalid_params({"coupon_lines": "coupon_lines is not of type array."})
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            if entry.get("id"):
                line = next(
                    (c for c in order.coupon_lines if c.id == _as_int(entry["id"], "id")), None
                )
                if line is not None and entry.get("code", "x") is None:
                    order.coupon_lines.remove(line)
                continue
            code = str(entry.get("code") or "").lower()
            if code not in COUPONS:
                raise WooError(
                    400, "woocommerce_rest_invalid_coupon", f'Coupon "{code}" does not exist!'
                )
            if all(c.code != code for c in order.coupon_lines):
                order.coupon_lines.append(CouponLine(self.state.item_id(), code))

    @staticmethod
    def _money(value: Any, name: str) -> int:
        try:
            return parse_money(value)
        except (ValueError, ArithmeticError):
            raise invalid_params({name: f"{name} is not of type string."})

    def _apply_customer_body(self, user: WpUser, body: dict[str, Any], creating: bool) -> None:
        if "email" in body:
            email = str(body["email"] or "").strip()
            if creating:
                if not _EMAIL.match(email):
                    raise WooError(400, "customer_invalid_email", "Invalid email address")
                if self.state.user_by_email(email) is not None:
                    raise WooError(
                        400,
                        "registration-error-email-exists",
                        "An account is already registered with your email address. Please log in.",
                    )
            else:
                other = self.state.user_by_email(email) if email else None
                if email and (
                    not _EMAIL.match(email) or (other is not None and other.id != user.id)
                ):
                    raise WooError(
                        400, "woocommerce_rest_customer_invalid_email", "Email address is invalid."
                    )
                if user.role not in DELETABLE_CUSTOMER_ROLES and email != user.email:
                    raise WooError(
                        403,
                        "woocommerce_rest_cannot_edit",
                        "Sorry, email cannot be updated via this endpoint for a user with role "
                        f"{user.role}.",
                    )
            user.email = email
        if creating:
            username = str(body.get("username") or "").strip() or user.email.split("@", 1)[0]
            base, n = username, 1
            while self.state.user_by_login(username) is not None:
                n += 1
                username = f"{base}-{n}"
            user.username = username
        elif body.get("username") and body["username"] != user.username:
            raise WooError(
                400, "woocommerce_rest_customer_invalid_argument", "Username isn't editable."
            )
        for name in ("first_name", "last_name"):
            if name in body:
                setattr(user, name, str(body[name] or ""))
        if "billing" in body:
            merge_address(user.billing, body["billing"], BILLING_FIELDS)
        if "shipping" in body:
            merge_address(user.shipping, body["shipping"], SHIPPING_FIELDS)
        if "meta_data" in body:
            merge_meta(user.meta_data, body["meta_data"], self.state.meta_id)
