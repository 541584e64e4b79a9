"""Orders of the BigCommerce client: v2 orders and their sub-resources (products, fees,
shipping addresses, shipments) and v3 payments (transactions, refunds).

Fallback polling is ``min_date_modified`` + ``sort=date_modified:asc`` with an overlap, keyset
style (bc decision 4, same reasoning as woo §4: offsets over a moving set skip rows).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from connector.errors import DataError, NotFound
from connector.http.paging import Ceiling, KeysetScan, keyset_scan, to_utc
from connector.stores.bigcommerce.consignments import ORDER_INCLUDE
from connector.stores.bigcommerce.transport import BcTransport, Row, as_int
from connector.stores.bigcommerce.versions import (
    key_time,
    order_modified,
    order_version_key,
    parse_rfc2822,
    rfc2822,
)

__all__ = ["OrdersEndpoints"]


class OrdersEndpoints(BcTransport):
    """``/v2/orders`` and the order's v3 payment resources."""

    def iter_orders_modified_since(
        self,
        since: datetime | None,
        *,
        seen: Iterable[tuple[int, str]] = (),
        overlap: timedelta | None = None,
        embed: bool = True,
    ) -> KeysetScan:
        """Every order version modified since ``since - overlap``, each once, none skipped while
        orders change during the run (bc decision 4; see ``keyset_scan``).

        Keyset: ``min_date_modified`` (RFC 2822) + ``sort=date_modified:asc`` + ``limit=250``,
        re-queried from just before the last second seen. When more than a page of orders share
        one second, that bounded window is read with an id keyset (``sort=id:asc&min_id=``).
        Archived and Incomplete orders are hidden by BigCommerce by default (bc §2).
        ``embed``: each order carries its consignments with their line items and its fee lines
        (:data:`~connector.stores.bigcommerce.consignments.ORDER_INCLUDE`).
        """
        include: dict[str, Any] = dict(ORDER_INCLUDE) if embed else {}
        look_back = self.overlap if overlap is None else overlap
        start = to_utc(since) - look_back if since is not None else None
        initial = frozenset(seen)
        seen_keys: set[Hashable] = set(initial)

        def first_page(floor: datetime | None) -> Sequence[Row]:
            params: dict[str, Any] = {"sort": "date_modified:asc", "limit": self.limit,
                                      "page": 1, **include}
            if floor is not None:
                params["min_date_modified"] = rfc2822(floor)
            return self._v2_page("/orders", params)

        def drain(lo: datetime, hi: datetime) -> Iterator[Row]:
            last_id: int | None = None
            while True:
                params: dict[str, Any] = {
                    "min_date_modified": rfc2822(lo),
                    "max_date_modified": rfc2822(hi),
                    "sort": "id:asc",
                    "limit": self.limit,
                    "page": 1,
                    **include,
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
            start=start, first_page=first_page, drain=drain, modified=order_modified,
            key=order_version_key, page_size=self.limit, seen=seen_keys, what="orders",
            ceiling=ceiling,
        )
        return KeysetScan(rows, start=since, modified=order_modified, key=order_version_key,
                          seen=initial, cap=ceiling, key_time=key_time)

    def iter_order_pages_created(
        self,
        since: datetime | None,
        until: datetime | None,
        *,
        modified_since: datetime | None = None,
        limit: int | None = None,
    ) -> Iterator[list[Row]]:
        """Orders created in ``[since, until)`` (and modified since ``modified_since`` less the
        polling overlap, as polling reads them), one page at a time: the chunks of a windowed
        reconciliation.

        An id keyset (``sort=id:asc&min_id=``) over ``min/max_date_created`` (bc §2): creation
        dates never change, so no row is skipped. The date filters' inclusivity is undocumented:
        rows outside the window are dropped here."""
        size = max(1, min(int(limit or self.limit), self.limit))
        base: dict[str, Any] = {"sort": "id:asc", "limit": size, "page": 1}
        if since is not None:
            base["min_date_created"] = rfc2822(since)
        if until is not None:
            base["max_date_created"] = rfc2822(until)
        if modified_since is not None:
            base["min_date_modified"] = rfc2822(to_utc(modified_since) - self.overlap)
        lo, hi = (to_utc(since) if since else None), (to_utc(until) if until else None)
        next_id: int | None = None
        while True:
            params = dict(base) if next_id is None else {**base, "min_id": next_id}
            rows = self._v2_page("/orders", params)
            inside = []
            for row in rows:
                created = parse_rfc2822(row.get("date_created"))
                if (lo is None or (created is not None and created >= lo)) and (
                        hi is None or (created is not None and created < hi)):
                    inside.append(row)
            if inside:
                yield inside
            if len(rows) < size:
                return
            newest = max(int(row.get("id") or 0) for row in rows)
            if next_id is not None and newest < next_id:
                raise DataError("BigCommerce ignored the min_id filter while reading orders",
                                url=self.v2_url + "/orders")
            next_id = newest + 1

    def get_order(self, order_id: int, *, embed: bool = True) -> Row:
        """``GET /v2/orders/{id}``, with ``embed`` its consignments (line items, shipping
        addresses) and fee lines in the same request. Unknown → :class:`NotFound`."""
        path = f"/orders/{int(order_id)}"
        if not embed:
            return self._v2_object(path)
        response = self._request("GET", self.v2_url + path, params=dict(ORDER_INCLUDE))
        body = self._body(response)
        if body is None:
            raise NotFound("BigCommerce returned no content", status=response.status_code,
                           url=response.url)
        if not isinstance(body, dict):
            raise DataError("BigCommerce answered with an unexpected shape (expected an object)",
                            status=response.status_code, url=response.url)
        return body

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
            if as_int(row.get("id")) == wanted:
                return row
        raise NotFound(f"refund {wanted} not found", url=self.v3_url + path)
