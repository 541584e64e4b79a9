"""Admin routes of the WooCommerce simulator (``/_sandbox/woo/...``): seed, inspect and mutate
data, manage users and keys, switch config and the moving-records mode, watch webhook deliveries."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request

from sandbox.woocommerce.core import DEFAULT_KEY_OWNER, WooConfig
from sandbox.woocommerce.errors import WooError
from sandbox.woocommerce.generator import PRODUCTS
from sandbox.woocommerce.webhooks import Delivery, php_json

if TYPE_CHECKING:
    from sandbox.woocommerce.simulator import WooSimulator


def admin_blueprint(sim: WooSimulator) -> Blueprint:
    """Routes under ``/_sandbox/woo/`` (documented in ``docs/sandbox.md``)."""
    bp = Blueprint("woo_admin", __name__, url_prefix="/_sandbox/woo")

    @bp.after_request
    def _invalidate(resp: Response) -> Response:
        if request.method != "GET":
            sim.state.bump()  # admin writes may change orders: drop the sorted-order cache
        return resp

    def ok(data: Any, status: int = 200) -> Response:
        return Response(
            php_json(data).replace("\\/", "/"), status=status, content_type="application/json"
        )

    def fail(message: str, status: int = 400) -> Response:
        return ok({"error": message}, status)

    def body() -> dict[str, Any]:
        data = request.get_json(force=True, silent=True)
        return data if isinstance(data, dict) else {}

    @bp.get("/config")
    def get_config() -> Response:
        return ok(asdict(sim.config))

    @bp.post("/config")
    def set_config() -> Response:
        data = body()
        unknown = set(data) - {f.name for f in fields(WooConfig)}
        if unknown:
            return fail(f"unknown config fields: {sorted(unknown)}")
        for k, v in data.items():
            current = getattr(sim.config, k)
            if isinstance(current, bool):
                v = v if isinstance(v, bool) else str(v).lower() in ("1", "true", "yes")
            setattr(sim.config, k, type(current)(v))
        return ok(asdict(sim.config))

    @bp.post("/seed")
    def seed() -> Response:
        data = body()
        try:
            summary = sim.seed(
                customers=int(data.get("customers", 10)),
                orders=int(data.get("orders", 50)),
                seed=int(data.get("seed", 42)),
                guest_ratio=float(data.get("guest_ratio", 0.2)),
                invalid=int(data.get("invalid", 0)),
                currencies=tuple(data.get("currencies", ("EUR",))),
                silent=bool(data.get("silent", False)),
                days=int(data.get("days", 90)),
                bulk_ratio=float(data.get("bulk_ratio", 0.0)),
            )
        except (TypeError, ValueError) as exc:
            return fail(str(exc))
        return ok(summary)

    @bp.get("/orders")
    def list_orders() -> Response:
        if request.args.get("summary"):
            with sim.state.lock:
                rows = [
                    {
                        "id": o.id,
                        "status": o.status,
                        "customer_id": o.customer_id,
                        "date_modified_gmt": o.modified.strftime("%Y-%m-%dT%H:%M:%S"),
                    }
                    for o in sorted(sim.state.orders.values(), key=lambda o: o.id)
                ]
            return ok({"count": len(rows), "orders": rows})
        data = sim.orders()
        return ok({"count": len(data), "orders": data})

    @bp.get("/orders/<int:order_id>")
    def get_order(order_id: int) -> Response:
        with sim.state.lock:
            order = sim.state.orders.get(order_id)
            if order is None:
                return fail("no such order", 404)
            return ok(sim._order_payload(order))

    @bp.post("/orders/<int:order_id>/mutate")
    def mutate_order(order_id: int) -> Response:
        data = body()
        bump = bool(data.pop("bump_modified", True))
        fire = bool(data.pop("fire_webhooks", True))
        try:
            return ok(sim.mutate_order(order_id, bump_modified=bump, fire_webhooks=fire, **data))
        except KeyError:
            return fail("no such order", 404)
        except ValueError as exc:
            return fail(str(exc))

    @bp.post("/orders/<int:order_id>/refunds")
    def refund_order(order_id: int) -> Response:
        data = body()
        try:
            return ok(
                sim.add_refund(order_id, data.get("amount", "0"), str(data.get("reason", ""))),
                201,
            )
        except KeyError:
            return fail("no such order", 404)
        except (ValueError, ArithmeticError, WooError) as exc:
            return fail(str(exc))

    @bp.delete("/orders/<int:order_id>")
    def delete_order(order_id: int) -> Response:
        try:
            sim.delete_order(order_id, force=request.args.get("force") in ("1", "true"))
        except KeyError:
            return fail("no such order", 404)
        return ok({"deleted": order_id})

    @bp.get("/customers")
    def list_customers() -> Response:
        data = sim.customers()
        return ok({"count": len(data), "customers": data})

    @bp.post("/customers/<int:customer_id>/mutate")
    def mutate_customer(customer_id: int) -> Response:
        data = body()
        fire = bool(data.pop("fire_webhooks", True))
        try:
            return ok(sim.mutate_customer(customer_id, fire_webhooks=fire, **data))
        except KeyError:
            return fail("no such customer", 404)
        except ValueError as exc:
            return fail(str(exc))

    @bp.get("/users")
    def list_users() -> Response:
        with sim.state.lock:
            rows = [
                {"id": u.id, "login": u.username, "email": u.email, "role": u.role}
                for u in sorted(sim.state.users.values(), key=lambda u: u.id)
                if u.role != "customer" or request.args.get("all")
            ]
        return ok({"count": len(rows), "users": rows})

    @bp.post("/users")
    def add_user() -> Response:
        data = body()
        try:
            u = sim.add_user(
                str(data["login"]), str(data.get("role", "administrator")), data.get("email")
            )
        except (KeyError, ValueError) as exc:
            return fail(f"bad user: {exc}")
        return ok({"id": u.id, "login": u.username, "role": u.role}, 201)

    @bp.delete("/users/<login>")
    def delete_user(login: str) -> Response:
        try:
            sim.delete_user(login)
        except KeyError:
            return fail("no such user", 404)
        return ok({"deleted": login})

    @bp.post("/users/<login>/role")
    def set_role(login: str) -> Response:
        try:
            sim.set_user_role(login, str(body().get("role", "customer")))
        except KeyError:
            return fail("no such user", 404)
        return ok({"login": login, "role": sim.state.user_by_login(login).role})  # type: ignore[union-attr]

    @bp.get("/keys")
    def list_keys() -> Response:
        with sim.state.lock:
            rows = [
                {
                    "key_id": k.key_id,
                    "consumer_key": k.consumer_key,
                    "truncated_key": k.consumer_key[-7:],
                    "permissions": k.permissions,
                    "user_id": k.user_id,
                    "user": sim.state.users[k.user_id].username
                    if k.user_id in sim.state.users
                    else None,
                    "last_access": k.last_access.isoformat() if k.last_access else None,
                }
                for k in sim.state.keys.values()
            ]
        return ok({"count": len(rows), "keys": rows})

    @bp.post("/keys")
    def add_key() -> Response:
        data = body()
        try:
            sim.add_key(
                str(data["consumer_key"]),
                str(data["consumer_secret"]),
                str(data.get("permissions", "read_write")),
                str(data.get("user", DEFAULT_KEY_OWNER)),
            )
        except (KeyError, ValueError) as exc:
            return fail(f"bad key: {exc}")
        return ok({"consumer_key": data["consumer_key"]}, 201)

    @bp.delete("/keys/<consumer_key>")
    def revoke_key(consumer_key: str) -> Response:
        if not sim.revoke_key(consumer_key):
            return fail("no such key", 404)
        return ok({"revoked": consumer_key})

    @bp.get("/mutating")
    def get_mutating() -> Response:
        with sim.state.lock:
            return ok(sim._mutating_status())

    @bp.post("/mutating")
    def set_mutating() -> Response:
        data = body()
        try:
            return ok(
                sim.set_mutating(
                    int(data.get("every_n_requests", 1)),
                    int(data.get("count", 1)),
                    limit=None if data.get("limit") is None else int(data["limit"]),
                    pick=str(data.get("pick", "random")),
                    seed=int(data.get("seed", 0)),
                    silent=bool(data.get("silent", False)),
                )
            )
        except (TypeError, ValueError) as exc:
            return fail(str(exc))

    @bp.delete("/mutating")
    def stop_mutating() -> Response:
        return ok(sim.set_mutating(0))

    @bp.get("/products")
    def list_products() -> Response:
        return ok({"count": len(PRODUCTS), "products": sim.products()})

    @bp.get("/webhooks")
    def list_webhooks() -> Response:
        data = sim.webhooks()
        return ok({"count": len(data), "webhooks": data})

    @bp.get("/deliveries")
    def list_deliveries() -> Response:
        rows: list[Delivery] = sim.dispatcher.deliveries()
        if request.args.get("webhook_id"):
            rows = [d for d in rows if d.webhook_id == int(request.args["webhook_id"])]
        if request.args.get("kind"):
            rows = [d for d in rows if d.kind == request.args["kind"]]
        if request.args.get("topic"):
            rows = [d for d in rows if d.topic == request.args["topic"]]
        return ok(
            {
                "count": len(rows),
                "pending": sim.dispatcher.pending,
                "deliveries": [d.as_dict() for d in rows],
            }
        )

    @bp.delete("/deliveries")
    def clear_deliveries() -> Response:
        sim.dispatcher.clear()
        return ok({"count": 0})

    @bp.post("/deliveries/flush")
    def flush() -> Response:
        timeout = float(body().get("timeout_s", 10))
        done = sim.flush_webhooks(timeout)
        return ok({"flushed": done, "pending": sim.dispatcher.pending}, 200 if done else 504)

    return bp
