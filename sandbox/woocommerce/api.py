"""The ``/wp-json`` HTTP layer of the WooCommerce simulator: routing, the order of checks
(authentication, key permission, route, parameters, capability), and the ``wc/v3`` handlers."""

from __future__ import annotations

import copy
import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request

from sandbox.common import SimulatorState
from sandbox.woocommerce.auth import authenticate, check_key_permission
from sandbox.woocommerce.core import (
    API_METHODS,
    DELETABLE_CUSTOMER_ROLES,
    MANAGER_ROLES,
    PERMISSION_ERRORS,
    WooCore,
    _as_bool,
    _valid_topic,
)
from sandbox.woocommerce.errors import WooError, invalid_params, no_route
from sandbox.woocommerce.models import (
    BILLING_FIELDS,
    SHIPPING_FIELDS,
    Order,
    Webhook,
    WpUser,
    empty_address,
    render_refund,
    render_webhook,
)
from sandbox.woocommerce.query import (
    WEBHOOK_ORDERBY,
    WEBHOOK_STATUS_PARAM,
    Params,
    customer_page_number,
    filter_orders,
    link_header,
    paginate,
    parse_customer_query,
    parse_order_query,
    select_customers,
    sort_orders,
    wanted_statuses,
)
from sandbox.woocommerce.webhooks import php_json


@dataclass
class _Ctx:
    method: str
    args: dict[str, str]
    pairs: list[tuple[str, str]]
    body: dict[str, Any]
    user: WpUser | None
    host: str  # scheme://host[:port] the client used, for links
    path: str  # request path, for the Link header


class WooApi(WooCore):
    """The ``/wp-json`` HTTP layer: routing, authentication order, REST handlers."""

    def _install_api(self, app: Flask) -> None:
        """Register the ``/wp-json`` routes (and plain-permalink ``/?rest_route=``) on ``app``."""
        self._routes: list[tuple[re.Pattern[str], dict[str, Callable[..., Response]]]] = [
            (
                re.compile(r"^/wc/v3/orders/?$"),
                {"GET": self._orders_list, "POST": self._order_create},
            ),
            (
                re.compile(r"^/wc/v3/orders/(?P<id>\d+)/?$"),
                {
                    "GET": self._order_get,
                    "POST": self._order_update,
                    "PUT": self._order_update,
                    "PATCH": self._order_update,
                    "DELETE": self._order_delete,
                },
            ),
            (
                re.compile(r"^/wc/v3/orders/(?P<order_id>\d+)/refunds/?$"),
                {"GET": self._refunds_list, "POST": self._refund_create},
            ),
            (
                re.compile(r"^/wc/v3/orders/(?P<order_id>\d+)/refunds/(?P<id>\d+)/?$"),
                {"GET": self._refund_get},
            ),
            (
                re.compile(r"^/wc/v3/customers/?$"),
                {"GET": self._customers_list, "POST": self._customer_create},
            ),
            (
                re.compile(r"^/wc/v3/customers/(?P<id>\d+)/?$"),
                {
                    "GET": self._customer_get,
                    "POST": self._customer_update,
                    "PUT": self._customer_update,
                    "PATCH": self._customer_update,
                    "DELETE": self._customer_delete,
                },
            ),
            (
                re.compile(r"^/wc/v3/webhooks/?$"),
                {"GET": self._webhooks_list, "POST": self._webhook_create},
            ),
            (
                re.compile(r"^/wc/v3/webhooks/(?P<id>\d+)/?$"),
                {
                    "GET": self._webhook_get,
                    "POST": self._webhook_update,
                    "PUT": self._webhook_update,
                    "PATCH": self._webhook_update,
                    "DELETE": self._webhook_delete,
                },
            ),
        ]
        app.add_url_rule("/wp-json/<path:route>", "woo_api", self._api_view, methods=API_METHODS)
        app.add_url_rule("/wp-json/", "woo_index", self._index_view, methods=["GET"])
        app.add_url_rule("/", "woo_plain", self._plain_view, methods=API_METHODS)

    # ================================================================== internals: HTTP

    def _rate_limited(self, state: SimulatorState) -> Response:
        """A hosting/WAF 429 (core never sends one, doc §5): HTML by default, and
        ``faults.extra`` can drop ``Retry-After`` or change the status/body."""
        extra = state.faults.extra
        status = int(extra.get("rate_limit_status", 429))
        style = extra.get("rate_limit_body", "html")
        if style == "json":
            resp = Response(
                php_json({"code": "too_many_requests", "message": "Too Many Requests"}),
                status=status,
                content_type="application/json; charset=UTF-8",
            )
        elif style == "empty":
            resp = Response(b"", status=status)
        else:
            resp = Response(
                f"<html><head><title>{status} Too Many Requests</title></head><body>"
                "<h1>Too Many Requests</h1><p>error code: 1015</p></body></html>",
                status=status,
                content_type="text/html; charset=UTF-8",
            )
        if not extra.get("omit_retry_after"):
            resp.headers["Retry-After"] = str(state.faults.retry_after_s)
        return resp

    def _json(
        self,
        data: Any,
        status: int = 200,
        headers: dict[str, str] | None = None,
        links: list[str] | None = None,
    ) -> Response:
        resp = Response(
            php_json(data), status=status, content_type="application/json; charset=UTF-8"
        )
        resp.headers["X-Robots-Tag"] = "noindex"
        resp.headers["Access-Control-Expose-Headers"] = "X-WP-Total, X-WP-TotalPages, Link"
        for k, v in (headers or {}).items():
            resp.headers[k] = v
        for link in links or []:
            resp.headers.add("Link", link)
        return resp

    def _error(self, exc: WooError) -> Response:
        return self._json(exc.body(), exc.status, exc.headers)

    def _index_view(self) -> Response:
        return self._json(
            {
                "name": "Sandbox Shop",
                "url": self._site_base(),
                "namespaces": ["wp/v2", "wc/v3"],
                "authentication": [],
            }
        )

    def _plain_view(self) -> Response:
        """Plain permalinks: ``/?rest_route=/wc/v3/orders`` (doc §1)."""
        route = request.args.get("rest_route")
        if not route:
            return Response("<html><body>Sandbox Shop</body></html>", content_type="text/html")
        return self._api(route)

    def _api_view(self, route: str) -> Response:
        return self._api("/" + route)

    def _api(self, route: str) -> Response:
        try:
            resp = self._dispatch(route)
        except WooError as exc:
            resp = self._error(exc)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            self.state.bump()  # any write may have changed orders: drop the sorted-order cache
        self._tick_mutating()
        return resp

    def _signed_url(self) -> str:
        scheme = "https" if self.config.assume_https else "http"
        host = request.host.lower()
        if (scheme == "http" and host.endswith(":80")) or (
            scheme == "https" and host.endswith(":443")
        ):
            host = host.rsplit(":", 1)[0]
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
        return f"{scheme}://{host}{raw.split('?', 1)[0]}"

    def _dispatch(self, route: str) -> Response:
        method = request.method.upper()
        args = dict(request.args.items(multi=True))  # last value wins, like PHP
        form = dict(request.form) if request.mimetype == "application/x-www-form-urlencoded" else {}
        if not (route.startswith("/wc/") or route.startswith("/wc-")):
            return self._non_wc_route(route, args)
        auth = authenticate(
            self.state,
            assume_https=self.config.assume_https,
            http_method="GET" if method == "HEAD" else method,
            signed_url=self._signed_url(),
            query=args,
            form=form,
            authorization=request.headers.get("Authorization"),
        )
        if auth.error is not None:
            raise auth.error
        user: WpUser | None = None
        if auth.key is not None:
            denied = check_key_permission(auth.key, method)
            if denied is not None:
                raise denied
            with self.state.lock:
                auth.key.last_access = self.state.now()
                user = self.state.users.get(auth.key.user_id)
        handler, params = self._match(route, "GET" if method == "HEAD" else method)
        body: dict[str, Any] = {}
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            body = self._body(form)
        ctx = _Ctx(
            method=method,
            args=args,
            pairs=list(request.args.items(multi=True)),
            body=body,
            user=user,
            host=request.host_url.rstrip("/"),
            path=request.path,
        )
        return handler(ctx, **params)

    def _non_wc_route(self, route: str, args: dict[str, str]) -> Response:
        """WooCommerce keys only authenticate ``wc/`` routes (doc §1/§2)."""
        auth_header = request.headers.get("Authorization", "")
        presented = bool(auth_header) or "consumer_key" in args or "oauth_consumer_key" in args
        if presented:
            raise WooError(
                401,
                "woocommerce_rest_authentication_error",
                "The provided API key cannot be used to access this endpoint.",
            )
        if re.match(r"^/wp/v2/users/me/?$", route):
            raise WooError(401, "rest_not_logged_in", "You are not currently logged in.")
        raise no_route()

    def _match(self, route: str, method: str) -> tuple[Callable[..., Response], dict[str, int]]:
        for pattern, handlers in self._routes:
            m = pattern.match(route)
            if m and method in handlers:
                return handlers[method], {k: int(v) for k, v in m.groupdict().items()}
        raise no_route()

    def _body(self, form: dict[str, str]) -> dict[str, Any]:
        body: dict[str, Any] = dict(request.args.items())
        body.update(form)
        raw = request.get_data(cache=True)
        if raw and (request.mimetype == "application/json" or raw.lstrip()[:1] in (b"{", b"[")):
            try:
                parsed = request.get_json(force=True, silent=False)
            except Exception:
                raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
            if isinstance(parsed, dict):
                body.update(parsed)
        return body

    def _require(self, ctx: _Ctx, action: str) -> None:
        """The controller capability check: 401 anonymous, 403 logged in without rights."""
        if ctx.user is not None and ctx.user.role in MANAGER_ROLES:
            return
        code, message = PERMISSION_ERRORS[action]
        raise WooError(403 if ctx.user is not None else 401, code, message)

    def _paged(
        self,
        ctx: _Ctx,
        items: list[Any],
        total: int,
        total_pages: int,
        page: int,
    ) -> Response:
        return self._json(
            items,
            headers={"X-WP-Total": str(total), "X-WP-TotalPages": str(total_pages)},
            links=link_header(ctx.host + ctx.path, ctx.pairs, page, total_pages),
        )

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

    # ================================================================== webhooks

    def _webhook_or_error(
        self, webhook_id: int, status: int, message: str = "Invalid ID."
    ) -> Webhook:
        w = self.state.webhooks.get(webhook_id)
        if w is None:
            raise WooError(status, "woocommerce_rest_shop_webhook_invalid_id", message)
        return w

    def _webhooks_list(self, ctx: _Ctx) -> Response:
        p = Params(ctx.args)
        per_page = p.integer("per_page", 10, 1, 100) or 10
        page_no = p.integer("page", 1, 1) or 1
        offset = p.integer("offset", None)
        order_dir = p.enum("order", ("asc", "desc"), "desc")
        orderby = p.enum("orderby", WEBHOOK_ORDERBY, "date")
        status = p.enum("status", WEBHOOK_STATUS_PARAM, "all")
        include, exclude = p.int_list("include"), p.int_list("exclude")
        search = p.string("search").lower()
        p.check()
        self._require(ctx, "list")
        with self.state.lock:
            rows = [
                w
                for w in self.state.webhooks.values()
                if (status == "all" or w.status == status)
                and (not include or w.id in include)
                and w.id not in exclude
                and (not search or search in w.name.lower())
            ]
            if orderby == "id":
                rows.sort(key=lambda w: w.id, reverse=order_dir == "desc")
            elif orderby == "title":
                rows.sort(key=lambda w: (w.name.lower(), w.id), reverse=order_dir == "desc")
            else:
                rows.sort(key=lambda w: (w.created, w.id), reverse=order_dir == "desc")
            page = paginate(rows, per_page, page_no, offset)
            items = [render_webhook(w, self._offset(), ctx.host) for w in page.items]
        number = customer_page_number(per_page, page_no, offset)
        return self._paged(ctx, items, page.total, page.total_pages, number)

    def _webhook_get(self, ctx: _Ctx, id: int) -> Response:
        self._require(ctx, "view")
        with self.state.lock:
            w = self._webhook_or_error(id, 404)
            return self._json(render_webhook(w, self._offset(), ctx.host))

    def _webhook_create(self, ctx: _Ctx) -> Response:
        body = ctx.body
        missing = [k for k in ("topic", "delivery_url") if k not in body]
        if missing:
            raise WooError(
                400,
                "rest_missing_callback_param",
                f"Missing parameter(s): {', '.join(missing)}",
                params=missing,
            )
        self._require(ctx, "create")
        if body.get("id"):
            raise WooError(
                400, "woocommerce_rest_shop_webhook_exists", "Cannot create existing shop_webhook."
            )
        topic = str(body.get("topic") or "").lower()
        if not _valid_topic(topic):
            raise WooError(
                400,
                "woocommerce_rest_shop_webhook_invalid_topic",
                "Webhook topic is required and must be valid.",
            )
        url = str(body.get("delivery_url") or "")
        if not re.match(r"^https?://[^\s/]+", url):
            raise WooError(
                400,
                "woocommerce_rest_shop_webhook_invalid_delivery_url",
                "Webhook delivery URL must be a valid URL starting with http:// or https://.",
            )
        status = str(body.get("status") or "active")
        if status not in ("active", "paused", "disabled"):
            raise invalid_params({"status": "status is not one of active, paused, disabled."})
        with self.state.lock:
            now = self.state.now()
            webhook_id = self.state.next_webhook
            self.state.next_webhook += 1
            w = Webhook(
                id=webhook_id,
                name=str(
                    body.get("name") or f"Webhook created on {now.strftime('%b %d, %Y @ %I:%M %p')}"
                ),
                status=status,
                topic=topic,
                delivery_url=url,
                # Without an explicit secret WooCommerce generates one the client never sees.
                secret=str(body.get("secret") or secrets.token_urlsafe(38)),
                user_id=ctx.user.id if ctx.user else 0,
                created=now,
                modified=now,
            )
            self.state.webhooks[w.id] = w
            payload = render_webhook(w, self._offset(), ctx.host)
        # The REST controller pings synchronously after saving (doc §6); the result is only logged.
        self.dispatcher.ping(w.id, w.delivery_url)
        return self._json(
            payload, 201, headers={"Location": f"{ctx.host}/wp-json/wc/v3/webhooks/{w.id}"}
        )

    def _webhook_update(self, ctx: _Ctx, id: int) -> Response:
        self._require(ctx, "edit")
        body = ctx.body
        with self.state.lock:
            w = self._webhook_or_error(id, 400, "ID is invalid.")
            if body.get("topic"):
                topic = str(body["topic"]).lower()
                if not _valid_topic(topic):
                    raise WooError(
                        400,
                        "woocommerce_rest_shop_webhook_invalid_topic",
                        "Webhook topic must be valid.",
                    )
                w.topic = topic
            if body.get("delivery_url"):
                url = str(body["delivery_url"])
                if not re.match(r"^https?://[^\s/]+", url):
                    raise WooError(
                        400,
                        "woocommerce_rest_shop_webhook_invalid_delivery_url",
                        "Webhook delivery URL must be a valid URL starting with http:// or https://.",
                    )
                w.delivery_url = url
            if body.get("secret"):
                w.secret = str(body["secret"])
            if body.get("status"):
                status = str(body["status"]).lower()
                if status not in ("active", "paused", "disabled"):
                    raise WooError(
                        400,
                        "woocommerce_rest_shop_webhook_invalid_status",
                        "Webhook status must be valid.",
                    )
                w.status = status  # failure_count is kept, as in WC_Webhook::set_status
            if body.get("name"):
                w.name = str(body["name"])
            w.modified = self.state.now()
            return self._json(render_webhook(w, self._offset(), ctx.host))

    def _webhook_delete(self, ctx: _Ctx, id: int) -> Response:
        p = Params(ctx.args | {k: str(v) for k, v in ctx.body.items() if k == "force"})
        force = p.boolean("force", False)
        p.check()
        self._require(ctx, "delete")
        if not force:
            raise WooError(
                501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing."
            )
        with self.state.lock:
            w = self._webhook_or_error(id, 404)
            payload = render_webhook(w, self._offset(), ctx.host)
            del self.state.webhooks[w.id]
        return self._json(payload)
