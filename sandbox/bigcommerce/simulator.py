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

The HTTP side is mixed in by concern: ``gate`` (auth, scopes, rate limits), ``api`` (v2/v3
routes) and ``admin``; ``responses`` and ``ratelimit`` hold their helpers.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import asdict, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import has_request_context, request

from sandbox.bigcommerce.admin import BcAdmin
from sandbox.bigcommerce.api import ApiRoutes
from sandbox.bigcommerce.customers import make_billing_address
from sandbox.bigcommerce.gate import HttpGate
from sandbox.bigcommerce.hooks import ApiAccount
from sandbox.bigcommerce.model import (
    DEFAULT_ACCESS_TOKEN,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_STORE_HASH,
    DEFAULT_STORE_ID,
    TAX_RATES,
    BcConfig,
    BcError,
    Event,
    q2,
)
from sandbox.bigcommerce.orders import Order
from sandbox.bigcommerce.ratelimit import RateLimiter
from sandbox.bigcommerce.seed import catalog, random_person, seed_store
from sandbox.bigcommerce.store import BcStore, now_seconds
from sandbox.bigcommerce.webhooks import BcWebhooks
from sandbox.common import SimulatorState, make_app

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


_IDENTITY_FIELDS = {"store_hash", "store_id", "access_token", "client_id", "client_secret"}


# --------------------------------------------------------------------------- rate limits (§6)


# --------------------------------------------------------------------------- the simulator


class BcSimulator(HttpGate, ApiRoutes, BcAdmin):
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
        [{sku | product_id, name, quantity, price (ex tax), discount, type (physical | digital)}],
        ``currency_code``
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
