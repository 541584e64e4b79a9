"""Flow control of the WooCommerce client (woo §5, decision 4; issue 10).

Core ``wc/v3`` never limits or sends 429; the hosting, a CDN/WAF or a security plugin in front
of the shop does, with or without ``Retry-After`` and in no fixed form. So:

* every source has a **fleet budget** (source setting ``request_budget_per_min``, default
  :data:`DEFAULT_REQUEST_BUDGET_PER_MIN`): the fleet never sends the shop more in any
  60-second window, whatever the number of workers;
* a 429/503 **wait hint** (``Retry-After`` in seconds or as an HTTP date,
  ``RateLimit-Retry-After``, or the reset of a window reported spent) is a floor under the
  task's backoff and holds the whole fleet back for that long (a :class:`FleetHold`);
* **rate-limit headers**, when a host sends them, are read before the next request:
  ``RateLimit-Limit/-Remaining/-Reset`` (the IETF draft; WooCommerce's Store API sends them with
  ``Reset`` as a Unix time) or ``X-RateLimit-*`` (common in WAFs). ``Reset`` is taken as a Unix
  time when it is one (≥ 10⁹), else as seconds from now.

The waiting is the shared :class:`connector.stores.pacing.Pacing`.
"""

from __future__ import annotations

import email.utils
import time

import requests

from connector.stores.pacing import FleetHold, RateState, StoreBudget, StoreHold, int_header
from connector.stores.pacing import Pacing as StorePacing

__all__ = ["DEFAULT_REQUEST_BUDGET_PER_MIN", "FleetHold", "RateState", "StoreBudget",
           "StoreHold", "WooPacing", "wait_hint"]

#: Requests per minute the fleet sends one shop unless the source says otherwise: 10 a second,
#: about what a small shared-hosting WordPress serves without queueing PHP workers; a shop
#: behind a stricter host or WAF lowers ``request_budget_per_min``, a big one raises it.
DEFAULT_REQUEST_BUDGET_PER_MIN = 600

#: A ``Reset`` at least this large is a Unix time, not a number of seconds.
_EPOCH = 1_000_000_000


def _header(response: requests.Response, *names: str) -> str | None:
    for name in names:
        value = response.headers.get(name)
        if value is not None and value.strip():
            return value
    return None


def _seconds(value: str | None, now: float) -> float | None:
    """Seconds from a delta (``"30"``), a Unix time or an HTTP date (``Retry-After``)."""
    if value is None:
        return None
    try:
        number = float(value.strip().split(",")[0].split(";")[0])
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - now)
    return max(0.0, number - now if number >= _EPOCH else number)


def wait_hint(response: requests.Response, now: float | None = None) -> float | None:
    """How long a 429/503 answer asks to wait, in seconds (``None``: it does not say)."""
    now = time.time() if now is None else now
    return _seconds(_header(response, "Retry-After", "RateLimit-Retry-After",
                            "X-RateLimit-Retry-After"), now)


class WooPacing(StorePacing):
    """Reads a WooCommerce host's rate-limit headers (there is no standard set, woo §5)."""

    def _read_rate(self, response: requests.Response) -> RateState | None:
        now = time.time()
        left = int_header(response.headers, "RateLimit-Remaining")
        if left is None:
            left = int_header(response.headers, "X-RateLimit-Remaining")
        limit = int_header(response.headers, "RateLimit-Limit")
        if limit is None:
            limit = int_header(response.headers, "X-RateLimit-Limit")
        reset = _seconds(_header(response, "RateLimit-Reset", "X-RateLimit-Reset"), now)
        if response.status_code in (429, 503):
            hint = wait_hint(response, now)
            if hint is not None:  # "come back in N seconds": the window is spent until then
                left, reset = 0, max(hint, reset or 0.0)
        if left is None and reset is None:
            return None
        return RateState(requests_left=left, requests_quota=limit, window_ms=None,
                         reset_ms=None if reset is None else round(reset * 1000),
                         observed_at=time.monotonic())
