"""WooCommerce paging: page-number pages, the order keyset scan and its ``orderby=date`` fallback.

Order polling (woo §4, decision 2): keyset re-queries on ``date_modified_gmt`` with an overlap,
never deep page offsets over a changing set — see :func:`connector.http.paging.keyset_scan`.
The functions here take the client's one-page readers as callables, so they never send a
request themselves and never retry or sleep (conventions habit 5).
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests

from connector.errors import Transient
from connector.http.paging import (
    ONE_SECOND,
    Ceiling,
    KeysetScan,
    Page,
    keyset_scan,
    numbered_window,
    to_utc,
)

__all__ = [
    "iter_numbered_pages",
    "order_modified",
    "order_version_key",
    "page_of",
    "parse_gmt",
    "scan_orders",
    "scan_orders_by_date",
]

Row = dict[str, Any]
#: ``(after_gmt, page, before_gmt, orderby)`` → one page of orders.
OrderPages = Callable[[datetime | None, int, datetime | None, str | None], Page]


# --------------------------------------------------------------------------------------------
# dates and version keys


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


def order_modified(row: Mapping[str, Any]) -> datetime | None:
    """When an order last changed: ``date_modified_gmt``, else ``date_created_gmt``."""
    return parse_gmt(row.get("date_modified_gmt")) or parse_gmt(row.get("date_created_gmt"))


def order_version_key(row: Mapping[str, Any]) -> tuple[int, str]:
    """The dedupe key of one order version: ``(id, date_modified_gmt)`` (woo decision 2)."""
    return (int(row.get("id") or 0), str(row.get("date_modified_gmt") or ""))


def _order_key_time(key: Hashable) -> datetime | None:
    return parse_gmt(key[1]) if isinstance(key, tuple) and len(key) == 2 else None


# --------------------------------------------------------------------------------------------
# pages


def page_of(response: requests.Response, items: list[Row], page: int) -> Page:
    """One :class:`Page` from a list response: ``X-WP-Total``/``X-WP-TotalPages`` and ``Date``."""
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


def iter_numbered_pages(
    fetch: Callable[[int], Page], *, per_page: int, url: str
) -> Iterator[Row]:
    """Plain page-number iteration until a short/empty page, with loop detection (a caching
    layer that ignores ``?page=`` would otherwise return page 1 forever)."""
    previous: list[Any] | None = None
    page_no = 1
    while True:
        page = fetch(page_no)
        ids = [row.get("id") for row in page.items]
        if previous is not None and ids and ids == previous:
            raise Transient("the store returned the same page twice; a cache in front of "
                            "it may ignore the page parameter", url=url)
        yield from page.items
        if len(page.items) < per_page:
            return
        if page.total_pages is not None and page_no >= page.total_pages:
            return
        previous = ids
        page_no += 1


# --------------------------------------------------------------------------------------------
# order scans


def scan_orders(
    list_orders: OrderPages,
    after_gmt: datetime | None,
    start: datetime | None,
    seen: set[Hashable],
    initial: Iterable[tuple[int, str]],
    *,
    per_page: int,
) -> KeysetScan:
    """The keyset scan over ``orderby=modified`` (see :func:`keyset_scan` for why this never
    skips a record that changes while being read)."""

    def first_page(floor: datetime | None) -> Sequence[Row]:
        return list_orders(floor, 1, None, None).items

    def drain(lo: datetime, hi: datetime) -> Iterator[Row]:
        return numbered_window(
            lambda n: list_orders(lo, n, hi, "id"),
            key=order_version_key, page_size=per_page, what="orders",
        )

    ceiling = Ceiling()
    rows = keyset_scan(
        start=start, first_page=first_page, drain=drain, modified=order_modified,
        key=order_version_key, page_size=per_page, seen=seen, what="orders",
        ceiling=ceiling,
    )
    return KeysetScan(rows, start=after_gmt, modified=order_modified, key=order_version_key,
                      seen=initial, cap=ceiling, key_time=_order_key_time)


def scan_orders_by_date(
    list_orders: OrderPages,
    after_gmt: datetime | None,
    start: datetime | None,
    seen: set[Hashable],
    initial: Iterable[tuple[int, str]],
    *,
    per_page: int,
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
                page = list_orders(start, page_no, None, "date")
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
                if len(page.items) < per_page:
                    break
            if (total is not None and len(ids) >= total) or (total is None and not new):
                return
        raise Transient("gave up reading orders: the store kept changing faster than it "
                        "was read")

    def cap() -> datetime | None:
        moment = started[0] if started else None
        return moment - ONE_SECOND if moment is not None else None

    return KeysetScan(rows(), start=after_gmt, modified=order_modified,
                      key=order_version_key, cap=cap, seen=initial, key_time=_order_key_time)


def _int_header(response: requests.Response, name: str) -> int | None:
    value = response.headers.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None
