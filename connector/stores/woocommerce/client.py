"""WooCommerce REST API (``wc/v3``) client.

Facts and decisions come from ``reference/woocommerce.md`` (cited below as "woo §N"):

* auth (woo §1, decision 1): HTTPS → HTTP Basic with the consumer key/secret; plain HTTP →
  OAuth 1.0a one-legged (no token), parameters in the query string, ``oauth_version`` omitted;
* errors (woo §1): bodies are ``{"code","message","data":{"status"}}``; the ``code`` is kept on the
  typed error so the service can tell "key revoked / owner deleted" (decision 5) apart;
* 429/503 (woo §5, decision 4): core never sends them, a hosting/WAF layer does, so *every* 503
  is throttling here (``RateLimited``, with or without ``Retry-After``);
* order polling (woo §4, decision 2): keyset re-queries on ``date_modified_gmt`` with an overlap,
  never deep page offsets over a changing set — see :func:`connector.http.paging.keyset_scan`.

The client never retries and never sleeps (conventions habit 5): the task layer does.
"""

from __future__ import annotations

import email.utils
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_QUERY
from oauthlib.oauth1 import Client as OAuth1Client
from requests_oauthlib import OAuth1

from connector.config import Secret
from connector.errors import DataError, RateLimited, Transient
from connector.http.errors import DEFAULT_TIMEOUT, new_session, send
from connector.http.paging import (
    ONE_SECOND,
    Ceiling,
    KeysetScan,
    Page,
    keyset_scan,
    naive_utc_iso,
    numbered_window,
    to_utc,
)

__all__ = [
    "KEY_REJECTED_CODES",
    "MAX_PER_PAGE",
    "WooCommerceClient",
    "is_key_rejected",
    "order_version_key",
    "parse_gmt",
]

Row = dict[str, Any]
Timeout = float | tuple[float, float]

#: WooCommerce rejects ``per_page`` above 100 with 400 ``rest_invalid_param`` (woo §4).
MAX_PER_PAGE = 100
API_PATH = "/wp-json/wc/v3"

#: 401 codes meaning "this key no longer works" (woo §1/§2, decision 5): unknown key (revoked, or
#: its owner was deleted — keys die with their WordPress user) or bad secret/signature.
KEY_REJECTED_CODES = frozenset(
    {"woocommerce_rest_cannot_view", "woocommerce_rest_authentication_error"}
)


def is_key_rejected(exc: Exception) -> bool:
    """True when ``exc`` is a 401 saying the store no longer accepts this key (woo decision 5).

    The service pauses the source and raises an alert instead of failing every record. A 403
    ``woocommerce_rest_cannot_view`` (owner demoted) is an :class:`~connector.errors.AuthError`
    too but not this case.
    """
    return getattr(exc, "status", None) == 401 and getattr(exc, "code", None) in KEY_REJECTED_CODES


# --------------------------------------------------------------------------------------------
# dates


def parse_gmt(value: object) -> datetime | None:
    """A WooCommerce ``*_gmt`` value as an aware UTC datetime.

    WooCommerce sends ISO 8601 without an offset (woo §3); the ``_gmt`` fields are UTC, so a naive
    value is taken as UTC. ``None``/empty/garbage gives ``None``.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _order_modified(row: Mapping[str, Any]) -> datetime | None:
    return parse_gmt(row.get("date_modified_gmt")) or parse_gmt(row.get("date_created_gmt"))


def order_version_key(row: Mapping[str, Any]) -> tuple[int, str]:
    """The dedupe key of one order version: ``(id, date_modified_gmt)`` (woo decision 2)."""
    return (int(row.get("id") or 0), str(row.get("date_modified_gmt") or ""))


def _order_key_time(key: Hashable) -> datetime | None:
    return parse_gmt(key[1]) if isinstance(key, tuple) and len(key) == 2 else None


# --------------------------------------------------------------------------------------------
# OAuth 1.0a one-legged


class _WooOAuthClient(OAuth1Client):  # type: ignore[misc]
    """oauthlib client without ``oauth_version``: WooCommerce's recipe omits it (woo §1)."""

    def get_oauth_params(self, request: Any) -> list[tuple[str, str]]:
        params: list[tuple[str, str]] = super().get_oauth_params(request)
        return [(k, v) for k, v in params if k != "oauth_version"]


class _SignAsAuth(requests.auth.AuthBase):
    """OAuth 1.0a signed for the URL the shop signs, sent to the URL we call.

    WooCommerce core signs ``get_home_url(null, path, is_ssl() ? 'https' : 'http')``: behind a
    TLS-terminating proxy that does not set ``HTTPS=on`` the shop signs ``http://…`` while the
    client calls ``https://…``, and a signature over the called URL fails (woo "OAuth 1.0a
    behind a TLS-terminating proxy"). The source setting ``oauth_signed_url`` names the base
    the shop signs; the request still goes to the store URL.
    """

    def __init__(self, inner: requests.auth.AuthBase, called: str, signed: str) -> None:
        self.inner = inner
        self.called = called.rstrip("/")
        self.signed = signed.rstrip("/")

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        url = r.url or ""
        if url.startswith(self.called):
            r.url = self.signed + url[len(self.called):]
        r = self.inner(r)
        url = r.url or ""
        if url.startswith(self.signed):
            r.url = self.called + url[len(self.signed):]
        return r


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


class WooCommerceClient:
    """One WooCommerce store, ``wc/v3``.

    ``base_url`` is the site address (``https://shop.example.org``); ``/wp-json/wc/v3`` is added
    unless already present. ``use_oauth1=None`` chooses by scheme (plain ``http`` → OAuth 1.0a,
    woo decision 1); ``True``/``False`` forces it — e.g. ``True`` for an ``https`` address whose
    TLS ends at a proxy that does not tell WordPress (``is_ssl()`` false, so Basic is ignored,
    woo §1) — then ``oauth_signed_url`` is the site URL as WordPress sees it (``http://…``),
    which the signature is computed for. ``order_by_modified=False`` falls back to
    ``orderby=date`` for stores whose WooCommerce rejects ``orderby=modified`` (woo §4,
    uncertain): slower, re-reads until complete. ``overlap`` is the look-back applied to the
    polling watermark (woo §4: exclusive 1-second boundary, late commits).
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
        self._auth: requests.auth.AuthBase
        if self.uses_oauth1:
            method = (
                SIGNATURE_HMAC_SHA1 if signature_method == "HMAC-SHA1" else SIGNATURE_HMAC_SHA256
            )
            self._auth = OAuth1(
                consumer_key,
                client_secret=consumer_secret.reveal(),
                signature_method=method,
                signature_type=SIGNATURE_TYPE_QUERY,
                client_class=_WooOAuthClient,
            )
            if oauth_signed_url:
                signed = oauth_signed_url.strip().rstrip("/")
                if signed.endswith(API_PATH):
                    signed = signed[: -len(API_PATH)]
                if urlsplit(signed).scheme.lower() not in ("http", "https"):
                    raise ValueError("oauth_signed_url must start with http:// or https://")
                self._auth = _SignAsAuth(self._auth, base, signed)
        else:
            self._auth = requests.auth.HTTPBasicAuth(consumer_key, consumer_secret.reveal())

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
        kwargs: dict[str, Any] = {"auth": self._auth, "allow_redirects": False}
        if params:
            kwargs["params"] = dict(params)
        if json is not None:
            kwargs["json"] = json
        try:
            return send(self.session, method, url, describe=describe_woo_error, ok=ok,
                        timeout=self.timeout, **kwargs)
        except Transient as exc:
            if exc.status != 503:
                raise
            # woo decision 4: a 503 is WAF/hosting throttling, Retry-After or not.
            raise RateLimited(exc.message, status=503, url=exc.url, code=exc.code,
                              retry_after=exc.retry_after) from None

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
        items = self._list(response)
        server_date: datetime | None = None
        if response.headers.get("Date"):
            try:
                server_date = email.utils.parsedate_to_datetime(response.headers["Date"])
            except (TypeError, ValueError):
                server_date = None
        return Page(
            items=items,
            total=_int_header(response, "X-WP-Total"),
            total_pages=_int_header(response, "X-WP-TotalPages"),
            page=page,
            server_date=to_utc(server_date) if server_date else None,
        )

    def _iter_pages(self, path: str, params: Mapping[str, Any]) -> Iterator[Row]:
        """Plain page-number iteration until a short/empty page, with loop detection (a caching
        layer that ignores ``?page=`` would otherwise return page 1 forever)."""
        previous: list[Any] | None = None
        page_no = 1
        while True:
            page = self._page(path, params, page_no)
            ids = [row.get("id") for row in page.items]
            if previous is not None and ids and ids == previous:
                raise Transient("the store returned the same page twice; a cache in front of "
                                "it may ignore the page parameter", url=self.api_url + path)
            yield from page.items
            if len(page.items) < self.per_page:
                return
            if page.total_pages is not None and page_no >= page.total_pages:
                return
            previous = ids
            page_no += 1

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
        ``watermark``. See :func:`keyset_scan` for why this never skips a record that changes
        while being read.
        """
        look_back = self.overlap if overlap is None else overlap
        start = to_utc(after_gmt) - look_back if after_gmt is not None else None
        initial = frozenset(seen)
        seen_keys: set[Hashable] = set(initial)
        if not self.order_by_modified:
            return self._scan_by_date(after_gmt, start, seen_keys, initial)

        def first_page(floor: datetime | None) -> Sequence[Row]:
            return self.list_orders_modified_since(floor, 1).items

        def drain(lo: datetime, hi: datetime) -> Iterator[Row]:
            return numbered_window(
                lambda n: self.list_orders_modified_since(lo, n, before_gmt=hi, orderby="id"),
                key=order_version_key, page_size=self.per_page, what="orders",
            )

        ceiling = Ceiling()
        rows = keyset_scan(
            start=start, first_page=first_page, drain=drain, modified=_order_modified,
            key=order_version_key, page_size=self.per_page, seen=seen_keys, what="orders",
            ceiling=ceiling,
        )
        return KeysetScan(rows, start=after_gmt, modified=_order_modified, key=order_version_key,
                          seen=initial, cap=ceiling, key_time=_order_key_time)

    def _scan_by_date(
        self,
        after_gmt: datetime | None,
        start: datetime | None,
        seen: set[Hashable],
        initial: Iterable[tuple[int, str]],
    ) -> KeysetScan:
        """Fallback for stores that reject ``orderby=modified``: ``orderby=date`` over the
        ``modified_after`` set. Creation order does not move when an order changes, but an older
        order modified mid-run *enters* the set at its old position, so whole passes repeat
        until the rows read match ``X-WP-Total``; the watermark is capped at the server time of
        the first response so versions written during the run are read again next time."""
        started: list[datetime | None] = []

        def rows() -> Iterator[Row]:
            for _ in range(20):
                ids: set[int] = set()
                total: int | None = None
                new = False
                previous: list[Any] | None = None
                for page_no in range(1, 100_000):
                    page = self.list_orders_modified_since(start, page_no, orderby="date")
                    page_ids = [row.get("id") for row in page.items]
                    if previous is not None and page_ids and page_ids == previous:
                        raise Transient("the store returned the same page of orders twice; a "
                                        "cache in front of it may ignore the page parameter")
                    previous = page_ids
                    if not started:
                        started.append(page.server_date)
                    total = page.total
                    for row in page.items:
                        ids.add(int(row.get("id") or 0))
                        k = order_version_key(row)
                        if k not in seen:
                            seen.add(k)
                            new = True
                            yield row
                    if len(page.items) < self.per_page:
                        break
                if (total is not None and len(ids) >= total) or (total is None and not new):
                    return
            raise Transient("gave up reading orders: the store kept changing faster than it "
                            "was read")

        def cap() -> datetime | None:
            moment = started[0] if started else None
            return moment - ONE_SECOND if moment is not None else None

        return KeysetScan(rows(), start=after_gmt, modified=_order_modified,
                          key=order_version_key, cap=cap, seen=initial, key_time=_order_key_time)

    def get_order(self, order_id: int) -> Row:
        """One order. Unknown id → :class:`~connector.errors.NotFound`."""
        return self._dict(self._request("GET", f"/orders/{int(order_id)}"))

    # -- customers --------------------------------------------------------------------------

    def get_customer(self, customer_id: int) -> Row:
        """One registered customer. Guests are not customers (woo §3)."""
        return self._dict(self._request("GET", f"/customers/{int(customer_id)}"))

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


def _int_header(response: requests.Response, name: str) -> int | None:
    value = response.headers.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None
