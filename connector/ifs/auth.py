"""IFS IAM (Keycloak) client-credentials tokens, cached once per tenant for the whole fleet.

IFS integrations authenticate with OAuth2 client credentials against
``/auth/realms/{realm}/protocol/openid-connect/token``; tokens are short-lived (180 s by default)
(ifs-cloud.md §1, Decisions 1). Asking IAM for a token on every request would double the request
count and hammer IAM, so one token per tenant is kept in Redis — encrypted with the credential
vault, since a bearer token is as good as the secret for its lifetime — and renewed a margin
before it expires, by one process at a time (a ``SET NX PX`` lock). The other processes keep
using the still-valid token meanwhile, or wait a moment for the new one.

:class:`LocalTokenCache` has the same interface for a single process (CLI, tests).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis
import requests

from connector.config import Secret
from connector.crypto import Vault, VaultError
from connector.errors import AuthError, ConnectorError, RateLimited, Transient
from connector.http.errors import DEFAULT_TIMEOUT, send
from connector.http.session import new_session
from connector.logs import MASK, register_secret

log = logging.getLogger(__name__)

DEFAULT_SCOPE = "openid microprofile-jwt"
TOKEN_KEY_PREFIX = "mlc:ifs-token:"
_DEFAULT_LIFETIME_S = 60  # when IAM omits expires_in: assume short, renewals are cheap
_MIN_REMAINING_S = 5.0  # a token this close to expiry is not handed out (the request takes time)


@dataclass(frozen=True)
class CachedToken:
    """An access token with its absolute expiry and the time from which to renew it."""

    access_token: str
    expires_at: float  # epoch seconds
    refresh_at: float  # epoch seconds, before expires_at by the refresh margin

    def fresh(self, now: float) -> bool:
        """Before the refresh point: use it, nobody needs to renew."""
        return now < self.refresh_at

    def usable(self, now: float) -> bool:
        """Still valid for a request, though due for renewal."""
        return now + _MIN_REMAINING_S < self.expires_at


class TokenCache(Protocol):
    """Where the current token lives, plus the lock that lets one process renew it."""

    def load(self) -> CachedToken | None:
        """The cached token, or None (absent, expired or unreadable)."""
        ...

    def store(self, token: CachedToken) -> None:
        """Replace the cached token."""
        ...

    def discard(self, access_token: str) -> bool:
        """Drop the cached token only if it is still ``access_token``; True when dropped."""
        ...

    def try_lock(self, ttl_s: float) -> str | None:
        """Take the renewal lock without waiting: a lock id, or None when someone holds it."""
        ...

    def unlock(self, lock_id: str) -> None:
        """Release the renewal lock if ``lock_id`` still holds it."""
        ...


class LocalTokenCache:
    """In-process cache for a single process (CLI, tests). Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._token: CachedToken | None = None
        self._lock_id: str | None = None
        self._lock_until = 0.0
        self._mutex = threading.Lock()

    def load(self) -> CachedToken | None:
        with self._mutex:
            token = self._token
        if token is not None and token.expires_at <= self._clock():
            return None
        return token

    def store(self, token: CachedToken) -> None:
        with self._mutex:
            self._token = token

    def discard(self, access_token: str) -> bool:
        with self._mutex:
            if self._token is not None and self._token.access_token == access_token:
                self._token = None
                return True
            return False

    def try_lock(self, ttl_s: float) -> str | None:
        now = self._clock()
        with self._mutex:
            if self._lock_id is not None and now < self._lock_until:
                return None
            self._lock_id = uuid.uuid4().hex
            self._lock_until = now + ttl_s
            return self._lock_id

    def unlock(self, lock_id: str) -> None:
        with self._mutex:
            if self._lock_id == lock_id:
                self._lock_id = None


# Delete KEYS[1] only if it still holds ARGV[1] (compare-and-delete, for the lock and the token).
_DELETE_IF_EQUAL_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisTokenCache:
    """The fleet-wide cache: one Redis key per tenant holding the token encrypted by ``vault``.

    ``key`` names the tenant (e.g. ``"tenant-7"``); the Redis keys are
    ``mlc:ifs-token:{key}`` (the token) and ``mlc:ifs-token:{key}:lock`` (the renewal lock). The
    token key expires with the token, so a stale token never outlives itself.
    """

    def __init__(
        self,
        redis: redis.Redis,
        vault: Vault,
        key: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.vault = vault
        self.key = key if key.startswith(TOKEN_KEY_PREFIX) else TOKEN_KEY_PREFIX + key
        self.lock_key = self.key + ":lock"
        self._clock = clock
        self._delete_if_equal = redis.register_script(_DELETE_IF_EQUAL_LUA)

    def _raw(self) -> str | None:
        raw = self.redis.get(self.key)
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    def _decode(self, raw: str) -> CachedToken | None:
        try:
            data = json.loads(self.vault.decrypt(raw))
            # The decrypted blob is JSON; the token inside it is what could leak (an IFS error
            # body echoing the Authorization header), so the token itself is registered.
            register_secret(str(data["access_token"]))
            return CachedToken(
                access_token=str(data["access_token"]),
                expires_at=float(data["expires_at"]),
                refresh_at=float(data["refresh_at"]),
            )
        except (VaultError, ValueError, KeyError, TypeError):
            # Written under a key no longer configured, or by an incompatible version: treat as
            # absent; the next renewal overwrites it.
            log.warning("cached IFS token at %s is unreadable; renewing", self.key)
            return None

    def load(self) -> CachedToken | None:
        raw = self._raw()
        if raw is None:
            return None
        token = self._decode(raw)
        if token is None or token.expires_at <= self._clock():
            return None
        return token

    def store(self, token: CachedToken) -> None:
        ttl_ms = int((token.expires_at - self._clock()) * 1000)
        if ttl_ms <= 0:
            return
        payload = json.dumps(
            {
                "access_token": token.access_token,
                "expires_at": token.expires_at,
                "refresh_at": token.refresh_at,
            }
        )
        self.redis.set(self.key, self.vault.encrypt(payload), px=ttl_ms)

    def discard(self, access_token: str) -> bool:
        raw = self._raw()
        if raw is None:
            return False
        token = self._decode(raw)
        if token is not None and token.access_token != access_token:
            return False  # already renewed by someone else: keep the new one
        # Delete only the exact value we looked at, so a renewal in between survives.
        return bool(self._delete_if_equal(keys=[self.key], args=[raw]))

    def try_lock(self, ttl_s: float) -> str | None:
        lock_id = uuid.uuid4().hex
        if self.redis.set(self.lock_key, lock_id, nx=True, px=max(1, int(ttl_s * 1000))):
            return lock_id
        return None

    def unlock(self, lock_id: str) -> None:
        self._delete_if_equal(keys=[self.lock_key], args=[lock_id])


class IfsTokenManager:
    """Hands out a valid IFS access token, renewing it through the client-credentials grant.

    ``refresh_margin_s`` before expiry (at most half the token's lifetime) the token is renewed by
    whichever process takes the cache's lock first; the others keep using the current token
    while it is valid, or wait up to ``lock_wait_s`` for the new one and, failing that, fetch one
    themselves (IAM issues independent tokens, so a duplicate grant is harmless).
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: Secret,
        scope: str = DEFAULT_SCOPE,
        session: requests.Session | None = None,
        cache: TokenCache | None = None,
        refresh_margin_s: float = 45,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        lock_wait_s: float = 3.0,
        lock_ttl_s: float = 15.0,
        poll_interval_s: float = 0.05,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not client_secret:
            raise ValueError("IFS client secret is empty")
        self.token_url = token_url
        self.client_id = client_id
        self._secret = client_secret
        register_secret(client_secret.reveal())
        self.scope = scope
        self.session = session or new_session()
        self.cache: TokenCache = cache if cache is not None else LocalTokenCache(clock)
        self.refresh_margin_s = refresh_margin_s
        self.timeout = timeout
        self.lock_wait_s = lock_wait_s
        self.lock_ttl_s = lock_ttl_s
        self.poll_interval_s = poll_interval_s
        self._clock = clock
        self._sleep = sleep
        self._memo: CachedToken | None = None  # saves a Redis round trip + decrypt per request

    def get_token(self) -> str:
        """A token valid for at least a few more seconds. May call IAM (one process at a time)."""
        now = self._clock()
        memo = self._memo
        if memo is not None and memo.fresh(now):
            return memo.access_token
        cached = self.cache.load()
        if cached is not None and cached.fresh(now):
            self._memo = cached
            return cached.access_token

        lock_id = self.cache.try_lock(self.lock_ttl_s)
        if lock_id is None:
            return self._while_someone_renews(cached)
        try:
            # Someone may have renewed between our load and taking the lock.
            again = self.cache.load()
            if again is not None and again.fresh(self._clock()):
                self._memo = again
                return again.access_token
            return self._renew()
        finally:
            self.cache.unlock(lock_id)

    def _while_someone_renews(self, cached: CachedToken | None) -> str:
        if cached is not None and cached.usable(self._clock()):
            return cached.access_token  # due for renewal, still valid: no need to wait
        deadline = self._clock() + self.lock_wait_s
        while self._clock() < deadline:
            self._sleep(self.poll_interval_s)
            token = self.cache.load()
            if token is not None and token.usable(self._clock()):
                self._memo = token if token.fresh(self._clock()) else None
                return token.access_token
        log.warning("IFS token renewal by another process did not finish; fetching one here")
        return self._renew()

    def _renew(self) -> str:
        token = self.fetch_token()
        self.cache.store(token)
        self._memo = token
        return token.access_token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` after IFS rejected it (401) — only if it is still the cached one, so
        a token another process just renewed is kept."""
        if self._memo is not None and self._memo.access_token == token:
            self._memo = None
        self.cache.discard(token)

    def fetch_token(self) -> CachedToken:
        """One client-credentials grant (ifs-cloud.md §1). Does not touch the cache.

        Raises :class:`AuthError` when IAM rejects the client (bad id/secret, unknown realm,
        scope not allowed), :class:`Transient` on 5xx/transport failures and
        :class:`RateLimited` on 429. Messages never contain the secret.
        """
        issued_at = self._clock()
        try:
            response = send(
                self.session,
                "POST",
                self.token_url,
                ok=(200,),
                timeout=self.timeout,
                describe=self._describe,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self._secret.reveal(),
                    "scope": self.scope,
                },
                headers={"Accept": "application/json"},
            )
        except (Transient, RateLimited):
            raise
        except ConnectorError as exc:
            # 400 invalid_client/invalid_scope, 401, 403, 404 (wrong realm): the credentials or
            # the token URL are wrong, and retrying will not help — an operator must act.
            raise AuthError(self._rejection_message(exc), status=exc.status,
                            url=self.token_url, code=exc.code) from None
        return self._parse(response, issued_at)

    def _rejection_message(self, exc: ConnectorError) -> str:
        if exc.status == 404:
            return (f"IFS token endpoint not found for client {self.client_id!r} "
                    "(check the realm in the token URL)")
        return f"IFS IAM rejected client {self.client_id!r}: {exc.message}"

    def _describe(self, response: requests.Response) -> tuple[str | None, str | None]:
        # OAuth2 error body (RFC 6749 §5.2): {"error": "...", "error_description": "..."}.
        data = response.json()
        if not isinstance(data, dict):
            return None, None
        code = data.get("error") if isinstance(data.get("error"), str) else None
        description = data.get("error_description")
        text = code
        if isinstance(description, str) and description:
            text = f"{code}: {description}" if code else description
        if text:
            text = text.replace(self._secret.reveal(), MASK)[:300]
        return text, code

    def _parse(self, response: requests.Response, issued_at: float) -> CachedToken:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise Transient("IFS token endpoint answered 200 without an access_token",
                            status=response.status_code, url=self.token_url)
        token_type = data.get("token_type")
        if isinstance(token_type, str) and token_type.lower() != "bearer":
            raise AuthError(f"IFS token endpoint issued a {token_type!r} token, expected Bearer",
                            url=self.token_url)
        access_token: str = data["access_token"]
        register_secret(access_token)
        try:
            lifetime = float(data.get("expires_in", _DEFAULT_LIFETIME_S))
        except (TypeError, ValueError):
            lifetime = _DEFAULT_LIFETIME_S
        lifetime = max(1.0, lifetime)
        margin = min(self.refresh_margin_s, lifetime / 2)
        return CachedToken(
            access_token=access_token,
            expires_at=issued_at + lifetime,
            refresh_at=issued_at + lifetime - margin,
        )
