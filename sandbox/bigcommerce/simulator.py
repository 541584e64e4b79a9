"""BigCommerce simulator: ``/stores/{store_hash}/v2|v3`` over local HTTP, faithful to
``reference/bigcommerce.md`` (auth, v2 orders/products/shipments with 204-on-empty, v3
transactions/refunds/customers/hooks, Standard-Webhooks-signed thin callbacks with the real retry
schedule, domain blocklist and deactivation, per-store rate limits).

Usage::

    sim = BcSimulator(BcConfig(retry_compression=0.001))
    sim.seed(customers=20, orders=100)
    server = ServerThread(sim.app).start()      # server.url + "/stores/sbx1/v2/orders"

Admin routes live under ``/_sandbox/bc/`` (see ``docs/sandbox.md``); the common ones (faults,
request log, clock, reset) under ``/_sandbox/``. This package never imports ``connector``.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, g, has_request_context, request
from werkzeug.exceptions import HTTPException

from sandbox.bigcommerce.customers import make_billing_address
from sandbox.bigcommerce.model import (
    DEFAULT_ACCESS_TOKEN,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_STORE_HASH,
    DEFAULT_STORE_ID,
    ORDER_STATUSES,
    TAX_RATES,
    BcConfig,
    BcError,
    Event,
    money,
    parse_date,
    q2,
)
from sandbox.bigcommerce.orders import Order
from sandbox.bigcommerce.seed import catalog, random_person, seed_store
from sandbox.bigcommerce.store import BcStore, now_seconds
from sandbox.bigcommerce.webhooks import ApiAccount, BcWebhooks, Hook, domain_of
from sandbox.common import ADMIN_PREFIX, SimulatorState, make_app

__all__ = [
    "DEFAULT_ACCESS_TOKEN",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_STORE_HASH",
    "DEFAULT_STORE_ID",
    "BcConfig",
    "BcError",
    "BcSimulator",
]

V3_ERROR_TYPE = "/api-docs/getting-started/api-status-codes"
V2_MAX_LIMIT = 250
V3_MAX_LIMIT = 250
_API_PATH = re.compile(r"^/stores/([^/]+)/(v2|v3)(?:/|$)")
_LIMIT_MESSAGE = "The specified limit exceeds the maximum allowed."

# §1 OAuth scopes: any scope of a family (read-only or modify) grants read access.
SCOPE_FAMILIES: dict[str, frozenset[str]] = {
    "orders": frozenset({"store_v2_orders", "store_v2_orders_read_only"}),
    "transactions": frozenset({"store_v2_transactions", "store_v2_transactions_read_only"}),
    "customers": frozenset({"store_v2_customers", "store_v2_customers_read_only"}),
}
_IDENTITY_FIELDS = {"store_hash", "store_id", "access_token", "client_id", "client_secret"}


# --------------------------------------------------------------------------- rate limits (§6)


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


# --------------------------------------------------------------------------- responses


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


def v2_error(status: int, message: str, details: dict[str, Any] | None = None) -> Response:
    """§7: v2 errors are a JSON array."""
    item: dict[str, Any] = {"status": status, "message": message}
    if details:
        item["details"] = details
    return _json([item], status)


def v3_error(status: int, title: str, errors: dict[str, Any] | None = None) -> Response:
    """§7: v3 errors are an object with status, title, type and errors."""
    return _json(
        {"status": status, "title": title, "type": V3_ERROR_TYPE, "errors": errors or {}}, status
    )


def _api_version() -> str | None:
    match = _API_PATH.match(request.path)
    return match.group(2) if match else None


def api_error(exc: BcError) -> Response:
    if request.path.startswith(ADMIN_PREFIX):
        return _json({"error": exc.message, "errors": exc.errors}, exc.status)
    if _api_version() == "v2":
        return v2_error(exc.status, exc.message, exc.details)
    return v3_error(exc.status, exc.message, exc.errors)


def _v2_list(items: list[dict[str, Any]]) -> Response:
    """§2: an empty v2 list is 204 with no body."""
    if not items:
        return Response(status=204)
    return _json(items)


def _int_arg(args: Any, name: str, default: int | None = None) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BcError(400, f"The field '{name}' is invalid.", {name: "must be an integer"})


def _date_arg(args: Any, name: str) -> datetime | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_date(raw)
    except ValueError:
        raise BcError(400, f"The field '{name}' is invalid.", {name: "invalid date"})


def _csv_ints(args: Any, name: str) -> set[int] | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    try:
        return {int(x) for x in raw.split(",") if x.strip()}
    except ValueError:
        raise BcError(422, f"The field '{name}' is invalid.", {name: "must be integers"})


def _bool_arg(args: Any, name: str) -> bool | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise BcError(400, f"The field '{name}' is invalid.", {name: "must be true or false"})


def _v2_page(args: Any, default_limit: int = 50) -> tuple[int, int]:
    page = _int_arg(args, "page", 1) or 1
    limit = _int_arg(args, "limit", default_limit)
    assert limit is not None
    if limit > V2_MAX_LIMIT:
        raise BcError(413, _LIMIT_MESSAGE, details={"max_limit": V2_MAX_LIMIT})
    if page < 1 or limit < 1:
        raise BcError(400, "The field 'page' or 'limit' is invalid.")
    return page, limit


def _v3_page(args: Any) -> tuple[int, int]:
    page = _int_arg(args, "page", 1) or 1
    limit = _int_arg(args, "limit", 50) or 50
    if page < 1 or limit < 1:
        raise BcError(422, "Input is invalid.", {"page": "page and limit must be >= 1"})
    return page, min(limit, V3_MAX_LIMIT)  # v3 clamps (undocumented; see docs/sandbox.md)


def _pagination(total: int, page: int, limit: int, args: Any) -> dict[str, Any]:
    """v3 ``meta.pagination`` (§4), links as query strings like BigCommerce sends them."""
    total_pages = math.ceil(total / limit) if total else 0
    base = {k: v for k, v in args.items() if k not in ("page", "limit")}

    def link(p: int) -> str:
        return "?" + urlencode({**base, "page": p, "limit": limit})

    links: dict[str, str] = {"current": link(page)}
    if page > 1:
        links["previous"] = link(page - 1)
    if page < total_pages:
        links["next"] = link(page + 1)
    return {
        "total": total,
        "count": max(0, min(limit, total - (page - 1) * limit)),
        "per_page": limit,
        "current_page": page,
        "total_pages": total_pages,
        "links": links,
    }


def _sort_spec(raw: str | None, allowed: Iterable[str], default: str) -> tuple[str, bool]:
    spec = raw or default
    field_name, _, direction = spec.partition(":")
    direction = direction.lower() or "asc"
    if field_name not in set(allowed) or direction not in ("asc", "desc"):
        raise BcError(400, f"The field 'sort' is invalid: {spec}", {"sort": "invalid"})
    return field_name, direction == "desc"


# --------------------------------------------------------------------------- the simulator


class BcSimulator:
    """One simulated BigCommerce store with its API accounts, data, hooks and delivery engine.

    ``.app`` is the Flask app (serve it with :class:`sandbox.common.ServerThread`), ``.state``
    the shared :class:`SimulatorState` (clock, faults, request log, lock), ``.config`` the live
    :class:`BcConfig`. All data lives behind ``state.lock``; webhook POSTs happen outside it.
    """

    def __init__(self, config: BcConfig | None = None) -> None:
        self.config = config or BcConfig()
        self._initial_config = replace(self.config)
        self.state = SimulatorState()
        self.store = BcStore(self.state.lock, self.config.default_currency)
        self.accounts: dict[str, ApiAccount] = {}  # by access token
        self._reset_accounts()
        self.webhooks = BcWebhooks(
            lock=self.state.lock,
            clock=self.state.clock,
            config=lambda: self.config,
            secret_for=self._secret_for,
        )
        self.limiter = RateLimiter()
        self.public_base_url: str | None = None  # base of resource links; default: request URL
        self._rng = random.Random(7)
        self._overload_rng = random.Random(11)
        self.app = make_app(
            "bigcommerce", self.state, reset=self.reset_data, rate_limited=self._injected_429
        )
        self._install_gate(self.app)
        self.app.register_blueprint(self._api_blueprint())
        self.app.register_blueprint(self._admin_blueprint())

    # ----------------------------------------------------------------- accounts

    def _reset_accounts(self) -> None:
        cfg = self.config
        with self.state.lock:
            self.accounts = {
                cfg.access_token: ApiAccount(
                    client_id=cfg.client_id,
                    client_secret=cfg.client_secret,
                    access_token=cfg.access_token,
                )
            }

    def _secret_for(self, client_id: str) -> str | None:
        with self.state.lock:
            for account in self.accounts.values():
                if account.client_id == client_id:
                    return account.client_secret
        return None

    def create_account(
        self,
        client_id: str | None = None,
        scopes: Iterable[str] | None = None,
        client_secret: str | None = None,
        access_token: str | None = None,
    ) -> dict[str, Any]:
        """Add a store-level API account (§1). ``scopes=None`` grants everything."""
        with self.state.lock:
            n = len(self.accounts) + 1
            cid = client_id or f"bc-sandbox-client-{n}-{self._rng.randrange(16**6):06x}"
            if any(a.client_id == cid for a in self.accounts.values()):
                raise BcError(409, f"client_id {cid} already exists")
            account = ApiAccount(
                client_id=cid,
                client_secret=client_secret or f"secret_{self._rng.randrange(16**16):016x}",
                access_token=access_token or f"token_{self._rng.randrange(16**24):024x}",
                scopes=None if scopes is None else frozenset(scopes),
            )
            self.accounts[account.access_token] = account
            return account.public()

    def delete_account(self, client_id: str) -> dict[str, Any]:
        """Delete an API account: its token stops working and its hooks are deleted (§1)."""
        with self.state.lock:
            tokens = [t for t, a in self.accounts.items() if a.client_id == client_id]
            if not tokens:
                raise BcError(404, f"API account {client_id} not found")
            for token in tokens:
                del self.accounts[token]
            removed = self.webhooks.delete_for_client(client_id)
        return {"client_id": client_id, "deleted": True, "hooks_deleted": removed}

    # ----------------------------------------------------------------- lifecycle

    def reset_data(self) -> None:
        """Clear data, accounts, hooks, deliveries, rate counters and config switches."""
        with self.state.lock:
            self.config = replace(self._initial_config)
            self.store.clear()
            self.store.default_currency = self.config.default_currency
            self._reset_accounts()
            self.webhooks.reset()
            self.limiter.reset()
            self._rng.seed(7)
            self._overload_rng.seed(11)

    def reset(self) -> None:
        """Everything :meth:`reset_data` clears plus faults, request log and clock."""
        self.state.reset_common()
        self.reset_data()

    def close(self) -> None:
        """Stop the webhook dispatcher thread (the simulator is unusable for delivery after)."""
        self.webhooks.close()

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change :class:`BcConfig` switches at runtime (identity fields are fixed)."""
        known = {f.name for f in fields(BcConfig)}
        unknown = set(changes) - known
        if unknown:
            raise BcError(400, f"unknown config fields {sorted(unknown)}")
        fixed = set(changes) & _IDENTITY_FIELDS
        if fixed:
            raise BcError(400, f"identity fields cannot change at runtime: {sorted(fixed)}")
        if "retry_schedule_s" in changes:
            changes["retry_schedule_s"] = tuple(int(x) for x in changes["retry_schedule_s"])
        if changes.get("rate_limit_mode", "fixed") not in ("fixed", "sliding"):
            raise BcError(400, "rate_limit_mode must be fixed or sliding")
        with self.state.lock:
            self.config = replace(self.config, **changes)
            if "default_currency" in changes:
                self.store.default_currency = self.config.default_currency
            return asdict(self.config)

    # ----------------------------------------------------------------- helpers

    def _now(self) -> datetime:
        return now_seconds(self.state.clock.time())

    def _base_url(self) -> str:
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        if has_request_context():
            return request.url_root.rstrip("/")
        return "https://api.bigcommerce.com"

    def _render_order(self, order: Order) -> dict[str, Any]:
        return order.render(self._base_url(), self.config.store_hash)

    def _fire(self, events: list[Event]) -> None:
        self.webhooks.fire(events)

    # ----------------------------------------------------------------- public data API

    def seed(
        self,
        customers: int,
        orders: int,
        seed: int = 42,
        payments: bool = True,
        shipments_ratio: float = 0.5,
        refunds_ratio: float = 0.2,
        currencies: Iterable[str] = ("USD",),
        guest_ratio: float = 0.2,
        **options: Any,
    ) -> dict[str, Any]:
        """Deterministic demo data (no webhooks fired); see :func:`seed_store` for ``options``
        (``days``, ``incomplete_ratio``, ``archived_ratio``)."""
        try:
            return seed_store(
                self.store,
                now=self._now(),
                customers=customers,
                orders=orders,
                seed=seed,
                payments=payments,
                shipments_ratio=shipments_ratio,
                refunds_ratio=refunds_ratio,
                currencies=tuple(currencies),
                guest_ratio=guest_ratio,
                **options,
            )
        except ValueError as exc:
            raise BcError(422, str(exc))

    def create_customer(self, **fields_: Any) -> dict[str, Any]:
        """Fires ``store/customer/created``. Fields: email*, first_name, last_name, company,
        phone, customer_group_id, address {address1, city, postal_code, country_code, ...}."""
        with self.state.lock:
            n = self.store.ids.customer + 1
            person = random_person(self._rng, n)
            customer, events = self.store.add_customer(
                now=self._now(),
                email=fields_.get("email") or person["email"],
                first_name=fields_.get("first_name", person["first_name"]),
                last_name=fields_.get("last_name", person["last_name"]),
                company=fields_.get("company", ""),
                phone=fields_.get("phone", person["phone"]),
                customer_group_id=int(fields_.get("customer_group_id", 0)),
                address=fields_.get("address")
                or {
                    "address1": person["street_1"],
                    "city": person["city"],
                    "state_or_province": person["state"],
                    "postal_code": person["zip"],
                    "country_code": person["country_iso2"],
                },
            )
            out = customer.render(include_addresses=True)
            self._fire(events)
        return out

    def update_customer(self, customer_id: int, **fields_: Any) -> dict[str, Any]:
        """Fires ``store/customer/updated``; bumps ``date_modified``."""
        with self.state.lock:
            customer, events = self.store.update_customer(
                int(customer_id), now=self._now(), fields=fields_
            )
            out = customer.render(include_addresses=True)
            self._fire(events)
        return out

    def create_order(self, **fields_: Any) -> dict[str, Any]:
        """Create an order and fire ``store/order/created``; returns the v2 order.

        Fields (all optional): ``customer_id`` (0/absent = guest), ``billing_address`` (merged
        over the customer's or a generated guest's), ``email``, ``lines`` (or ``products``):
        [{sku | product_id, name, quantity, price (ex tax), discount}], ``currency_code``
        (display) and ``default_currency_code`` (transactional), ``status_id`` (default 7),
        ``paid`` (capture the full amount at once: status 11 + transaction event),
        ``tax_rate``, ``shipping_cost`` (ex tax), ``channel_id``, ``payment_method``,
        ``customer_message``, ``staff_notes``.
        """
        known = {
            "customer_id", "billing_address", "email", "lines", "products", "currency_code",
            "default_currency_code", "status_id", "paid", "tax_rate", "shipping_cost",
            "channel_id", "payment_method", "customer_message", "staff_notes",
        }  # fmt: skip
        unknown = set(fields_) - known
        if unknown:
            raise BcError(422, f"unknown order fields {sorted(unknown)}")
        with self.state.lock:
            now = self._now()
            customer_id = int(fields_.get("customer_id") or 0)
            if customer_id:
                billing = self.store.customer(customer_id).billing_address()
            else:
                p = random_person(self._rng, 200000 + self.store.ids.order)
                billing = make_billing_address(
                    first_name=p["first_name"],
                    last_name=p["last_name"],
                    email=p["email"],
                    phone=p["phone"],
                    street_1=p["street_1"],
                    city=p["city"],
                    state=p["state"],
                    zip_code=p["zip"],
                    country_iso2=p["country_iso2"],
                )
            billing.update(fields_.get("billing_address") or {})
            if fields_.get("email"):
                billing["email"] = fields_["email"]
            products = {p["sku"]: p for p in catalog()}
            by_pid = {p["product_id"]: p for p in catalog()}
            lines = []
            for spec in fields_.get("lines") or fields_.get("products") or [{}]:
                base = products.get(spec.get("sku", "")) or by_pid.get(spec.get("product_id", 0))
                if base is None:
                    base = self._rng.choice(catalog()) if not spec else {}
                merged = {"quantity": 1, **base, **spec}
                merged.setdefault("price", "10.00")
                lines.append(merged)
            display = fields_.get("currency_code") or fields_.get("default_currency_code")
            display = display or self.config.default_currency
            transactional = fields_.get("default_currency_code") or display
            tax_rate = Decimal(
                str(fields_.get("tax_rate", TAX_RATES.get(billing["country_iso2"], "0")))
            )
            order, events = self.store.add_order(
                now=now,
                customer_id=customer_id,
                billing_address=billing,
                lines=lines,
                currency_code=display,
                default_currency_code=transactional,
                status_id=int(fields_.get("status_id", 7)),
                tax_rate=tax_rate,
                shipping_cost_ex_tax=q2(fields_.get("shipping_cost", "0")),
                payment_method=fields_.get("payment_method", "Credit Card"),
                channel_id=int(fields_.get("channel_id", 1)),
                customer_message=fields_.get("customer_message", ""),
                staff_notes=fields_.get("staff_notes", ""),
            )
            if fields_.get("paid"):
                _txn, more = self.store.capture(order.id, now=now, amount=None)
                # The order is born paid: one "created", no separate "updated".
                events += [e for e in more if e[0] != "store/order/updated"]
            out = self._render_order(order)
            self._fire(events)
        return out

    def update_order(self, order_id: int, **fields_: Any) -> dict[str, Any]:
        """Bump ``date_modified`` and fire ``store/order/updated`` (+ ``statusUpdated`` when
        ``status_id`` changes). Fields: status_id, customer_message, staff_notes,
        payment_method, channel_id, billing_address."""
        with self.state.lock:
            order, events = self.store.update_order(int(order_id), now=self._now(), fields=fields_)
            out = self._render_order(order)
            self._fire(events)
        return out

    def archive_order(self, order_id: int) -> dict[str, Any]:
        """Archive (``is_deleted``) and fire ``store/order/archived``."""
        with self.state.lock:
            order, events = self.store.archive_order(int(order_id), now=self._now())
            out = self._render_order(order)
            self._fire(events)
        return out

    def capture_payment(
        self, order_id: int, amount: Decimal | float | str | None = None
    ) -> dict[str, Any]:
        """A capture transaction (default: the unpaid remainder); fires
        ``store/order/transaction/created`` and ``store/order/updated`` (+ ``statusUpdated``
        7 -> 11 once fully paid). Returns the v3 transaction."""
        with self.state.lock:
            txn, events = self.store.capture(
                int(order_id), now=self._now(), amount=None if amount is None else q2(amount)
            )
            out = txn.render()
            self._fire(events)
        return out

    def ship_order(
        self,
        order_id: int,
        items: list[dict[str, Any]] | None = None,
        tracking_number: str | None = None,
    ) -> dict[str, Any]:
        """A shipment of ``items`` ([{order_product_id, quantity}], default everything left);
        fires ``store/shipment/created``, ``store/order/updated`` and ``statusUpdated`` (-> 2 or
        3). Returns the v2 shipment."""
        with self.state.lock:
            shipment, events = self.store.ship(
                int(order_id), now=self._now(), items=items, tracking_number=tracking_number
            )
            out = shipment.render()
            self._fire(events)
        return out

    def refund_order(
        self,
        order_id: int,
        amount: Decimal | float | str | None = None,
        items: list[dict[str, Any]] | None = None,
        reason: str = "",
    ) -> dict[str, Any]:
        """A refund of captured funds, by amount (``ORDER`` item) or by ``items``
        ([{order_product_id, quantity}], ``PRODUCT`` items); fires
        ``store/order/refund/created``, ``store/order/updated`` and ``statusUpdated`` (-> 14 or
        4). Returns the v3 refund."""
        with self.state.lock:
            refund, events = self.store.refund(
                int(order_id),
                now=self._now(),
                amount=None if amount is None else q2(amount),
                items=items,
                reason=reason,
            )
            out = refund.render()
            self._fire(events)
        return out

    def deliveries(self) -> list[dict[str, Any]]:
        """Every webhook delivery attempt (outcome success/failed/blocked/dropped)."""
        return self.webhooks.deliveries()

    def flush_webhooks(self, timeout: float = 10, include_retries: bool = False) -> None:
        """Wait until due deliveries are attempted (``include_retries``: until the retry queue
        is empty too). Raises ``TimeoutError``."""
        self.webhooks.flush(timeout, include_retries=include_retries)

    def set_webhook_mode(self, mode: str) -> None:
        """``on``; ``paused`` (events held, delivered on resume); ``off`` (events dropped)."""
        self.webhooks.set_mode(mode)

    def deactivate_hook(self, hook_id: int) -> dict[str, Any]:
        return self.webhooks.deactivate(int(hook_id)).render()

    # ----------------------------------------------------------------- HTTP gate

    def _rate_headers(self, resp: Response, left: int, reset_ms: int) -> None:
        cfg = self.config
        resp.headers["X-Rate-Limit-Time-Window-Ms"] = str(cfg.window_ms)
        resp.headers["X-Rate-Limit-Time-Reset-Ms"] = str(reset_ms)
        resp.headers["X-Rate-Limit-Requests-Quota"] = str(cfg.quota)
        resp.headers["X-Rate-Limit-Requests-Left"] = str(left)

    def _too_many(self, message: str) -> Response:
        if _api_version() == "v2":
            return v2_error(429, message)
        return v3_error(429, message)

    def _injected_429(self, state: SimulatorState) -> Response:
        """429 injected through ``/_sandbox/faults``: with the BC headers (§6)."""
        left, _ = self.limiter.peek(state.clock.time() * 1000, self.config)
        wait_s = max(1, state.faults.retry_after_s)
        resp = self._too_many("You have exceeded your request quota.")
        self._rate_headers(resp, left, wait_s * 1000)
        resp.headers["X-Retry-After"] = str(wait_s)
        return resp

    def _install_gate(self, app: Flask) -> None:
        @app.before_request
        def _gate() -> Response | None:
            match = _API_PATH.match(request.path)
            if match is None:
                return None
            if match.group(1) != self.config.store_hash:
                g.bc_no_rate_headers = True
                raise BcError(404, "The requested resource was not found.")
            cfg = self.config
            if cfg.overload_429_ratio and self._overload_rng.random() < cfg.overload_429_ratio:
                # §6: a 429 without the rate-limit headers = platform overload.
                g.bc_no_rate_headers = True
                return self._too_many("Too Many Requests")
            with self.state.lock:
                account = self.accounts.get(request.headers.get("X-Auth-Token", ""))
            if account is None:
                raise BcError(
                    401,
                    "You are not authorized to access this resource. "
                    "Make sure the X-Auth-Token header is valid for this store.",
                )
            g.bc_account = account
            allowed, left, reset_ms = self.limiter.take(self.state.clock.time() * 1000, cfg)
            g.bc_rate = (left, reset_ms)
            if not allowed:
                resp = self._too_many("You have exceeded your request quota.")
                resp.headers["X-Retry-After"] = str(max(1, math.ceil(reset_ms / 1000)))
                return resp
            return None

        @app.after_request
        def _rate_limit_headers(resp: Response) -> Response:
            if _API_PATH.match(request.path) is None or g.get("bc_no_rate_headers"):
                return resp
            if "X-Rate-Limit-Requests-Quota" in resp.headers:
                return resp  # an injected 429 built its own
            rate = g.get("bc_rate")
            if rate is None:
                rate = self.limiter.peek(self.state.clock.time() * 1000, self.config)
            self._rate_headers(resp, *rate)
            return resp

        @app.errorhandler(BcError)
        def _bc_error(exc: BcError) -> Response:
            return api_error(exc)

        @app.errorhandler(HTTPException)
        def _http_error(exc: HTTPException) -> Response:
            status = exc.code or 500
            if _api_version() is None:
                return _json({"error": exc.description or exc.name}, status)
            if status == 404:
                return api_error(BcError(404, "The requested resource was not found."))
            return api_error(BcError(status, exc.name))

    def _require(self, family: str) -> None:
        """403 when the calling account lacks every scope of ``family`` (§1)."""
        account: ApiAccount = g.bc_account
        if account.scopes is not None and not (account.scopes & SCOPE_FAMILIES[family]):
            raise BcError(
                403, "You don't have a required scope to access the endpoint", {"scope": family}
            )

    # ----------------------------------------------------------------- API routes

    def _query_orders(self, args: Any) -> list[Order]:
        """§2 filters and sort over ``/v2/orders`` (and ``/count``)."""
        min_id, max_id = _int_arg(args, "min_id"), _int_arg(args, "max_id")
        customer_id = _int_arg(args, "customer_id")
        status_id = _int_arg(args, "status_id")
        channel_id = _int_arg(args, "channel_id")
        email = (args.get("email") or "").lower() or None
        min_c, max_c = _date_arg(args, "min_date_created"), _date_arg(args, "max_date_created")
        min_m, max_m = _date_arg(args, "min_date_modified"), _date_arg(args, "max_date_modified")
        is_deleted = _bool_arg(args, "is_deleted")
        sort_field, desc = _sort_spec(
            args.get("sort"),
            ("id", "customer_id", "date_created", "date_modified", "status_id", "channel_id"),
            "id:asc",
        )
        out = []
        for o in self.store.orders.values():
            # Archived and Incomplete (0) orders are hidden unless asked for (§2).
            if o.is_deleted != bool(is_deleted):
                continue
            if status_id is None and o.status_id == 0:
                continue
            if status_id is not None and o.status_id != status_id:
                continue
            if (min_id is not None and o.id < min_id) or (max_id is not None and o.id > max_id):
                continue
            if customer_id is not None and o.customer_id != customer_id:
                continue
            if channel_id is not None and o.channel_id != channel_id:
                continue
            if email is not None and str(o.billing_address.get("email", "")).lower() != email:
                continue
            if (min_c and o.date_created < min_c) or (max_c and o.date_created > max_c):
                continue
            if (min_m and o.date_modified < min_m) or (max_m and o.date_modified > max_m):
                continue
            out.append(o)
        if sort_field == "id":
            # Orders are stored in id order already.
            return out[::-1] if desc else out
        out.sort(key=lambda o: (getattr(o, sort_field), o.id), reverse=desc)
        return out

    def _api_blueprint(self) -> Blueprint:
        api = Blueprint("bc_api", __name__, url_prefix="/stores/<store_hash>")
        store = self.store
        lock = self.state.lock

        @api.url_value_preprocessor
        def _drop_hash(_endpoint: str | None, values: dict[str, Any] | None) -> None:
            if values is not None:
                values.pop("store_hash", None)

        # ---- v2 orders (§2)

        @api.get("/v2/orders")
        def v2_orders() -> Response:
            self._require("orders")
            page, limit = _v2_page(request.args)
            with lock:
                orders = self._query_orders(request.args)
                chunk = orders[(page - 1) * limit : page * limit]
                return _v2_list([self._render_order(o) for o in chunk])

        @api.get("/v2/orders/count")
        def v2_orders_count() -> Response:
            self._require("orders")
            with lock:
                orders = self._query_orders(request.args)
            per_status: dict[int, int] = {}
            for o in orders:
                per_status[o.status_id] = per_status.get(o.status_id, 0) + 1
            statuses = [
                {
                    "id": sid,
                    "name": name,
                    "system_label": name,
                    "custom_label": name,
                    "system_description": name,
                    "count": per_status.get(sid, 0),
                    "sort_order": sid,
                }
                for sid, name in ORDER_STATUSES.items()
            ]
            return _json({"count": len(orders), "statuses": statuses})

        @api.get("/v2/order_statuses")
        def v2_order_statuses() -> Response:
            self._require("orders")
            return _json(
                [
                    {
                        "id": sid,
                        "name": name,
                        "system_label": name,
                        "custom_label": name,
                        "system_description": name,
                        "order": sid,
                    }
                    for sid, name in ORDER_STATUSES.items()
                ]
            )

        @api.get("/v2/orders/<int:order_id>")
        def v2_order(order_id: int) -> Response:
            self._require("orders")
            with lock:
                return _json(self._render_order(store.order(order_id)))

        @api.get("/v2/orders/<int:order_id>/products")
        def v2_order_products(order_id: int) -> Response:
            self._require("orders")
            page, limit = _v2_page(request.args)
            with lock:
                lines = store.order(order_id).lines[(page - 1) * limit : page * limit]
                return _v2_list([ln.render() for ln in lines])

        @api.get("/v2/orders/<int:order_id>/products/<int:line_id>")
        def v2_order_product(order_id: int, line_id: int) -> Response:
            self._require("orders")
            with lock:
                for ln in store.order(order_id).lines:
                    if ln.id == line_id:
                        return _json(ln.render())
            raise BcError(404, "The requested resource was not found.")

        @api.get("/v2/orders/<int:order_id>/shipping_addresses")
        def v2_shipping_addresses(order_id: int) -> Response:
            self._require("orders")
            page, limit = _v2_page(request.args)
            with lock:
                order = store.order(order_id)
                rows = [order.render_shipping_address(self._base_url(), self.config.store_hash)]
                return _v2_list(rows[(page - 1) * limit : page * limit])

        @api.get("/v2/orders/<int:order_id>/shipments")
        def v2_shipments(order_id: int) -> Response:
            self._require("orders")
            page, limit = _v2_page(request.args)
            with lock:
                shipments = store.order(order_id).shipments[(page - 1) * limit : page * limit]
                return _v2_list([s.render() for s in shipments])

        @api.get("/v2/orders/<int:order_id>/shipments/count")
        def v2_shipments_count(order_id: int) -> Response:
            self._require("orders")
            with lock:
                return _json({"count": len(store.order(order_id).shipments)})

        @api.get("/v2/orders/<int:order_id>/shipments/<int:shipment_id>")
        def v2_shipment(order_id: int, shipment_id: int) -> Response:
            self._require("orders")
            with lock:
                for s in store.order(order_id).shipments:
                    if s.id == shipment_id:
                        return _json(s.render())
            raise BcError(404, "The requested resource was not found.")

        @api.get("/v2/orders/<int:order_id>/coupons")
        @api.get("/v2/orders/<int:order_id>/fees")
        def v2_empty_collection(order_id: int) -> Response:
            # Sandbox orders carry no coupons or fees: an empty v2 list is 204 (§2).
            self._require("orders")
            with lock:
                store.order(order_id)
            return _v2_list([])

        @api.get("/v2/orders/<int:order_id>/taxes")
        def v2_taxes(order_id: int) -> Response:
            self._require("orders")
            with lock:
                order = store.order(order_id)
                rate = money(order.tax_rate * 100)
                rows = [
                    {
                        "id": ln.id,
                        "order_id": order.id,
                        "order_address_id": order.order_address_id,
                        "tax_rate_id": 1,
                        "tax_class_id": 0,
                        "name": "Tax",
                        "class": "Default Tax Class",
                        "rate": rate,
                        "priority": 0,
                        "priority_amount": money(ln.total_tax - ln.discount_tax),
                        "line_amount": money(ln.total_tax - ln.discount_tax),
                        "order_product_id": str(ln.id),
                        "line_item_type": "item",
                    }
                    for ln in order.lines
                ]
                ship_tax = order.totals()["shipping_cost_tax"]
                if ship_tax:
                    rows.append(
                        {
                            **rows[0],
                            "id": 0,
                            "class": "Shipping",
                            "priority_amount": money(ship_tax),
                            "line_amount": money(ship_tax),
                            "order_product_id": None,
                            "line_item_type": "shipping",
                        }
                    )
                return _v2_list(rows)

        # ---- v3 transactions and refunds (§3)

        @api.get("/v3/orders/<int:order_id>/transactions")
        def v3_transactions(order_id: int) -> Response:
            self._require("transactions")
            with lock:
                txns = [t.render() for t in store.order(order_id).transactions]
            return _json({"data": txns, "meta": {}})

        @api.get("/v3/orders/<int:order_id>/payment_actions/refunds")
        def v3_order_refunds(order_id: int) -> Response:
            self._require("orders")
            page, limit = _v3_page(request.args)
            with lock:
                rows = store.order(order_id).refunds[(page - 1) * limit : page * limit]
                refunds = [r.render() for r in rows]
            return _json({"data": refunds, "meta": {}})

        @api.get("/v3/orders/payment_actions/refunds")
        def v3_refunds() -> Response:
            self._require("orders")
            args = request.args
            order_ids = _csv_ints(args, "order_id:in")
            ids = _csv_ints(args, "id:in")
            try:
                cmin = parse_date(args["created:min"]) if args.get("created:min") else None
                cmax = parse_date(args["created:max"]) if args.get("created:max") else None
            except ValueError:
                raise BcError(422, "Input is invalid.", {"created": "must be RFC 3339"})
            page, limit = _v3_page(args)
            with lock:
                refunds = sorted(store.all_refunds(), key=lambda r: r.id)
                refunds = [
                    r
                    for r in refunds
                    if (order_ids is None or r.order_id in order_ids)
                    and (ids is None or r.id in ids)
                    and (cmin is None or r.created >= cmin)
                    and (cmax is None or r.created <= cmax)
                ]
                chunk = [r.render() for r in refunds[(page - 1) * limit : page * limit]]
            meta = {"pagination": _pagination(len(refunds), page, limit, args)}
            return _json({"data": chunk, "meta": meta})

        # ---- v3 customers (§4)

        @api.get("/v3/customers")
        def v3_customers() -> Response:
            self._require("customers")
            args = request.args
            ids = _csv_ints(args, "id:in")
            emails = {e.strip().lower() for e in args.get("email:in", "").split(",") if e.strip()}
            names = [n.strip().lower() for n in args.get("name:like", "").split(",") if n.strip()]
            bounds: dict[str, datetime | None] = {}
            for key in (
                "date_created", "date_created:min", "date_created:max",
                "date_modified", "date_modified:min", "date_modified:max",
            ):  # fmt: skip
                try:
                    bounds[key] = parse_date(args[key]) if args.get(key) else None
                except ValueError:
                    raise BcError(422, "Input is invalid.", {key: "invalid date"})
            includes = {i.strip() for i in args.get("include", "").split(",")}
            sort_field, desc = _sort_spec(
                args.get("sort"), ("id", "date_created", "date_modified", "last_name"), "id:asc"
            )
            page, limit = _v3_page(args)

            def keep(c: Any) -> bool:
                if ids is not None and c.id not in ids:
                    return False
                if emails and c.email.lower() not in emails:
                    return False
                full = f"{c.first_name} {c.last_name}".lower()
                if names and not any(n in full for n in names):
                    return False
                for fld in ("date_created", "date_modified"):
                    value = getattr(c, fld)
                    exact, lo, hi = bounds[fld], bounds[fld + ":min"], bounds[fld + ":max"]
                    if exact is not None and value != exact:
                        return False
                    if (lo is not None and value < lo) or (hi is not None and value > hi):
                        return False
                return True

            with lock:
                rows = [c for c in store.customers.values() if keep(c)]
                rows.sort(key=lambda c: (getattr(c, sort_field), c.id), reverse=desc)
                chunk = [
                    c.render(include_addresses="addresses" in includes)
                    for c in rows[(page - 1) * limit : page * limit]
                ]
            meta = {"pagination": _pagination(len(rows), page, limit, args)}
            return _json({"data": chunk, "meta": meta})

        # ---- v3 hooks (§5)

        def body_object() -> dict[str, Any]:
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                raise BcError(400, "Input is invalid.")
            return body

        @api.post("/v3/hooks")
        def create_hook() -> Response:
            hook = self.webhooks.create(g.bc_account.client_id, body_object())
            return _json({"data": hook.render(), "meta": {}})

        @api.get("/v3/hooks")
        def list_hooks() -> Response:
            args = request.args
            page, limit = _v3_page(args)
            hooks = self.webhooks.find(
                g.bc_account.client_id,
                is_active=_bool_arg(args, "is_active"),
                scope=args.get("scope") or None,
                destination=args.get("destination") or None,
            )
            chunk = [h.render() for h in hooks[(page - 1) * limit : page * limit]]
            meta = {"pagination": _pagination(len(hooks), page, limit, args)}
            return _json({"data": chunk, "meta": meta})

        @api.get("/v3/hooks/admin")
        def hooks_admin() -> Response:
            client_id = g.bc_account.client_id
            hooks: list[Hook] = self.webhooks.find(
                client_id, is_active=_bool_arg(request.args, "is_active")
            )
            data = {
                "emails": list(self.webhooks.emails),
                "hooks_list": [{**h.render(), "status": h.status} for h in hooks],
                "blocked_domains": self.webhooks.blocked_domains(client_id),
            }
            return _json({"data": data, "meta": {}})

        @api.put("/v3/hooks/admin")
        def hooks_admin_emails() -> Response:
            emails = body_object().get("emails")
            if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
                raise BcError(422, "JSON data is missing or invalid", {"emails": "invalid"})
            with lock:
                self.webhooks.emails = list(emails)
            return Response(status=204)

        @api.get("/v3/hooks/<int:hook_id>")
        def get_hook(hook_id: int) -> Response:
            hook = self.webhooks.get(g.bc_account.client_id, hook_id)
            return _json({"data": hook.render(), "meta": {}})

        @api.put("/v3/hooks/<int:hook_id>")
        def put_hook(hook_id: int) -> Response:
            hook = self.webhooks.update(g.bc_account.client_id, hook_id, body_object())
            return _json({"data": hook.render(), "meta": {}})

        @api.delete("/v3/hooks/<int:hook_id>")
        def delete_hook(hook_id: int) -> Response:
            # The webhooks spec returns the deleted hook with 200.
            hook = self.webhooks.delete(g.bc_account.client_id, hook_id)
            return _json({"data": hook.render(), "meta": {}})

        return api

    # ----------------------------------------------------------------- admin routes

    def _admin_blueprint(self) -> Blueprint:
        admin = Blueprint("bc_admin", __name__, url_prefix=f"{ADMIN_PREFIX}/bc")
        lock = self.state.lock

        def body() -> dict[str, Any]:
            data = request.get_json(silent=True)
            if data is None:
                return {}
            if not isinstance(data, dict):
                raise BcError(400, "a JSON object is required")
            return data

        def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except (TypeError, ValueError, ArithmeticError) as exc:
                raise BcError(400, f"bad arguments: {exc}")

        @admin.get("/state")
        def summary() -> Response:
            with lock:
                orders = list(self.store.orders.values())
                out = {
                    "store_hash": self.config.store_hash,
                    "customers": len(self.store.customers),
                    "orders": len(orders),
                    "shipments": sum(len(o.shipments) for o in orders),
                    "transactions": sum(len(o.transactions) for o in orders),
                    "refunds": sum(len(o.refunds) for o in orders),
                    "hooks": len(self.webhooks.hooks),
                    "accounts": len(self.accounts),
                    "webhooks": self.webhooks.status(),
                }
            return _json(out)

        @admin.post("/seed")
        def seed() -> Response:
            return _json(call(self.seed, **body()))

        @admin.get("/orders")
        def orders() -> Response:
            with lock:
                rows = [
                    self._render_order(o)
                    for o in sorted(self.store.orders.values(), key=lambda o: o.id)
                ]
            return _json({"count": len(rows), "orders": rows})

        @admin.post("/orders")
        def create_order() -> Response:
            return _json(call(self.create_order, **body()), 201)

        @admin.patch("/orders/<int:order_id>")
        def update_order(order_id: int) -> Response:
            return _json(call(self.update_order, order_id, **body()))

        @admin.post("/orders/<int:order_id>/capture")
        def capture(order_id: int) -> Response:
            return _json(call(self.capture_payment, order_id, body().get("amount")), 201)

        @admin.post("/orders/<int:order_id>/ship")
        def ship(order_id: int) -> Response:
            data = body()
            out = call(self.ship_order, order_id, data.get("items"), data.get("tracking_number"))
            return _json(out, 201)

        @admin.post("/orders/<int:order_id>/refund")
        def refund(order_id: int) -> Response:
            data = body()
            out = call(
                self.refund_order,
                order_id,
                data.get("amount"),
                data.get("items"),
                data.get("reason", ""),
            )
            return _json(out, 201)

        @admin.post("/orders/<int:order_id>/archive")
        def archive(order_id: int) -> Response:
            return _json(call(self.archive_order, order_id))

        @admin.get("/customers")
        def customers() -> Response:
            with lock:
                rows = [
                    c.render(include_addresses=True)
                    for c in sorted(self.store.customers.values(), key=lambda c: c.id)
                ]
            return _json({"count": len(rows), "customers": rows})

        @admin.post("/customers")
        def create_customer() -> Response:
            return _json(call(self.create_customer, **body()), 201)

        @admin.patch("/customers/<int:customer_id>")
        def update_customer(customer_id: int) -> Response:
            return _json(call(self.update_customer, customer_id, **body()))

        @admin.get("/accounts")
        def accounts() -> Response:
            with lock:
                rows = [a.public() for a in self.accounts.values()]
            return _json({"accounts": rows})

        @admin.post("/accounts")
        def create_account() -> Response:
            return _json(call(self.create_account, **body()), 201)

        @admin.delete("/accounts/<client_id>")
        def delete_account(client_id: str) -> Response:
            return _json(self.delete_account(client_id))

        @admin.get("/hooks")
        def hooks() -> Response:
            rows = [{**h.render(), "status": h.status} for h in self.webhooks.find(None)]
            return _json({"hooks": rows, "blocked_domains": self.webhooks.blocked_domains(None)})

        @admin.post("/hooks/<int:hook_id>/deactivate")
        def deactivate(hook_id: int) -> Response:
            return _json(self.deactivate_hook(hook_id))

        @admin.get("/deliveries")
        def deliveries() -> Response:
            rows = self.deliveries()
            args = request.args
            for key in ("hook_id", "outcome", "scope", "webhook_id"):
                if args.get(key):
                    rows = [r for r in rows if str(r[key]) == args[key]]
            return _json({"count": len(rows), "deliveries": rows})

        @admin.delete("/deliveries")
        def clear_deliveries() -> Response:
            self.webhooks.clear_deliveries()
            return _json({"count": 0})

        @admin.get("/webhooks")
        def webhook_status() -> Response:
            return _json(self.webhooks.status())

        @admin.post("/webhooks")
        def webhook_mode() -> Response:
            mode = body().get("mode")
            self.set_webhook_mode(str(mode))
            return _json(self.webhooks.status())

        @admin.post("/webhooks/flush")
        def flush() -> Response:
            data = body()
            try:
                self.flush_webhooks(
                    float(data.get("timeout", 10)), bool(data.get("include_retries", False))
                )
            except TimeoutError as exc:
                return _json({"error": str(exc), **self.webhooks.status()}, 504)
            return _json(self.webhooks.status())

        @admin.post("/domains/block")
        def block_domain() -> Response:
            data = body()
            destination = str(data.get("destination", ""))
            domain = domain_of(destination) if "://" in destination else destination
            if not domain:
                raise BcError(422, "destination is required")
            self.webhooks.block_domain(
                str(data.get("client_id", self.config.client_id)),
                domain,
                float(data.get("seconds", self.config.scaled(self.config.block_duration_s))),
                str(data.get("reason", "Blocked by sandbox admin")),
            )
            return _json({"blocked_domains": self.webhooks.blocked_domains(None)})

        @admin.delete("/domains")
        def unblock() -> Response:
            self.webhooks.unblock_all()
            return _json({"blocked_domains": []})

        @admin.get("/config")
        def get_config() -> Response:
            return _json(asdict(self.config))

        @admin.post("/config")
        def set_config() -> Response:
            return _json(self.configure(**body()))

        return admin
