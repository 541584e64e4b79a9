"""IAM side of the IFS Cloud simulator: OAuth2 client-credentials token endpoint, JWT
access tokens that expire by the simulator clock, and the per-client token bucket
(``reference/ifs-cloud.md`` §1, decisions 1 and 2).
"""

from __future__ import annotations

import base64
import hmac
import json
import math
import uuid
from dataclasses import dataclass

from flask import Response, jsonify, request

from sandbox.common import SimulatorState
from sandbox.ifs.config import IfsConfig
from sandbox.ifs.odata import ODataError
from sandbox.ifs.store import Store


@dataclass
class _Token:
    client_id: str
    expires_at: float


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class IamAuth:
    """Token endpoint, bearer authentication and throttling; mixed into ``IfsSimulator``."""

    store: Store
    config: IfsConfig
    state: SimulatorState

    def _oauth_error(self, status: int, error: str, description: str) -> Response:
        resp = jsonify({"error": error, "error_description": description})
        resp.status_code = status
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def _token_endpoint(self, realm: str) -> Response:
        if realm != self.config.realm:
            resp = jsonify({"error": "Realm does not exist"})
            resp.status_code = 404
            return resp
        form = request.form
        client_id = form.get("client_id")
        secret = form.get("client_secret")
        auth = request.authorization
        if auth is not None and auth.type == "basic":  # client_secret_basic
            client_id, secret = auth.username, auth.password
        grant = form.get("grant_type")
        if not grant:
            return self._oauth_error(400, "invalid_request", "Missing form parameter: grant_type")
        if grant not in ("client_credentials", "refresh_token"):
            return self._oauth_error(400, "unsupported_grant_type", "Unsupported grant_type")
        client = self.config.clients.get(client_id or "")
        if (
            client is None
            or secret is None
            or not hmac.compare_digest(str(secret), str(client.get("secret", "")))
        ):
            return self._oauth_error(
                401, "invalid_client", "Invalid client or Invalid client credentials"
            )
        assert client_id is not None
        now = self.state.clock.time()
        with self.state.lock:
            if grant == "refresh_token":
                old = self._refresh_tokens.pop(form.get("refresh_token", ""), None)
                if old is None or old.client_id != client_id or old.expires_at <= now:
                    return self._oauth_error(400, "invalid_grant", "Invalid refresh token")
            # keep memory bounded in long runs: forget expired tokens
            if len(self._tokens) > 1000:
                self._tokens = {k: t for k, t in self._tokens.items() if t.expires_at > now}
                self._refresh_tokens = {
                    k: t for k, t in self._refresh_tokens.items() if t.expires_at > now
                }
            ttl = int(self.config.token_ttl_s)
            access = self._jwt(client_id, now, ttl, "Bearer")
            refresh = self._jwt(client_id, now, int(self.config.refresh_ttl_s), "Refresh")
            self._tokens[access] = _Token(client_id, now + ttl)
            self._refresh_tokens[refresh] = _Token(client_id, now + self.config.refresh_ttl_s)
        resp = jsonify(
            {
                "access_token": access,
                "expires_in": ttl,
                "refresh_expires_in": int(self.config.refresh_ttl_s),
                "refresh_token": refresh,
                "token_type": "Bearer",
                "id_token": self._jwt(client_id, now, ttl, "ID"),
                "not-before-policy": 0,
                "session_state": str(uuid.uuid4()),
                "scope": form.get("scope") or "openid microprofile-jwt",
            }
        )
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def _jwt(self, client_id: str, now: float, ttl: int, typ: str) -> str:
        """An unsigned JWT look-alike (clients may decode ``exp``; nobody verifies it)."""
        header = {"alg": "RS256", "typ": "JWT", "kid": "ifs-sandbox"}
        payload = {
            "exp": int(now + ttl),
            "iat": int(now),
            "jti": str(uuid.uuid4()),
            "iss": f"{request.host_url}auth/realms/{self.config.realm}",
            "typ": typ,
            "azp": client_id,
            "preferred_username": f"service-account-{client_id.lower()}",
        }
        parts = [json.dumps(header).encode(), json.dumps(payload).encode(), uuid.uuid4().bytes]
        return ".".join(_b64url(p) for p in parts)

    def revoke_tokens(self, client_id: str | None = None) -> int:
        with self.state.lock:
            doomed = [k for k, t in self._tokens.items() if client_id in (None, t.client_id)]
            for k in doomed:
                del self._tokens[k]
            for k in [
                k for k, t in self._refresh_tokens.items() if client_id in (None, t.client_id)
            ]:
                del self._refresh_tokens[k]
            return len(doomed)

    def _authenticate(self) -> str:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        err = ODataError(
            401,
            "ODP_UNAUTHORIZED",
            "The access token is missing, invalid or expired.",
            detail_code="invalid_token",
            headers={
                "WWW-Authenticate": f'Bearer realm="{self.config.realm}", error="invalid_token"'
            },
        )
        if scheme.lower() != "bearer" or not token:
            raise err
        with self.state.lock:
            info = self._tokens.get(token.strip())
        if (
            info is None
            or info.expires_at <= self.state.clock.time()
            or info.client_id not in self.config.clients
        ):
            raise err
        return info.client_id

    def _throttle(self, client_id: str) -> None:
        """Token bucket per IAM client, refilled continuously (decision 2)."""
        budget = max(1, int(self.config.budget_per_min))
        rate = budget / 60.0
        now = self.state.clock.time()
        with self.state.lock:
            tokens, last = self._buckets.get(client_id, (float(budget), now))
            tokens = min(float(budget), tokens + max(0.0, now - last) * rate)
            if tokens >= 1.0:
                self._buckets[client_id] = (tokens - 1.0, now)
                return
            self._buckets[client_id] = (tokens, now)
        wait = max(1, math.ceil((1.0 - tokens) / rate))
        raise ODataError(
            429,
            "ODP_TOO_MANY_REQUESTS",
            f"Request budget of {budget} per minute exhausted. Retry after {wait} s.",
            headers={"Retry-After": str(wait)},
        )
