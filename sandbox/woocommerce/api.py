"""The ``/wp-json`` HTTP layer of the WooCommerce simulator: routing, the order of checks
(authentication, key permission, route, parameters, capability), and the ``wc/v3`` handlers,
mixed in from ``api_orders``, ``api_customers`` and ``api_webhooks``."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, request

from sandbox.common import SimulatorState
from sandbox.woocommerce.api_customers import CustomerRoutes
from sandbox.woocommerce.api_orders import OrderRoutes
from sandbox.woocommerce.api_webhooks import WebhookRoutes
from sandbox.woocommerce.auth import authenticate, check_key_permission
from sandbox.woocommerce.context import _Ctx
from sandbox.woocommerce.core import API_METHODS, MANAGER_ROLES, PERMISSION_ERRORS, WooCore
from sandbox.woocommerce.errors import WooError, no_route
from sandbox.woocommerce.models import WpUser
from sandbox.woocommerce.query import link_header
from sandbox.woocommerce.webhooks import php_json


class WooApi(OrderRoutes, CustomerRoutes, WebhookRoutes, WooCore):
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
        retry_after = None if extra.get("omit_retry_after") else state.faults.retry_after_s
        return self._throttle_page(int(extra.get("rate_limit_status", 429)),
                                   str(extra.get("rate_limit_body", "html")), retry_after)

    def _throttle_page(self, status: int, style: str, retry_after: int | None) -> Response:
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
        if retry_after is not None:
            resp.headers["Retry-After"] = str(retry_after)
        return resp

    def _host_limit(self) -> tuple[Response | None, dict[str, str]]:
        """The hosting's request limit (``sandbox.woocommerce.hosting``): a refusal, or None,
        and the rate-limit headers to send (none unless ``rate_limit_headers`` is set)."""
        cfg = self.config
        if cfg.rate_limit_per_window <= 0:
            return None, {}
        verdict = self.host_limit.check(self.state.clock.time(), cfg.rate_limit_per_window,
                                        cfg.rate_limit_window_s, cfg.rate_limit_count_refused)
        headers: dict[str, str] = {}
        prefix = {"ratelimit": "RateLimit-", "x-ratelimit": "X-RateLimit-"}.get(
            cfg.rate_limit_headers)
        if prefix:
            headers = {f"{prefix}Limit": str(verdict.limit),
                       f"{prefix}Remaining": str(verdict.remaining),
                       f"{prefix}Reset": str(math.ceil(verdict.reset_at))}
        if verdict.allowed:
            return None, headers
        resp = self._throttle_page(cfg.rate_limit_status, "html", verdict.retry_after_s)
        for name, value in headers.items():
            resp.headers[name] = value
        return resp, headers

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
        refused, limit_headers = self._host_limit()
        if refused is not None:
            return refused  # the host answers before WordPress runs
        try:
            resp = self._dispatch(route)
        except WooError as exc:
            resp = self._error(exc)
        for name, value in limit_headers.items():
            resp.headers[name] = value
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            self.state.bump()  # any write may have changed orders: drop the sorted-order cache
        self._tick_mutating()
        return resp

    def _signed_url(self) -> str:
        scheme = "https" if self.config.assume_https else "http"
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
        if self.config.home_url:
            home = urlsplit(self.config.home_url)
            return f"{scheme}://{home.netloc.lower()}{home.path.rstrip('/')}{raw.split('?', 1)[0]}"
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
