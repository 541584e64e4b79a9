"""Customers of the BigCommerce client (v3 ``/customers``, bc §4 and decision 6)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from connector.errors import NotFound
from connector.http.paging import (
    Ceiling,
    KeysetScan,
    keyset_scan,
    naive_utc_iso,
    numbered_window,
    to_utc,
)
from connector.stores.bigcommerce.transport import BcTransport, Row, as_int
from connector.stores.bigcommerce.versions import customer_modified, customer_version_key, key_time

__all__ = ["CustomersEndpoints"]

_EMAILS_PER_QUERY = 50  # keeps ``email:in=`` URLs well under common 8 KB limits


class CustomersEndpoints(BcTransport):
    """``/v3/customers``: the keyset scan, one by id, and look-up by e-mail."""

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
            start=start, first_page=first_page, drain=drain, modified=customer_modified,
            key=customer_version_key, page_size=self.limit, seen=seen_keys, what="customers",
            ceiling=ceiling,
        )
        return KeysetScan(rows, start=modified_since, modified=customer_modified,
                          key=customer_version_key, seen=initial, cap=ceiling, key_time=key_time)

    def get_customer(self, customer_id: int) -> Row:
        """One customer via ``/v3/customers?id:in=``. Unknown → NotFound."""
        wanted = int(customer_id)
        for row in self._v3_list("/customers", {"id:in": wanted, "include": "addresses"}):
            if as_int(row.get("id")) == wanted:
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
