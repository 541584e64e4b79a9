"""Status → error table shared by every client (design.md §5, conventions habit 6).

One function turns an HTTP response (or a transport failure) into the connector's error family,
so the three clients never disagree on what a 429 or a 503 means. Clients never retry here: the
task layer does (habit 5).
"""

from __future__ import annotations

from collections.abc import Callable

import requests

from connector.errors import (
    AuthError,
    Conflict,
    ConnectorError,
    DataError,
    NotFound,
    RateLimited,
    Transient,
)
from connector.patience import wait_out

DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read — every request carries one


def parse_retry_after(response: requests.Response) -> float | None:
    """Seconds to wait, from ``Retry-After`` (seconds), BigCommerce's ``X-Rate-Limit-Time-Reset-Ms``
    or ``X-Retry-After``. HTTP-date forms are rare on these APIs and fall back to backoff."""
    headers = response.headers
    reset_ms = headers.get("X-Rate-Limit-Time-Reset-Ms")
    if reset_ms:
        try:
            return max(0.0, float(reset_ms) / 1000.0)
        except ValueError:
            pass
    for name in ("Retry-After", "X-Retry-After"):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                continue
    return None


def error_for_response(
    response: requests.Response,
    *,
    message: str | None = None,
    code: str | None = None,
) -> ConnectorError:
    """The error a non-success response stands for. ``message``/``code`` come from the
    remote system's own error body when the client could parse it."""
    status = response.status_code
    url = response.url
    text = message or response.reason or "request failed"
    if status == 429 or (status == 503 and "Retry-After" in response.headers):
        return RateLimited(text, status=status, url=url, code=code,
                           retry_after=parse_retry_after(response))
    if status in (401, 403):
        return AuthError(text, status=status, url=url, code=code)
    if status == 412:
        return Conflict(text, status=status, url=url, code=code)
    if status == 404:
        return NotFound(text, status=status, url=url, code=code)
    if status in (408, 423, 425) or status >= 500:
        return Transient(text, status=status, url=url, code=code,
                         retry_after=parse_retry_after(response))
    return DataError(text, status=status, url=url, code=code)


def transport_error(exc: requests.RequestException, url: str) -> Transient:
    """Timeouts, refused and dropped connections: always transient."""
    kind = type(exc).__name__
    return Transient(f"{kind} talking to the remote system", url=url)


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    describe: Callable[[requests.Response], tuple[str | None, str | None]] | None = None,
    ok: tuple[int, ...] = (200, 201, 204),
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    before_each: Callable[[], None] | None = None,
    **kwargs: object,
) -> requests.Response:
    """One request with a timeout, typed errors and no retry — except inside an operator's
    :func:`connector.patience.patience` block, where a 429/503 or a dropped connection is
    waited out (server hint as a floor) while patience lasts.

    ``describe`` extracts (message, code) from the remote system's error body.
    ``before_each`` runs before every attempt, the resends inside a patience block included
    (a store client's flow control: its budget grant and the fleet's hold).
    """
    attempt = 0
    while True:
        if before_each is not None:
            before_each()
        try:
            return _send_once(session, method, url, describe=describe, ok=ok, timeout=timeout,
                              **kwargs)
        except ConnectorError as exc:
            if not wait_out(exc, attempt):
                raise
            attempt += 1


def _send_once(
    session: requests.Session,
    method: str,
    url: str,
    *,
    describe: Callable[[requests.Response], tuple[str | None, str | None]] | None,
    ok: tuple[int, ...],
    timeout: float | tuple[float, float],
    **kwargs: object,
) -> requests.Response:
    try:
        response = session.request(method, url, timeout=timeout, **kwargs)  # type: ignore[arg-type]
    except requests.RequestException as exc:
        raise transport_error(exc, url) from None
    if response.status_code in ok:
        return response
    message, code = (None, None)
    if describe is not None:
        try:
            message, code = describe(response)
        except ValueError:
            message, code = (None, None)
    raise error_for_response(response, message=message, code=code)
