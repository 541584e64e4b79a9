"""The BigCommerce simulator's HTTP gate: store hash, ``X-Auth-Token``, OAuth scopes
(§1) and the per-store rate limit headers and 429s (§6) in front of every API route.
"""

from __future__ import annotations

import math

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from sandbox.bigcommerce.hooks import ApiAccount
from sandbox.bigcommerce.model import BcConfig, BcError
from sandbox.bigcommerce.responses import (
    _API_PATH,
    _api_version,
    _json,
    api_error,
    v2_error,
    v3_error,
)
from sandbox.bigcommerce.store import BcStore
from sandbox.bigcommerce.webhooks import BcWebhooks
from sandbox.common import SimulatorState

# §1 OAuth scopes: any scope of a family (read-only or modify) grants read access.
SCOPE_FAMILIES: dict[str, frozenset[str]] = {
    "orders": frozenset({"store_v2_orders", "store_v2_orders_read_only"}),
    "transactions": frozenset({"store_v2_transactions", "store_v2_transactions_read_only"}),
    "customers": frozenset({"store_v2_customers", "store_v2_customers_read_only"}),
}


class HttpGate:
    """Authentication, scopes and rate limiting; mixed into ``BcSimulator``."""

    config: BcConfig
    state: SimulatorState
    store: BcStore
    webhooks: BcWebhooks

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
