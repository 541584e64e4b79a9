"""Admin routes of the BigCommerce simulator under ``/_sandbox/bc/`` (see
``docs/sandbox.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, request

from sandbox.bigcommerce.hooks import domain_of
from sandbox.bigcommerce.model import BcConfig, BcError
from sandbox.bigcommerce.responses import _json
from sandbox.bigcommerce.store import BcStore
from sandbox.bigcommerce.webhooks import BcWebhooks
from sandbox.common import ADMIN_PREFIX, SimulatorState


class BcAdmin:
    """The ``/_sandbox/bc/`` blueprint; mixed into ``BcSimulator``."""

    config: BcConfig
    state: SimulatorState
    store: BcStore
    webhooks: BcWebhooks

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
