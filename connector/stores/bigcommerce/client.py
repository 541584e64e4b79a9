"""BigCommerce REST Management API client (v2 orders/shipments, v3 payments/customers/hooks).

Facts and decisions come from ``reference/bigcommerce.md`` (cited as "bc §N"):

* ``X-Auth-Token`` on every call, bases ``/stores/{hash}/v2`` and ``/v3`` (bc §1, decision 1);
* v2 lists: ``limit`` max 250 (above → 413), an empty list is **204 with no body**, no paging
  metadata — page until 204 or a short page (bc §2);
* v2 errors are JSON arrays ``[{"status","message","details"}]``, v3 errors
  ``{"status","title","type","errors"}`` (bc §7);
* 429 → :class:`~connector.errors.RateLimited` with ``X-Rate-Limit-Time-Reset-Ms``; a 429 without
  those headers is platform overload and gets ``retry_after=None`` (back off) (bc §6);
  :attr:`BigCommerceClient.rate_state` exposes the last budget headers so callers can slow down
  *before* hitting the wall;
* fallback polling: ``min_date_modified`` + ``sort=date_modified:asc`` with an overlap, keyset
  style (bc decision 4, same reasoning as woo §4: offsets over a moving set skip rows).

Never retries and never follows redirects (a 301 from plain HTTP would carry the token along,
bc §1). The one wait is flow control before sending: the store's quota is shared by the fleet
through ``budget`` (a Redis limiter every worker draws from), and when the last response said
the window is nearly spent the client waits for its reset — briefly, or it raises
:class:`~connector.errors.RateLimited` and the task waits instead (issue 10, seen 8).

The client is assembled here from one module per concern: ``transport`` (requests, bodies, v2/v3
paging, error bodies), ``pacing`` (flow control), ``orders_api`` (v2 orders and v3 payments),
``customers_api`` (v3 customers), ``hooks_api`` (v3 webhook management) and ``versions`` (dates
and keyset keys).
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import requests

from connector.config import Secret
from connector.http.errors import DEFAULT_TIMEOUT
from connector.http.session import new_session
from connector.stores.bigcommerce.customers_api import CustomersEndpoints
from connector.stores.bigcommerce.hooks_api import HooksEndpoints
from connector.stores.bigcommerce.orders_api import OrdersEndpoints
from connector.stores.bigcommerce.pacing import RateState, StoreBudget
from connector.stores.bigcommerce.transport import DEFAULT_API_BASE, MAX_LIMIT, Timeout

__all__ = ["BigCommerceClient"]


class BigCommerceClient(OrdersEndpoints, CustomersEndpoints, HooksEndpoints):
    """One BigCommerce store (``store_hash``) through a store-level API account token.

    ``base_url`` is the API host (``https://api.bigcommerce.com`` in production, the sandbox in
    tests). ``overlap`` is the look-back applied to the polling watermark (bc decision 4).
    """

    def __init__(
        self,
        base_url: str,
        store_hash: str,
        access_token: Secret,
        *,
        session: requests.Session | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        limit: int = MAX_LIMIT,
        overlap: timedelta = timedelta(seconds=10),
        budget: StoreBudget | None = None,
        reserve: int = 5,
    ) -> None:
        base = (base_url or DEFAULT_API_BASE).strip().rstrip("/")
        if urlsplit(base).scheme.lower() not in ("http", "https"):
            raise ValueError("the BigCommerce API URL must start with https://")
        if not store_hash or "/" in store_hash:
            raise ValueError("the store hash must be a non-empty identifier")
        self.base_url = base
        self.store_hash = store_hash
        self.v2_url = f"{base}/stores/{store_hash}/v2"
        self.v3_url = f"{base}/stores/{store_hash}/v3"
        self.session = session if session is not None else new_session()
        self.timeout = timeout
        self.limit = max(1, min(int(limit), MAX_LIMIT))
        self.overlap = overlap
        self._token = access_token
        self._rate: RateState | None = None
        self.budget = budget
        self.reserve = reserve

    def __repr__(self) -> str:
        return f"BigCommerceClient({self.base_url!r}, {self.store_hash!r})"
