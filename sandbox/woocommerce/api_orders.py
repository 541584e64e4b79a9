"""``wc/v3`` order and refund handlers of the WooCommerce simulator."""

from __future__ import annotations

import copy
import secrets
import string

from flask import Response

from sandbox.woocommerce.bodies import _as_bool
from sandbox.woocommerce.context import _Ctx
from sandbox.woocommerce.core import WooConfig
from sandbox.woocommerce.errors import WooError
from sandbox.woocommerce.models import BILLING_FIELDS, SHIPPING_FIELDS, Order, empty_address
from sandbox.woocommerce.query import (
    Params,
    filter_orders,
    paginate,
    parse_order_query,
    sort_orders,
    wanted_statuses,
)
from sandbox.woocommerce.render import render_refund
from sandbox.woocommerce.store import WooState


class OrderRoutes:
    """``/orders`` and ``/orders/<id>/refunds``; mixed into ``WooApi``."""

    config: WooConfig
    state: WooState

    # ================================================================== orders

    def _orders_list(self, ctx: _Ctx) -> Response:
        q = parse_order_query(ctx.args, self._offset())
        self._require(ctx, "list")
        with self.state.lock:
            key = (wanted_statuses(q), q.orderby, q.order)
            base = self.state.sort_cache.get(key)
            if base is None:
                base = self.state.sort_cache[key] = sort_orders(self.state.orders.values(), q)
            rows = filter_orders(base, q)
            page = paginate(rows, q.per_page, q.page, q.offset)
            items = [self._order_payload(o, ctx.host, q.dp) for o in page.items]
        return self._paged(ctx, items, page.total, page.total_pages, q.page)

    def _dp(self, ctx: _Ctx) -> int:
        p = Params(ctx.args)
        dp = p.integer("dp", 2, 0, 10)
        p.check()
        return 2 if dp is None else dp

    def _order_or_error(self, order_id: int, status: int) -> Order:
        order = self.state.orders.get(order_id)
        if order is None:
            raise WooError(status, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return order

    def _order_get(self, ctx: _Ctx, id: int) -> Response:
        dp = self._dp(ctx)
        with self.state.lock:
            # WC_REST_CRUD_Controller checks rights only for an existing object: 404 first.
            order = self._order_or_error(id, 404)
            self._require(ctx, "view")
            return self._json(self._order_payload(order, ctx.host, dp))

    def _order_create(self, ctx: _Ctx) -> Response:
        self._require(ctx, "create")
        body = ctx.body
        if body.get("id"):
            raise WooError(
                400, "woocommerce_rest_shop_order_exists", "Cannot create existing shop_order."
            )
        with self.state.lock:
            now = self.state.now()
            order = Order(
                id=0,
                status="pending",
                currency=self.config.currency,
                created=now,
                modified=now,
                order_key="wc_order_"
                + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(13)),
                customer_id=0,
                billing=empty_address(BILLING_FIELDS),
                shipping=empty_address(SHIPPING_FIELDS),
                prices_include_tax=self.config.prices_include_tax,
                created_via="rest-api",
            )
            self._apply_order_body(order, body, creating=True)
            order.id = self.state.post_id()
            order.tax_line_id = self.state.item_id()
            self.state.orders[order.id] = order
            self._fire("order.created", order.id, lambda: self._order_payload(order))
            payload = self._order_payload(order, ctx.host)
        return self._json(
            payload, 201, headers={"Location": f"{ctx.host}/wp-json/wc/v3/orders/{order.id}"}
        )

    def _order_update(self, ctx: _Ctx, id: int) -> Response:
        with self.state.lock:
            order = self.state.orders.get(id)
            if order is not None:
                self._require(ctx, "edit")
            current = self._order_or_error(id, 400)  # update_item answers 400, not 404
            was_trash = current.status == "trash"
            order = copy.deepcopy(current)  # all or nothing
            self._apply_order_body(order, ctx.body, creating=False)
            self.state.orders[order.id] = order
            order.modified = self.state.now()
            if was_trash and order.status != "trash":
                self._fire("order.restored", order.id, lambda: self._order_payload(order))
            self._fire("order.updated", order.id, lambda: self._order_payload(order))
            return self._json(self._order_payload(order, ctx.host))

    def _order_delete(self, ctx: _Ctx, id: int) -> Response:
        p = Params(ctx.args | {k: str(v) for k, v in ctx.body.items() if k == "force"})
        force = p.boolean("force", False)
        p.check()
        with self.state.lock:
            order = self._order_or_error(id, 404)
            self._require(ctx, "delete")
            if not force and order.status == "trash":
                raise WooError(
                    410,
                    "woocommerce_rest_already_trashed",
                    "The shop_order has already been deleted.",
                )
            payload = self._order_payload(order, ctx.host)
            self._delete_order(order, force)
            if not force:
                payload = self._order_payload(order, ctx.host)
        return self._json(payload)

    # ================================================================== refunds

    def _refunds_list(self, ctx: _Ctx, order_id: int) -> Response:
        p = Params(ctx.args)
        per_page = p.integer("per_page", 10, 1, 100) or 10
        page_no = p.integer("page", 1, 1) or 1
        offset = p.integer("offset", None)
        order_dir = p.enum("order", ("asc", "desc"), "desc")
        dp = p.integer("dp", 2, 0, 10)
        p.check()
        self._require(ctx, "list")
        with self.state.lock:
            order = self.state.orders.get(order_id)
            # Refunds are queried by parent: an unknown order simply has none.
            refunds = sorted(
                order.refunds if order else [],
                key=lambda r: (r.created, r.id),
                reverse=order_dir == "desc",
            )
            page = paginate(refunds, per_page, page_no, offset)
            items = [
                render_refund(order, r, self._offset(), ctx.host, 2 if dp is None else dp)
                for r in page.items
                if order is not None
            ]
        return self._paged(ctx, items, page.total, page.total_pages, page_no)

    def _refund_get(self, ctx: _Ctx, order_id: int, id: int) -> Response:
        self._require(ctx, "view")
        with self.state.lock:
            order = self.state.orders.get(order_id)
            if order is None:
                raise WooError(404, "woocommerce_rest_invalid_order_id", "Invalid order ID.")
            refund = next((r for r in order.refunds if r.id == id), None)
            if refund is None:
                raise WooError(
                    404, "woocommerce_rest_invalid_order_refund_id", "Invalid order refund ID."
                )
            return self._json(render_refund(order, refund, self._offset(), ctx.host))

    def _refund_create(self, ctx: _Ctx, order_id: int) -> Response:
        self._require(ctx, "create")
        with self.state.lock:
            order = self.state.orders.get(order_id)
            if order is None:
                raise WooError(404, "woocommerce_rest_invalid_order_id", "Invalid order ID.")
            amount = self._money(ctx.body.get("amount", "0"), "amount")
            if amount < 0:
                raise WooError(
                    400,
                    "woocommerce_rest_invalid_order_refund",
                    "Refund amount must be greater than zero.",
                )
            refund = self._create_refund(
                order,
                amount,
                str(ctx.body.get("reason") or ""),
                refunded_payment=_as_bool(ctx.body.get("api_refund", True)),
            )
            payload = render_refund(order, refund, self._offset(), ctx.host)
        return self._json(
            payload,
            201,
            headers={"Location": f"{ctx.host}/wp-json/wc/v3/orders/{order_id}/refunds/{refund.id}"},
        )
