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
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from connector.config import Secret
from connector.errors import DataError, NotFound, RateLimited, Transient
from connector.http.errors import DEFAULT_TIMEOUT, new_session, send
from connector.http.paging import (
    Ceiling,
    KeysetScan,
    Page,
    keyset_scan,
    naive_utc_iso,
    numbered_window,
    to_utc,
)
from connector.patience import remaining

__all__ = [
    "DEFAULT_API_BASE",
    "MAX_LIMIT",
    "BigCommerceClient",
    "RateState",
    "customer_version_key",
    "describe_bc_error",
    "order_version_key",
    "parse_rfc2822",
]

Row = dict[str, Any]


class StoreBudget(Protocol):
    """The fleet-wide request budget of one store (``connector.ratelimit.RedisBudget``)."""

    @property
    def max_wait_s(self) -> float: ...

    def acquire_waiting(self, n: int = 1) -> None: ...
Timeout = float | tuple[float, float]

DEFAULT_API_BASE = "https://api.bigcommerce.com"
#: v2 ``limit`` maximum; above it BigCommerce answers 413 (bc §2).
MAX_LIMIT = 250
_EMAILS_PER_QUERY = 50  # keeps ``email:in=`` URLs well under common 8 KB limits


# --------------------------------------------------------------------------------------------
# dates and keys


def parse_rfc2822(value: object) -> datetime | None:
    """A v2 date (``Fri, 14 Mar 2025 09:05:40 +0000``) or v3 ISO date as aware UTC, else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _rfc2822(value: datetime) -> str:
    """``Fri, 14 Mar 2025 09:05:40 +0000`` — the documented v2 filter format (bc §2)."""
    return email.utils.format_datetime(to_utc(value).replace(microsecond=0))


def _order_modified(row: Mapping[str, Any]) -> datetime | None:
    return parse_rfc2822(row.get("date_modified")) or parse_rfc2822(row.get("date_created"))


def order_version_key(row: Mapping[str, Any]) -> tuple[int, str]:
    """Dedupe key of an order version, shared by the webhook and poll paths (bc decision 4)."""
    return (int(row.get("id") or 0), str(row.get("date_modified") or ""))


def _key_time(key: Hashable) -> datetime | None:
    return parse_rfc2822(key[1]) if isinstance(key, tuple) and len(key) == 2 else None


def _customer_modified(row: Mapping[str, Any]) -> datetime | None:
    return parse_rfc2822(row.get("date_modified")) or parse_rfc2822(row.get("date_created"))


def customer_version_key(row: Mapping[str, Any]) -> tuple[int, str]:
    """Dedupe key of a customer version."""
    return (int(row.get("id") or 0), str(row.get("date_modified") or ""))


# --------------------------------------------------------------------------------------------
# rate budget


@dataclass(frozen=True)
class RateState:
    """The per-store request budget as of the last response (bc §6 headers).

    ``observed_at`` is ``time.monotonic()`` when it was read. Every field may be ``None``: the
    headers are not guaranteed on every response.
    """

    requests_left: int | None
    requests_quota: int | None
    window_ms: int | None
    reset_ms: int | None
    observed_at: float

    @property
    def reset_s(self) -> float | None:
        """Seconds until the window resets, as of ``observed_at``."""
        return None if self.reset_ms is None else self.reset_ms / 1000.0

    def suggested_wait(self, reserve: int = 0, now: float | None = None) -> float:
        """Seconds to wait before the next request so that ``reserve`` requests stay for others
        (0 when budget remains or nothing is known)."""
        if self.requests_left is None or self.requests_left > reserve or self.reset_ms is None:
            return 0.0
        elapsed = (time.monotonic() if now is None else now) - self.observed_at
        return max(0.0, self.reset_ms / 1000.0 - elapsed)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# errors


def describe_bc_error(response: requests.Response) -> tuple[str | None, str | None]:
    """(message, code) from a BigCommerce error body: v2 arrays ``[{"status","message",
    "details"}]`` or v3 objects ``{"status","title","type","errors"}`` (bc §7)."""
    status = response.status_code
    if 300 <= status < 400:
        target = urlsplit(response.headers.get("Location", ""))
        where = f"{target.scheme}://{target.netloc}{target.path}" if target.netloc else "elsewhere"
        return (f"BigCommerce redirects to {where}; check the API base URL (HTTPS)", None)
    try:
        body = response.json()
    except ValueError:
        body = None
    parts: list[str] = []
    if isinstance(body, list):
        for entry in body:
            if not isinstance(entry, dict):
                continue
            text = str(entry.get("message") or "").strip()
            details = entry.get("details")
            if isinstance(details, dict) and details:
                text += " (" + ", ".join(f"{k}: {v}" for k, v in details.items()) + ")"
            elif isinstance(details, str) and details:
                text += f" ({details})"
            if text:
                parts.append(text)
    elif isinstance(body, dict):
        title = str(body.get("title") or body.get("message") or body.get("error") or "").strip()
        if title:
            parts.append(title)
        errors = body.get("errors")
        if isinstance(errors, dict):
            parts.extend(f"{k}: {v}" for k, v in errors.items())
        elif isinstance(errors, list):
            parts.extend(str(e) for e in errors if e)
    if parts:
        return ("; ".join(parts), None)
    if status == 429:
        if "X-Rate-Limit-Time-Reset-Ms" in response.headers:
            return ("the store's API request quota is used up for this window", None)
        return ("BigCommerce is overloaded (429 without rate-limit headers)", None)
    return (None, None)


# --------------------------------------------------------------------------------------------
# the client


class BigCommerceClient:
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

    # -- rate budget ------------------------------------------------------------------------

    @property
    def rate_state(self) -> RateState | None:
        """Budget headers of the last response that carried them (``None`` before any)."""
        return self._rate

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        headers = response.headers
        left = _int_header(headers, "X-Rate-Limit-Requests-Left")
        reset = _int_header(headers, "X-Rate-Limit-Time-Reset-Ms")
        if left is None and reset is None:
            return
        self._rate = RateState(
            requests_left=left,
            requests_quota=_int_header(headers, "X-Rate-Limit-Requests-Quota"),
            window_ms=_int_header(headers, "X-Rate-Limit-Time-Window-Ms"),
            reset_ms=reset,
            observed_at=time.monotonic(),
        )

    def _before_send(self) -> None:
        """Flow control before every request (bc §6): when the last response said the store's
        window is nearly spent, wait for its reset (or raise :class:`RateLimited` with the wait
        when it is long); then take a token from the fleet-wide budget every worker shares."""
        if self._rate is not None:
            wait = self._rate.suggested_wait(reserve=self.reserve)
            if wait > 0:
                if self.budget is None or wait > max(self.budget.max_wait_s, remaining()):
                    raise RateLimited("the store's request window is nearly spent",
                                      code="BUDGET_EXHAUSTED", retry_after=wait)
                time.sleep(wait)
                self._rate = None
        if self.budget is not None:
            self.budget.acquire_waiting()

    # -- plumbing ---------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        ok: tuple[int, ...] = (200, 201, 204),
    ) -> requests.Response:
        kwargs: dict[str, Any] = {
            "headers": {"X-Auth-Token": self._token.reveal(), "Accept": "application/json"},
            "allow_redirects": False,
            "hooks": {"response": [self._observe]},
        }
        if params:
            kwargs["params"] = dict(params)
        if json is not None:
            kwargs["json"] = json
        self._before_send()
        return send(self.session, method, url, describe=describe_bc_error, ok=ok,
                    timeout=self.timeout, **kwargs)

    @staticmethod
    def _body(response: requests.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise Transient("BigCommerce answered with a non-JSON body",
                            status=response.status_code, url=response.url) from None

    def _v2_object(self, path: str) -> Row:
        response = self._request("GET", self.v2_url + path)
        body = self._body(response)
        if body is None:
            raise NotFound("BigCommerce returned no content", status=response.status_code,
                           url=response.url)
        if not isinstance(body, dict):
            raise DataError("BigCommerce answered with an unexpected shape (expected an object)",
                            status=response.status_code, url=response.url)
        return body

    def _v2_page(self, path: str, params: Mapping[str, Any]) -> list[Row]:
        response = self._request("GET", self.v2_url + path, params=params)
        body = self._body(response)
        if body is None:  # 204: an empty v2 list (bc §2, decision 1)
            return []
        if not isinstance(body, list):
            raise DataError("BigCommerce answered with an unexpected shape (expected a list)",
                            status=response.status_code, url=response.url)
        return [row for row in body if isinstance(row, dict)]

    def _v2_list(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Row]:
        """All pages of a v2 list: ``limit=250``, until 204 or a short page (bc §2)."""
        previous: list[Any] | None = None
        page = 1
        while True:
            rows = self._v2_page(path, {**(params or {}), "limit": self.limit, "page": page})
            ids = [row.get("id") for row in rows]
            if previous is not None and ids and ids == previous:
                raise Transient("BigCommerce returned the same page twice",
                                url=self.v2_url + path)
            yield from rows
            if len(rows) < self.limit:
                return
            previous = ids
            page += 1

    def _v3(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
            json: Any = None) -> Any:
        """The ``data`` member of a v3 response (``None`` for 204)."""
        response = self._request(method, self.v3_url + path, params=params, json=json)
        body = self._body(response)
        if body is None:
            return None
        if not isinstance(body, dict):
            raise DataError("BigCommerce answered with an unexpected shape (expected an object)",
                            status=response.status_code, url=response.url)
        return body.get("data")

    def _v3_page(self, path: str, params: Mapping[str, Any]) -> tuple[list[Row], Page]:
        response = self._request("GET", self.v3_url + path, params=params)
        body = self._body(response)
        if body is None:
            return [], Page(items=[], total=0, total_pages=0)
        if not isinstance(body, dict):
            raise DataError("BigCommerce answered with an unexpected shape (expected an object)",
                            status=response.status_code, url=response.url)
        data = body.get("data")
        rows = [row for row in data if isinstance(row, dict)] if isinstance(data, list) else []
        meta = body.get("meta")
        pagination = meta.get("pagination") if isinstance(meta, dict) else None
        total = total_pages = None
        current = int(params.get("page", 1))
        if isinstance(pagination, dict):
            total = _as_int(pagination.get("total"))
            total_pages = _as_int(pagination.get("total_pages"))
            current = _as_int(pagination.get("current_page")) or current
        return rows, Page(items=rows, total=total, total_pages=total_pages, page=current)

    def _v3_list(self, path: str, params: Mapping[str, Any] | None = None, *,
                 paged: bool = True) -> Iterator[Row]:
        """All pages of a v3 list, following ``meta.pagination`` (or short pages)."""
        page_no = 1
        while True:
            query = dict(params or {})
            if paged:
                query.update({"page": page_no, "limit": self.limit})
            elif page_no > 1:
                query["page"] = page_no  # keep the server's default page size
            rows, page = self._v3_page(path, query)
            yield from rows
            if not rows:
                return
            if page.total_pages is not None:
                if page_no >= page.total_pages:
                    return
            elif not paged or len(rows) < self.limit:
                return
            page_no += 1

    # -- orders (v2) ------------------------------------------------------------------------

    def iter_orders_modified_since(
        self,
        since: datetime | None,
        *,
        seen: Iterable[tuple[int, str]] = (),
        overlap: timedelta | None = None,
    ) -> KeysetScan:
        """Every order version modified since ``since - overlap``, each once, none skipped while
        orders change during the run (bc decision 4; see ``keyset_scan``).

        Keyset: ``min_date_modified`` (RFC 2822) + ``sort=date_modified:asc`` + ``limit=250``,
        re-queried from just before the last second seen. When more than a page of orders share
        one second, that bounded window is read with an id keyset (``sort=id:asc&min_id=``).
        Archived and Incomplete orders are hidden by BigCommerce by default (bc §2).
        """
        look_back = self.overlap if overlap is None else overlap
        start = to_utc(since) - look_back if since is not None else None
        initial = frozenset(seen)
        seen_keys: set[Hashable] = set(initial)

        def first_page(floor: datetime | None) -> Sequence[Row]:
            params: dict[str, Any] = {"sort": "date_modified:asc", "limit": self.limit,
                                      "page": 1}
            if floor is not None:
                params["min_date_modified"] = _rfc2822(floor)
            return self._v2_page("/orders", params)

        def drain(lo: datetime, hi: datetime) -> Iterator[Row]:
            last_id: int | None = None
            while True:
                params: dict[str, Any] = {
                    "min_date_modified": _rfc2822(lo),
                    "max_date_modified": _rfc2822(hi),
                    "sort": "id:asc",
                    "limit": self.limit,
                    "page": 1,
                }
                if last_id is not None:
                    # ``min_id`` inclusivity is undocumented: ask from the last id itself and
                    # let the dedupe drop it.
                    params["min_id"] = last_id
                rows = self._v2_page("/orders", params)
                yield from rows
                if len(rows) < self.limit:
                    return
                newest = max(int(row.get("id") or 0) for row in rows)
                if last_id is not None and newest <= last_id:
                    raise DataError("BigCommerce ignored the min_id filter while reading "
                                    "orders", url=self.v2_url + "/orders")
                last_id = newest

        ceiling = Ceiling()
        rows = keyset_scan(
            start=start, first_page=first_page, drain=drain, modified=_order_modified,
            key=order_version_key, page_size=self.limit, seen=seen_keys, what="orders",
            ceiling=ceiling,
        )
        return KeysetScan(rows, start=since, modified=_order_modified, key=order_version_key,
                          seen=initial, cap=ceiling, key_time=_key_time)

    def get_order(self, order_id: int) -> Row:
        """``GET /v2/orders/{id}``. Unknown → :class:`~connector.errors.NotFound`."""
        return self._v2_object(f"/orders/{int(order_id)}")

    def get_order_products(self, order_id: int) -> list[Row]:
        """All product lines (the endpoint defaults to 50: ``limit=250`` and paged, bc §2)."""
        return list(self._v2_list(f"/orders/{int(order_id)}/products"))

    def get_order_fees(self, order_id: int) -> list[Row]:
        """``GET /v2/orders/{id}/fees`` (all pages; bc "Money fields")."""
        return list(self._v2_list(f"/orders/{int(order_id)}/fees"))

    def get_shipping_addresses(self, order_id: int) -> list[Row]:
        """``GET /v2/orders/{id}/shipping_addresses`` (all pages)."""
        return list(self._v2_list(f"/orders/{int(order_id)}/shipping_addresses"))

    def get_shipments(self, order_id: int) -> list[Row]:
        """``GET /v2/orders/{id}/shipments``; none → 204 → ``[]`` (bc §2)."""
        return list(self._v2_list(f"/orders/{int(order_id)}/shipments"))

    def get_shipment(self, order_id: int, shipment_id: int) -> Row:
        """``GET /v2/orders/{id}/shipments/{shipment_id}``."""
        return self._v2_object(f"/orders/{int(order_id)}/shipments/{int(shipment_id)}")

    # -- payments (v3) ----------------------------------------------------------------------

    def get_transactions(self, order_id: int) -> list[Row]:
        """``GET /v3/orders/{id}/transactions`` → the ``data`` list (bc §3)."""
        return list(self._v3_list(f"/orders/{int(order_id)}/transactions", paged=False))

    def get_refunds(self, order_id: int) -> list[Row]:
        """``GET /v3/orders/{id}/payment_actions/refunds`` (all pages, id ascending)."""
        return list(self._v3_list(f"/orders/{int(order_id)}/payment_actions/refunds"))

    def get_refund(self, refund_id: int) -> Row:
        """One refund by id, through ``/v3/orders/payment_actions/refunds?id:in=`` (webhooks
        only carry ``refund_id``, bc §5). Unknown → :class:`~connector.errors.NotFound`."""
        wanted = int(refund_id)
        path = "/orders/payment_actions/refunds"
        for row in self._v3_list(path, {"id:in": wanted}):
            if _as_int(row.get("id")) == wanted:
                return row
        raise NotFound(f"refund {wanted} not found", url=self.v3_url + path)

    # -- customers (v3) ---------------------------------------------------------------------

    def iter_customers(
        self,
        modified_since: datetime | None = None,
        *,
        seen: Iterable[tuple[int, str]] = (),
        overlap: timedelta | None = None,
    ) -> KeysetScan:
        """Customers modified since ``modified_since - overlap`` (all when ``None``), each version
        once, oldest change first (``date_modified:min`` + ``sort=date_modified:asc``, bc §4).

        Same keyset as orders; a second holding more than a page is read with page numbers
        restarted whenever ``meta.pagination.total`` changes (v3 customers cannot sort by id).
        """
        look_back = self.overlap if overlap is None else overlap
        start = (to_utc(modified_since) - look_back) if modified_since is not None else None
        initial = frozenset(seen)
        seen_keys: set[Hashable] = set(initial)

        def query(lo: datetime | None, hi: datetime | None, page: int) -> dict[str, Any]:
            params: dict[str, Any] = {"sort": "date_modified:asc", "limit": self.limit,
                                      "page": page}
            if lo is not None:
                params["date_modified:min"] = naive_utc_iso(lo)
            if hi is not None:
                params["date_modified:max"] = naive_utc_iso(hi)
            return params

        def first_page(floor: datetime | None) -> Sequence[Row]:
            return self._v3_page("/customers", query(floor, None, 1))[0]

        def drain(lo: datetime, hi: datetime) -> Iterator[Row]:
            return numbered_window(
                lambda n: self._v3_page("/customers", query(lo, hi, n))[1],
                key=customer_version_key, page_size=self.limit, what="customers",
            )

        ceiling = Ceiling()
        rows = keyset_scan(
            start=start, first_page=first_page, drain=drain, modified=_customer_modified,
            key=customer_version_key, page_size=self.limit, seen=seen_keys, what="customers",
            ceiling=ceiling,
        )
        return KeysetScan(rows, start=modified_since, modified=_customer_modified,
                          key=customer_version_key, seen=initial, cap=ceiling, key_time=_key_time)

    def get_customer(self, customer_id: int) -> Row:
        """One customer via ``/v3/customers?id:in=``. Unknown → NotFound."""
        wanted = int(customer_id)
        for row in self._v3_list("/customers", {"id:in": wanted, "include": "addresses"}):
            if _as_int(row.get("id")) == wanted:
                return row
        raise NotFound(f"customer {wanted} not found", url=self.v3_url + "/customers")

    def find_customers_by_email(self, emails: Iterable[str]) -> list[Row]:
        """Customers whose e-mail is one of ``emails`` (bc decision 6: IFS matching by e-mail).

        Queried ``email:in=`` in chunks; blank and duplicate addresses are dropped.
        """
        unique: list[str] = []
        for address in emails:
            cleaned = address.strip().lower()
            if cleaned and cleaned not in unique:
                unique.append(cleaned)
        found: list[Row] = []
        for i in range(0, len(unique), _EMAILS_PER_QUERY):
            chunk = unique[i: i + _EMAILS_PER_QUERY]
            found.extend(self._v3_list("/customers", {"email:in": ",".join(chunk),
                                                      "include": "addresses"}))
        return found

    # -- webhooks (v3) ----------------------------------------------------------------------

    def list_hooks(self, **filters: Any) -> list[Row]:
        """``GET /v3/hooks`` (only this token's ``client_id``; filters ``is_active``, ``scope``,
        ``destination``)."""
        params = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in filters.items()}
        return list(self._v3_list("/hooks", params, paged=False))

    def create_hook(
        self,
        scope: str,
        destination: str,
        headers: Mapping[str, str] | None = None,
        is_active: bool = True,
    ) -> Row:
        """``POST /v3/hooks``. ``headers`` are sent on every callback (e.g. a custom secret
        header, bc decision 2). Limits: 10 per scope, 1 per scope and destination (bc §5)."""
        body: dict[str, Any] = {"scope": scope, "destination": destination,
                                "is_active": is_active}
        if headers:
            body["headers"] = dict(headers)
        data = self._v3("POST", "/hooks", json=body)
        return data if isinstance(data, dict) else {}

    def update_hook(self, hook_id: int, **fields: Any) -> Row:
        """``PUT /v3/hooks/{id}`` — e.g. ``is_active=True`` to re-activate (bc decision 3)."""
        data = self._v3("PUT", f"/hooks/{int(hook_id)}", json=fields)
        return data if isinstance(data, dict) else {}

    def delete_hook(self, hook_id: int) -> Row | None:
        """``DELETE /v3/hooks/{id}``; returns the deleted hook when BigCommerce echoes it."""
        data = self._v3("DELETE", f"/hooks/{int(hook_id)}")
        return data if isinstance(data, dict) else None

    def hooks_admin(self) -> Row:
        """``GET /v3/hooks/admin``: hook statuses and ``blocked_domains`` (bc §5)."""
        data = self._v3("GET", "/hooks/admin")
        return data if isinstance(data, dict) else {"hooks": data or []}


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None
