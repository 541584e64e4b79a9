"""HTTP plumbing of the BigCommerce client: authenticated requests, bodies, v2 and v3 paging,
error bodies in words (``reference/bigcommerce.md``, cited as "bc §N").

* ``X-Auth-Token`` on every call, bases ``/stores/{hash}/v2`` and ``/v3`` (bc §1, decision 1);
* v2 lists: ``limit`` max 250 (above → 413), an empty list is **204 with no body**, no paging
  metadata — page until 204 or a short page (bc §2);
* v2 errors are JSON arrays ``[{"status","message","details"}]``, v3 errors
  ``{"status","title","type","errors"}`` (bc §7).

Never retries and never follows redirects (a 301 from plain HTTP would carry the token along,
bc §1); flow control before each request is :class:`~connector.stores.bigcommerce.pacing.Pacing`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests

from connector.config import Secret
from connector.errors import DataError, NotFound, Transient
from connector.http.errors import send
from connector.http.paging import Page
from connector.stores.bigcommerce.pacing import Pacing

__all__ = ["DEFAULT_API_BASE", "MAX_LIMIT", "BcTransport", "Row", "Timeout", "as_int",
           "describe_bc_error"]

Row = dict[str, Any]
Timeout = float | tuple[float, float]

DEFAULT_API_BASE = "https://api.bigcommerce.com"
#: v2 ``limit`` maximum; above it BigCommerce answers 413 (bc §2).
MAX_LIMIT = 250


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


def as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


class BcTransport(Pacing):
    """Requests to one store's v2 and v3 APIs; the endpoint mixins build on it."""

    v2_url: str
    v3_url: str
    session: requests.Session
    timeout: Timeout
    limit: int
    overlap: timedelta
    _token: Secret

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
        return send(self.session, method, url, describe=describe_bc_error, ok=ok,
                    timeout=self.timeout, before_each=self._before_send, **kwargs)

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
            total = as_int(pagination.get("total"))
            total_pages = as_int(pagination.get("total_pages"))
            current = as_int(pagination.get("current_page")) or current
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
