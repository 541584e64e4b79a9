"""WooCommerce REST API (``wc/v3``) client.

Facts and decisions come from ``reference/woocommerce.md`` (cited below as "woo §N"):

* auth (woo §1, decision 1): HTTPS → HTTP Basic with the consumer key/secret; plain HTTP →
  OAuth 1.0a one-legged (no token), parameters in the query string, ``oauth_version`` omitted;
* errors (woo §1): bodies are ``{"code","message","data":{"status"}}``; the ``code`` is kept on the
  typed error so the service can tell "key revoked / owner deleted" (decision 5) apart;
* 429/503 (woo §5, decision 4): core never sends them, a hosting/WAF layer does, so *every* 503
  is throttling here (``RateLimited``, with or without ``Retry-After``); the wait hint is a floor
  under the task's backoff and holds the fleet back (:mod:`connector.stores.woocommerce.pacing`);
* order polling (woo §4, decision 2): keyset re-queries on ``date_modified_gmt`` with an overlap,
  never deep page offsets over a changing set — in :mod:`connector.stores.woocommerce.paging`;
  the auth itself is in :mod:`connector.stores.woocommerce.auth`.

The client never retries (conventions habit 5): the task layer does. The one wait is flow
control before sending (:class:`~connector.stores.woocommerce.pacing.WooPacing`): the source's
request budget is shared by the fleet through ``budget`` (a Redis limiter every worker draws
from), a host's 429 wait hint through ``hold``, and when the host's rate-limit headers said the
window is nearly spent the client waits for its reset — briefly, or it raises
:class:`~connector.errors.RateLimited` and the task waits instead (issue 10).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import requests

from connector.config import Secret
from connector.errors import DataError, RateLimited, Transient
from connector.http.errors import DEFAULT_TIMEOUT, send
from connector.http.paging import KeysetScan, Page, naive_utc_iso, to_utc
from connector.http.session import new_session
from connector.stores.woocommerce.auth import store_auth
from connector.stores.woocommerce.pacing import RateState, StoreBudget, StoreHold, WooPacing
from connector.stores.woocommerce.paging import (
    iter_numbered_pages,
    page_of,
    parse_gmt,
    scan_orders,
    scan_orders_by_date,
)

__all__ = ["MAX_PER_PAGE", "WooCommerceClient", "describe_woo_error"]

Row = dict[str, Any]
Timeout = float | tuple[float, float]

#: WooCommerce rejects ``per_page`` above 100 with 400 ``rest_invalid_param`` (woo §4).
MAX_PER_PAGE = 100
API_PATH = "/wp-json/wc/v3"


def _created_in(row: Row, since: datetime | None, until: datetime | None) -> bool:
    created = parse_gmt(row.get("date_created_gmt"))
    if created is None:
        return since is None and until is None
    return ((since is None or created >= to_utc(since))
            and (until is None or created < to_utc(until)))


# --------------------------------------------------------------------------------------------
# errors


def describe_woo_error(response: requests.Response) -> tuple[str | None, str | None]:
    """(message, code) from a WooCommerce error body ``{"code","message","data":{"status"}}``.

    Non-JSON bodies come from hosting/WAF layers (woo §5); 3xx means the base URL is not the
    final address (redirects are never followed: they would carry the credentials along).
    """
    if 300 <= response.status_code < 400:
        location = response.headers.get("Location", "")
        target = urlsplit(location)
        where = f"{target.scheme}://{target.netloc}{target.path}" if target.netloc else "elsewhere"
        return (f"the store redirects to {where}; use the final address as the store URL", None)
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and (body.get("message") or body.get("code")):
        message = str(body.get("message") or body.get("code"))
        code = body.get("code")
        return (message, str(code) if code else None)
    if response.status_code in (429, 503):
        return ("the store's hosting or firewall is throttling requests", None)
    ctype = response.headers.get("Content-Type", "").split(";")[0].strip() or "no content type"
    return (f"the store answered HTTP {response.status_code} without a WooCommerce error body "
            f"({ctype})", None)


# --------------------------------------------------------------------------------------------
# the client


class WooCommerceClient(WooPacing):
    """One WooCommerce store, ``wc/v3``.

    ``base_url`` is the site address (``https://shop.example.org``); ``/wp-json/wc/v3`` is added
    unless already present. ``use_oauth1=None`` chooses by scheme (plain ``http`` → OAuth 1.0a,
    woo decision 1); ``True``/``False`` forces it — e.g. ``True`` for an ``https`` address whose
    TLS ends at a proxy that does not tell WordPress (``is_ssl()`` false, so Basic is ignored,
    woo §1) — then ``oauth_signed_url`` is the site URL as WordPress sees it (``http://…``),
    which the signature is computed for. ``order_by_modified=False`` falls back to
    ``orderby=date`` for stores whose WooCommerce rejects ``orderby=modified`` (woo §4,
    uncertain): slower, re-reads until complete. ``overlap`` is the look-back applied to the
    polling watermark (woo §4: exclusive 1-second boundary, late commits). ``budget`` (the
    source's fleet-wide request budget) and ``hold`` (the fleet's shared 429 wait) pace the
    requests; ``reserve`` requests of a host-reported window are left for the shop's others.
    """

    def __init__(
        self,
        base_url: str,
        consumer_key: str,
        consumer_secret: Secret,
        *,
        use_oauth1: bool | None = None,
        session: requests.Session | None = None,
        per_page: int = MAX_PER_PAGE,
        timeout: Timeout = DEFAULT_TIMEOUT,
        order_by_modified: bool = True,
        overlap: timedelta = timedelta(seconds=10),
        signature_method: Literal["HMAC-SHA256", "HMAC-SHA1"] = "HMAC-SHA256",
        oauth_signed_url: str | None = None,
        budget: StoreBudget | None = None,
        hold: StoreHold | None = None,
        reserve: int = 1,
    ) -> None:
        base = base_url.strip().rstrip("/")
        if base.endswith(API_PATH):
            base = base[: -len(API_PATH)]
        scheme = urlsplit(base).scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError("the store URL must start with http:// or https://")
        self.base_url = base
        self.api_url = base + API_PATH
        self.per_page = max(1, min(int(per_page), MAX_PER_PAGE))
        self.timeout = timeout
        self.order_by_modified = order_by_modified
        self.overlap = overlap
        self.session = session if session is not None else new_session()
        self.uses_oauth1 = (scheme == "http") if use_oauth1 is None else use_oauth1
        signed: str | None = None
        if self.uses_oauth1 and oauth_signed_url:
            signed = oauth_signed_url.strip().rstrip("/")
            if signed.endswith(API_PATH):
                signed = signed[: -len(API_PATH)]
            if urlsplit(signed).scheme.lower() not in ("http", "https"):
                raise ValueError("oauth_signed_url must start with http:// or https://")
        self._rate: RateState | None = None
        self.budget = budget
        self.hold = hold
        self.reserve = reserve
        self._auth = store_auth(consumer_key, consumer_secret, oauth1=self.uses_oauth1,
                                base=base, signature_method=signature_method, signed_base=signed)

    def __repr__(self) -> str:
        return f"WooCommerceClient({self.base_url!r}, oauth1={self.uses_oauth1})"

    # -- plumbing ---------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        ok: tuple[int, ...] = (200, 201),
    ) -> requests.Response:
        url = self.api_url + path
        kwargs: dict[str, Any] = {"auth": self._auth, "allow_redirects": False,
                                  "hooks": {"response": [self._observe]}}
        if params:
            kwargs["params"] = dict(params)
        if json is not None:
            kwargs["json"] = json
        try:
            return send(self.session, method, url, describe=describe_woo_error, ok=ok,
                        timeout=self.timeout, before_each=self._before_send, **kwargs)
        except RateLimited as exc:
            raise self._throttled(exc) from None
        except Transient as exc:
            if exc.status != 503:
                raise
            # woo decision 4: a 503 is WAF/hosting throttling, Retry-After or not.
            raise self._throttled(RateLimited(exc.message, status=503, url=exc.url,
                                              code=exc.code, retry_after=exc.retry_after)
                                  ) from None

    def _body(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            # A 200 HTML page: caching plugin, maintenance mode or a login wall in front.
            raise Transient("the store answered 200 with a non-JSON body (cache or firewall "
                            "page?)", status=response.status_code, url=response.url) from None

    def _dict(self, response: requests.Response) -> Row:
        body = self._body(response)
        if not isinstance(body, dict):
            raise DataError(f"the store answered with a JSON {type(body).__name__}, expected an "
                            "object", status=response.status_code, url=response.url)
        return body

    def _list(self, response: requests.Response) -> list[Row]:
        body = self._body(response)
        if not isinstance(body, list):
            raise DataError(f"the store answered with a JSON {type(body).__name__}, expected a "
                            "list", status=response.status_code, url=response.url)
        return [row for row in body if isinstance(row, dict)]

    def _page(self, path: str, params: Mapping[str, Any], page: int) -> Page:
        query = dict(params)
        query["page"] = page
        query["per_page"] = self.per_page
        response = self._request("GET", path, params=query)
        return page_of(response, self._list(response), page)

    def _iter_pages(self, path: str, params: Mapping[str, Any]) -> Iterator[Row]:
        """Every row of a page-numbered list (see :func:`iter_numbered_pages`)."""
        return iter_numbered_pages(lambda n: self._page(path, params, n),
                                   per_page=self.per_page, url=self.api_url + path)

    # -- orders -----------------------------------------------------------------------------

    def _order_query(
        self, after_gmt: datetime | None, before_gmt: datetime | None, orderby: str
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "orderby": orderby,
            "order": "asc",
            "status": "any",  # note: WordPress "any" excludes trash (woo §4, uncertain)
            "dates_are_gmt": "true",  # else filters compare site-local columns (woo §4)
        }
        if after_gmt is not None:
            params["modified_after"] = naive_utc_iso(after_gmt)
        if before_gmt is not None:
            params["modified_before"] = naive_utc_iso(before_gmt)
        return params

    def list_orders_modified_since(
        self,
        after_gmt: datetime | None,
        page: int = 1,
        *,
        before_gmt: datetime | None = None,
        orderby: str | None = None,
    ) -> Page:
        """One page of orders modified after ``after_gmt`` (UTC; naive taken as UTC), oldest
        modification first. Low level: use :meth:`iter_orders_since` to poll."""
        chosen = orderby or ("modified" if self.order_by_modified else "date")
        return self._page("/orders", self._order_query(after_gmt, before_gmt, chosen), page)

    def iter_orders_since(
        self,
        after_gmt: datetime | None,
        *,
        seen: Iterable[tuple[int, str]] = (),
        overlap: timedelta | None = None,
    ) -> KeysetScan:
        """Every order version modified after ``after_gmt - overlap``, each once (woo decision 2).

        ``seen`` are ``(id, date_modified_gmt)`` keys already processed (the cursor's keys at its
        watermark). The returned :class:`KeysetScan` yields raw order dicts and exposes the next
        ``watermark``. See :func:`connector.http.paging.keyset_scan` for why this never skips a
        record that changes while being read.
        """
        look_back = self.overlap if overlap is None else overlap
        start = to_utc(after_gmt) - look_back if after_gmt is not None else None
        initial = frozenset(seen)
        seen_keys: set[Hashable] = set(initial)
        scan = scan_orders if self.order_by_modified else scan_orders_by_date
        return scan(self._orders_page, after_gmt, start, seen_keys, initial,
                    per_page=self.per_page)

    def iter_order_pages_created(
        self,
        since: datetime | None,
        until: datetime | None,
        *,
        modified_after: datetime | None = None,
        per_page: int | None = None,
    ) -> Iterator[list[Row]]:
        """Orders created in ``[since, until)`` (and modified after ``modified_after`` less the
        polling overlap, as polling reads them), one page at a time in id order: the chunks of
        a windowed reconciliation.

        ``after``/``before``/``modified_after`` are exclusive at one-second resolution (woo §4):
        the lower bounds are asked from a second earlier and rows outside the window dropped
        here. Creation dates never change, so id-ordered page numbers cannot skip a row."""
        size = max(1, min(int(per_page or self.per_page), MAX_PER_PAGE))
        params: dict[str, Any] = {"orderby": "id", "order": "asc", "status": "any",
                                  "dates_are_gmt": "true", "per_page": size}
        one = timedelta(seconds=1)
        if since is not None:
            params["after"] = naive_utc_iso(to_utc(since) - one)
        if until is not None:
            params["before"] = naive_utc_iso(until)
        if modified_after is not None:
            params["modified_after"] = naive_utc_iso(to_utc(modified_after) - self.overlap)
        previous: list[Any] | None = None
        page_no = 1
        while True:
            response = self._request("GET", "/orders", params={**params, "page": page_no})
            page = page_of(response, self._list(response), page_no)
            ids = [row.get("id") for row in page.items]
            if previous is not None and ids and ids == previous:
                raise Transient("the store returned the same page twice; a cache in front of "
                                "it may ignore the page parameter", url=self.api_url + "/orders")
            rows = [row for row in page.items if _created_in(row, since, until)]
            if rows:
                yield rows
            if len(page.items) < size or (page.total_pages is not None
                                          and page_no >= page.total_pages):
                return
            previous = ids
            page_no += 1

    def _orders_page(
        self, after_gmt: datetime | None, page: int, before_gmt: datetime | None,
        orderby: str | None,
    ) -> Page:
        return self.list_orders_modified_since(after_gmt, page, before_gmt=before_gmt,
                                               orderby=orderby)

    def get_order(self, order_id: int) -> Row:
        """One order. Unknown id → :class:`~connector.errors.NotFound`."""
        return self._dict(self._request("GET", f"/orders/{int(order_id)}"))

    # -- customers --------------------------------------------------------------------------

    def get_customer(self, customer_id: int) -> Row:
        """One registered customer. Guests are not customers (woo §3)."""
        return self._dict(self._request("GET", f"/customers/{int(customer_id)}"))

    def get_customers(self, customer_ids: Iterable[int]) -> list[Row]:
        """Registered customers by id, a page of them per request (``include``; ``role=all``,
        as shop staff who buy are customers too, woo §4). An id that no longer exists is
        absent from the answer."""
        ids = sorted({int(i) for i in customer_ids})
        rows: list[Row] = []
        for start in range(0, len(ids), self.per_page):
            chunk = ids[start:start + self.per_page]
            params = {"include": ",".join(map(str, chunk)), "role": "all", "orderby": "id",
                      "order": "asc"}
            rows.extend(self._iter_pages("/customers", params))
        return rows

    def iter_customers(self) -> Iterator[Row]:
        """Full scan of registered customers, oldest id first (woo decision 3).

        ``/customers`` has no date filter, and ``role`` defaults to ``customer`` — ``role=all``
        also returns shop staff who buy (woo §4). The caller skips unchanged ones by hash.
        """
        params = {"orderby": "id", "order": "asc", "role": "all"}
        return self._iter_pages("/customers", params)

    # -- webhooks ---------------------------------------------------------------------------

    def create_webhook(
        self,
        topic: str,
        delivery_url: str,
        secret: Secret | str,
        *,
        name: str | None = None,
        status: str = "active",
    ) -> Row:
        """Create a webhook. The secret is always set explicitly (woo §6); it is write-only."""
        raw_secret = secret.reveal() if isinstance(secret, Secret) else secret
        body = {
            "name": name or f"ml-connector {topic}",
            "topic": topic,
            "delivery_url": delivery_url,
            "secret": raw_secret,
            "status": status,
        }
        return self._dict(self._request("POST", "/webhooks", json=body))

    def list_webhooks(self, **filters: Any) -> list[Row]:
        """All webhooks (any status unless ``status=`` is given)."""
        params = {"status": "all", **filters}
        return list(self._iter_pages("/webhooks", params))

    def update_webhook(self, webhook_id: int, **fields: Any) -> Row:
        """Change fields, e.g. ``status="active"`` to re-enable a disabled hook (woo §6)."""
        if isinstance(fields.get("secret"), Secret):
            fields["secret"] = fields["secret"].reveal()
        response = self._request("PUT", f"/webhooks/{int(webhook_id)}", json=fields)
        return self._dict(response)

    def delete_webhook(self, webhook_id: int) -> Row:
        """Delete a webhook permanently (``force=true``: webhooks have no trash)."""
        response = self._request("DELETE", f"/webhooks/{int(webhook_id)}",
                                 params={"force": "true"})
        return self._dict(response)

