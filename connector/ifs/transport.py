"""The IFS Cloud transport: one HTTP exchange, its two retries, and the error mapping.

Every call draws one token from the tenant's fleet-wide budget, carries a bearer token, a timeout
and JSON headers, and turns failures into the connector's error family. It retries on its own in
exactly two cases (conventions habit 5 allows the first; the second is an IFS quirk):

* a 401: drop the token, re-authenticate once, send again (ifs-cloud.md §1, Decisions 1);
* a 500 ``MI_MODIFIED_ERROR`` (stale server metadata): send once more (§8, Decisions 9).

Everything else is raised for the task layer to retry or fail. The OData operations built on it
are in :mod:`connector.ifs.client`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import requests

from connector import metrics
from connector.errors import AuthError, OutcomeUnknown, Transient, safe_url
from connector.http.errors import DEFAULT_TIMEOUT, transport_error
from connector.http.session import new_session
from connector.ifs.odata import dumps, error_from_response, is_mi_modified
from connector.ratelimit import Budget

__all__ = ["IfsTransport", "TokenProvider"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class TokenProvider(Protocol):
    """What the client needs from :class:`~connector.ifs.auth.IfsTokenManager`."""

    def get_token(self) -> str: ...

    def invalidate(self, token: str) -> None: ...


class IfsTransport:
    """Sends requests to one IFS tenant: budget, bearer token, timeout, typed errors.

    ``budget`` is the tenant's fleet-wide request budget; without one, calls are not throttled
    (CLI, tests).
    """

    def __init__(
        self,
        token_manager: TokenProvider,
        session: requests.Session | None = None,
        budget: Budget | None = None,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.tokens = token_manager
        self.session = session or new_session()
        self.budget = budget
        self.timeout = timeout

    def _call(
        self,
        method: str,
        url: str,
        *,
        ok: tuple[int, ...],
        handle: Callable[[requests.Response], T],
        body: Mapping[str, Any] | None = None,
        raw_body: bytes | None = None,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> T:
        data = raw_body if raw_body is not None else (
            dumps(body).encode("utf-8") if body is not None else None
        )
        reauthenticated = False
        resent_after_mi_modified = False
        while True:
            if self.budget is not None:
                self.budget.acquire_or_raise()
            token = self.tokens.get_token()
            request_headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                **(headers or {}),
            }
            if data is not None:
                # Without it IFS answers ODP_DESERIALIZATION_ERROR (§2).
                request_headers["Content-Type"] = content_type
            try:
                response = self.session.request(
                    method, url, data=data, headers=request_headers, timeout=self.timeout
                )
            except requests.RequestException as exc:
                metrics.ifs_request(None)
                if method != "GET" and _maybe_sent(exc):
                    raise OutcomeUnknown(
                        f"{type(exc).__name__} after sending a {method}: IFS may have applied "
                        "it (re-read before retrying)", url=url) from None
                raise transport_error(exc, url) from None
            metrics.ifs_request(response.status_code)
            log.debug("IFS %s %s -> %s", method, safe_url(url), response.status_code)
            try:
                if response.status_code not in ok:
                    raise error_from_response(response)
                return handle(response)
            except AuthError as exc:
                if exc.status == 401 and not reauthenticated:
                    # Expired or revoked token: drop it fleet-wide, authenticate once more (§1).
                    reauthenticated = True
                    self.tokens.invalidate(token)
                    log.info("IFS answered 401; re-authenticating once")
                    continue
                raise
            except Transient as exc:
                if is_mi_modified(exc) and not resent_after_mi_modified:
                    resent_after_mi_modified = True  # stale metadata: once more (§8)
                    log.info("IFS answered MI_MODIFIED_ERROR; sending once more")
                    continue
                raise


def _maybe_sent(exc: requests.RequestException) -> bool:
    """False only when the request certainly never reached the server (no connection)."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        return not any(m in text for m in ("NewConnectionError", "Failed to establish",
                                           "Connection refused", "Name or service not known"))
    return True

