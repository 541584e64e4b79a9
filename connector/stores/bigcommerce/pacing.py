"""Flow control of the BigCommerce client: the store's request budget (bc §6).

BigCommerce reports the per-store window on each response (``X-Rate-Limit-Requests-Left``,
``X-Rate-Limit-Time-Reset-Ms`` …); :class:`RateState` keeps the last of them so callers can slow
down *before* hitting the wall. The store's quota is shared by the fleet through a
:class:`StoreBudget` (a Redis limiter every worker draws from), and when the last response said
the window is nearly spent the client waits for its reset — briefly, or it raises
:class:`~connector.errors.RateLimited` and the task waits instead (issue 10, seen 8).

The waiting itself is the shared :class:`connector.stores.pacing.Pacing`; this module reads
BigCommerce's headers.
"""

from __future__ import annotations

import time

import requests

from connector.stores.pacing import Pacing as StorePacing
from connector.stores.pacing import RateState, StoreBudget, int_header

__all__ = ["Pacing", "RateState", "StoreBudget"]


class Pacing(StorePacing):
    """The client's flow control: reads the budget headers of every response and waits (or
    raises :class:`RateLimited`) before a request the window has no room for."""

    def _read_rate(self, response: requests.Response) -> RateState | None:
        headers = response.headers
        left = int_header(headers, "X-Rate-Limit-Requests-Left")
        reset = int_header(headers, "X-Rate-Limit-Time-Reset-Ms")
        if left is None and reset is None:
            return None
        return RateState(
            requests_left=left,
            requests_quota=int_header(headers, "X-Rate-Limit-Requests-Quota"),
            window_ms=int_header(headers, "X-Rate-Limit-Time-Window-Ms"),
            reset_ms=reset,
            observed_at=time.monotonic(),
        )
