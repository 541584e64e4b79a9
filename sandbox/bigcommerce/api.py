"""API routes of the BigCommerce simulator: ``/stores/{store_hash}/v2`` orders,
products and shipments and ``/v3`` transactions, refunds, customers and hooks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, g, request

from sandbox.bigcommerce.consignments import parse_includes, render_with_includes
from sandbox.bigcommerce.hooks import Hook
from sandbox.bigcommerce.model import ORDER_STATUSES, BcConfig, BcError, money, parse_date
from sandbox.bigcommerce.orders import Order
from sandbox.bigcommerce.queries import query_orders
from sandbox.bigcommerce.responses import (
    _bool_arg,
    _csv_ints,
    _json,
    _pagination,
    _sort_spec,
    _v2_list,
    _v2_page,
    _v3_page,
)
from sandbox.bigcommerce.store import BcStore
from sandbox.bigcommerce.webhooks import BcWebhooks
from sandbox.common import SimulatorState


class ApiRoutes:
    """The ``/stores/<hash>/v2|v3`` blueprint; mixed into ``BcSimulator``."""

    config: BcConfig
    state: SimulatorState
    store: BcStore
    webhooks: BcWebhooks

    # ----------------------------------------------------------------- API routes

    def _api_order(self, order: Order) -> dict[str, Any]:
        """The v2 order with the request's ``include`` / ``consignment_structure``."""
        base = f"{self._base_url()}/stores/{self.config.store_hash}/v2"
        return render_with_includes(order, order.render(self._base_url(), self.config.store_hash),
                                    base, parse_includes(request.args))

    def _query_orders(self, args: Any) -> list[Order]:
        return query_orders(self.store.orders.values(), args)

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
                return _v2_list([self._api_order(o) for o in chunk])

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
                return _json(self._api_order(store.order(order_id)))

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
                rows = rows if order.ships else []  # a digital-only order ships nothing
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

        @api.get("/v2/orders/<int:order_id>/fees")
        def v2_fees(order_id: int) -> Response:
            self._require("orders")
            with lock:
                return _v2_list(store.order(order_id).render_fees())

        @api.get("/v2/orders/<int:order_id>/coupons")
        def v2_empty_collection(order_id: int) -> Response:
            # Sandbox orders carry no coupons: an empty v2 list is 204 (§2).
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
