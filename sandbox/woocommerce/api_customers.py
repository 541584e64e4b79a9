"""``wc/v3`` customer handlers of the WooCommerce simulator."""

from __future__ import annotations

import copy

from flask import Response

from sandbox.woocommerce.bodies import DELETABLE_CUSTOMER_ROLES
from sandbox.woocommerce.context import _Ctx
from sandbox.woocommerce.core import WooConfig
from sandbox.woocommerce.errors import WooError
from sandbox.woocommerce.models import WpUser
from sandbox.woocommerce.query import (
    Params,
    customer_page_number,
    paginate,
    parse_customer_query,
    select_customers,
)
from sandbox.woocommerce.store import WooState


class CustomerRoutes:
    """``/customers``; mixed into ``WooApi``."""

    config: WooConfig
    state: WooState

    # ================================================================== customers

    def _customers_list(self, ctx: _Ctx) -> Response:
        q = parse_customer_query(ctx.args)
        self._require(ctx, "list")
        with self.state.lock:
            rows = select_customers(self.state.users.values(), q)
            page = paginate(rows, q.per_page, q.page, q.offset)
            items = [self._customer_payload(u, ctx.host) for u in page.items]
        number = customer_page_number(q.per_page, q.page, q.offset)
        return self._paged(ctx, items, page.total, page.total_pages, number)

    def _customer_or_error(self, user_id: int, status: int) -> WpUser:
        user = self.state.users.get(user_id)
        if user is None:
            raise WooError(status, "woocommerce_rest_invalid_id", "Invalid resource ID.")
        return user

    def _customer_get(self, ctx: _Ctx, id: int) -> Response:
        with self.state.lock:
            user = self._customer_or_error(id, 404)
            self._require(ctx, "view")
            return self._json(self._customer_payload(user, ctx.host))

    def _customer_create(self, ctx: _Ctx) -> Response:
        body = ctx.body
        if not body.get("email"):
            raise WooError(
                400, "rest_missing_callback_param", "Missing parameter(s): email", params=["email"]
            )
        self._require(ctx, "create")
        if body.get("id"):
            raise WooError(
                400, "woocommerce_rest_customer_exists", "Cannot create existing resource."
            )
        with self.state.lock:
            now = self.state.now()
            user = WpUser(id=0, username="", email="", role="customer", created=now, modified=now)
            self._apply_customer_body(user, body, creating=True)
            user.id = self.state.user_id()
            self.state.users[user.id] = user
            self._fire("customer.created", user.id, lambda: self._customer_payload(user))
            payload = self._customer_payload(user, ctx.host)
        return self._json(
            payload, 201, headers={"Location": f"{ctx.host}/wp-json/wc/v3/customers/{user.id}"}
        )

    def _customer_update(self, ctx: _Ctx, id: int) -> Response:
        with self.state.lock:
            user = copy.deepcopy(self._customer_or_error(id, 404))
            self._require(ctx, "edit")
            self._apply_customer_body(user, ctx.body, creating=False)
            self.state.users[user.id] = user
            user.modified = self.state.now()
            self._fire("customer.updated", user.id, lambda: self._customer_payload(user))
            return self._json(self._customer_payload(user, ctx.host))

    def _customer_delete(self, ctx: _Ctx, id: int) -> Response:
        p = Params(ctx.args | {k: str(v) for k, v in ctx.body.items() if k == "force"})
        force = p.boolean("force", False)
        p.check()
        with self.state.lock:
            user = self._customer_or_error(id, 404)
            self._require(ctx, "delete")
            if user.role not in DELETABLE_CUSTOMER_ROLES:
                raise WooError(
                    403,
                    "woocommerce_rest_cannot_delete",
                    f"Sorry, users with {user.role} role cannot be deleted via this endpoint. "
                    f"Allowed roles: {', '.join(DELETABLE_CUSTOMER_ROLES)}",
                )
            if not force:
                raise WooError(
                    501,
                    "woocommerce_rest_trash_not_supported",
                    "Customers do not support trashing.",
                )
            payload = self._customer_payload(user, ctx.host)
            self._delete_user(user)
        return self._json(payload)
