"""Paging over store lists that change while they are read (shared by the store clients).

Why keyset re-queries instead of page numbers: see :func:`keyset_scan` (woocommerce.md §4
pitfalls, bigcommerce.md decision 4). :func:`numbered_window` makes page numbers safe over a
bounded window in the past; :class:`KeysetScan` tracks where the next run resumes.

Nothing here does I/O: the clients pass the functions that read one page.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.errors import DataError, Transient

__all__ = [
    "EPOCH",
    "ONE_SECOND",
    "Ceiling",
    "KeysetScan",
    "Page",
    "keyset_scan",
    "numbered_window",
]

Row = dict[str, Any]

ONE_SECOND = timedelta(seconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_utc(value: datetime) -> datetime:
    """Aware UTC (naive values are taken as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def naive_utc_iso(value: datetime) -> str:
    """``2025-03-14T09:00:00``: naive UTC, whole seconds (Woo date filters with
    ``dates_are_gmt=true``, woo §4; BigCommerce v3 customer filters, bc §4)."""
    return to_utc(value).replace(tzinfo=None, microsecond=0).isoformat()


def _second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


@dataclass(frozen=True)
class Page:
    """One page of a store list: the rows plus the totals the store reported (WooCommerce
    ``X-WP-Total`` / ``X-WP-TotalPages``, BigCommerce v3 ``meta.pagination``); ``None`` when
    they are missing (e.g. a proxy stripped the headers)."""

    items: list[Row]
    total: int | None
    total_pages: int | None
    page: int = 1
    server_date: datetime | None = None



# --------------------------------------------------------------------------------------------
# keyset scanning over a changing set


class Ceiling:
    """Shared between :func:`keyset_scan` and :class:`KeysetScan`: while rows are produced out
    of modification order (a drained window), only times up to ``value`` are known complete."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: datetime | None = None

    def __call__(self) -> datetime | None:
        return self.value


class KeysetScan(Iterator[Row]):
    """Iterator over changed records that also tracks where the next run should resume.

    ``watermark`` is the newest modification time up to which every record has been yielded
    (pass it as the next run's start; the client subtracts the overlap) and
    ``keys_at_watermark`` the version keys yielded (or passed in as ``seen``) at or after that
    time (store them with the cursor and pass them back as ``seen``). Both are valid after any
    row, so a fetch that stops early resumes without a gap and without repeating work; the
    watermark never goes below ``start``.
    """

    def __init__(
        self,
        rows: Iterator[Row],
        *,
        start: datetime | None,
        modified: Callable[[Mapping[str, Any]], datetime | None],
        key: Callable[[Mapping[str, Any]], Hashable],
        cap: Callable[[], datetime | None] | None = None,
        seen: Iterable[Hashable] = (),
        key_time: Callable[[Hashable], datetime | None] | None = None,
    ) -> None:
        self._rows = rows
        self._modified = modified
        self._key = key
        self._cap = cap
        self._start = to_utc(start) if start is not None else None
        self._max: datetime | None = self._start
        self._by_time: dict[datetime, set[Hashable]] = {}
        if self._start is not None:
            # Keys the caller already had stay valid until the watermark passes them.
            for k in seen:
                moment = key_time(k) if key_time is not None else None
                self._by_time.setdefault(moment or self._start, set()).add(k)

    def __iter__(self) -> KeysetScan:
        return self

    def __next__(self) -> Row:
        row = next(self._rows)
        moment = self._modified(row)
        if moment is not None:
            self._by_time.setdefault(moment, set()).add(self._key(row))
            if self._max is None or moment > self._max:
                self._max = moment
        return row

    @property
    def watermark(self) -> datetime | None:
        """Resume point for the next run (``None`` if nothing was seen and no start given)."""
        mark = self._max
        cap = self._cap() if self._cap is not None else None
        if cap is not None and mark is not None and mark > cap:
            mark = cap
        if self._start is not None and (mark is None or mark < self._start):
            mark = self._start
        return mark

    @property
    def keys_at_watermark(self) -> frozenset[Hashable]:
        """Version keys yielded (or passed in as ``seen``) at or after :attr:`watermark`."""
        mark = self.watermark
        if mark is None:
            return frozenset()
        return frozenset(k for moment, keys in self._by_time.items() if moment >= mark
                         for k in keys)


def keyset_scan(
    *,
    start: datetime | None,
    first_page: Callable[[datetime | None], Sequence[Row]],
    drain: Callable[[datetime, datetime], Iterable[Row]],
    modified: Callable[[Mapping[str, Any]], datetime | None],
    key: Callable[[Mapping[str, Any]], Hashable],
    page_size: int,
    seen: set[Hashable],
    what: str = "records",
    max_rounds: int = 100_000,
    ceiling: Ceiling | None = None,
) -> Iterator[Row]:
    """Every record changed since ``start``, each version once, none skipped while the set moves.

    Why not page numbers (woo §4 pitfalls, bc decision 4): sorted by modification time, a record
    modified mid-run jumps to the end, the rest shift back one, and offset paging skips a row —
    possibly forever, because it is older than the next watermark. Instead:

    1. ``first_page(floor)`` returns the first page of records modified at/after ``floor``
       (inclusive or exclusive: both remote APIs leave that uncertain), sorted by
       (modification time, id) ascending;
    2. after a full page whose last record is at second ``L``, re-query from ``L - 1s`` so the
       rest of second ``L`` is included whatever the inclusivity, and drop versions already seen
       (dedupe on ``key``);
    3. only when a full page makes no progress (more than a page of records share one second)
       ``drain(lo, hi)`` must return every record modified in that bounded, past window,
       whatever its order — using page numbers made safe by the caller (WooCommerce: restart
       when ``X-WP-Total`` changes; BigCommerce: an id keyset). The same drain covers a page
       that comes back out of order (site-local sorting across a DST change, an ignored
       ``orderby``): its whole window up to the newest record is drained instead;
    4. stop on a short or empty page.

    ``seen`` holds version keys already processed (e.g. those stored at the previous watermark);
    it is updated in place. The first query starts one second before ``start`` so a run that
    stopped in the middle of a second resumes without a gap whatever the overlap. While rows
    come out of modification order (a drained window), ``ceiling`` holds the time up to which
    everything is known read (see :class:`KeysetScan`).
    """
    mark = ceiling if ceiling is not None else Ceiling()
    floor = _second(to_utc(start)) - ONE_SECOND if start is not None else None
    drained_to: datetime | None = None
    for _ in range(max_rounds):
        rows = first_page(floor)
        last: datetime | None = None
        newest: datetime | None = None
        ordered = True
        for row in rows:
            moment = modified(row)
            if moment is None:
                continue
            if floor is not None and moment < floor:
                # Not a sorting quirk: the filter itself is off (e.g. compared in site-local
                # time). Rows newer than the floor may be missing too, so stop loudly.
                raise DataError(
                    f"the store returned {what} modified before the requested time; its "
                    "modified-since filter is not in UTC (dates_are_gmt unsupported?)"
                )
            if last is not None and moment < last:
                ordered = False
            last = moment
            newest = moment if newest is None or moment > newest else newest
        lo = floor if floor is not None else EPOCH
        if not ordered:
            mark.value = lo  # rows below come out of order: only ``lo`` is known complete
        yield from _unseen(rows, key, seen)
        if len(rows) < page_size or last is None or newest is None:
            mark.value = None
            return
        if not ordered:
            # The server's order does not follow the UTC modification time: legacy WooCommerce
            # storage sorts by the site-local column, which jumps back an hour when DST ends,
            # or the orderby was ignored. Read the bounded window up to the newest record with
            # the order-independent drain, then continue after it.
            yield from _unseen(drain(lo, _second(newest) + ONE_SECOND), key, seen)
            mark.value = None
            drained_to = floor = _second(newest)
            continue
        candidate = _second(last) - ONE_SECOND
        if floor is None or candidate > floor:
            floor = candidate  # keyset step: re-query from just before the last second seen
            continue
        if drained_to is not None and last <= drained_to:
            # The server includes the floor itself and everything up to ``drained_to`` is read:
            # step past it (only reachable when the filter is inclusive).
            floor = drained_to + ONE_SECOND
            continue
        # Dense: a full page within one second of the floor. Read that bounded window with
        # paging that is safe for it, then continue after it.
        # Drained by id, rows of second ``last`` come in any order: until done, resume there.
        mark.value = _second(last)
        yield from _unseen(drain(floor, _second(last) + ONE_SECOND), key, seen)
        mark.value = None
        drained_to = _second(last)
        floor = drained_to
    raise Transient(f"gave up reading {what}: the store kept changing faster than it was read")


def _unseen(
    rows: Iterable[Row], key: Callable[[Mapping[str, Any]], Hashable], seen: set[Hashable]
) -> Iterator[Row]:
    for row in rows:
        k = key(row)
        if k in seen:
            continue
        seen.add(k)
        yield row


def numbered_window(
    fetch: Callable[[int], Page],
    *,
    key: Callable[[Mapping[str, Any]], Hashable],
    page_size: int,
    what: str = "records",
    max_restarts: int = 20,
    max_pages: int = 10_000,
) -> Iterator[Row]:
    """Page numbers over a bounded window that is safe against rows leaving it.

    Rows can only *leave* a window in the past (a modified row moves to a later time), which
    shifts later rows back one and makes offset paging skip one. Every leave changes the total
    (``X-WP-Total``) reported with the next page, so on a change we restart at page 1; dedupe
    drops the rows already seen. Restarts are finite because the window only shrinks. Without a
    total header we repeat whole passes until one finds nothing new.
    """
    restarts = 0
    window: set[Hashable] = set()
    while True:
        baseline: int | None = None
        found_new = False
        have_totals = True
        previous: list[Hashable] | None = None
        for page_no in range(1, max_pages + 1):
            page = fetch(page_no)
            keys = [key(row) for row in page.items]
            if previous is not None and keys and keys == previous:
                raise Transient(f"the store returned the same page of {what} twice; a cache in "
                                "front of it may ignore the page parameter")
            previous = keys
            if page.total is None:
                have_totals = False
            for row in page.items:
                k = key(row)
                if k not in window:
                    window.add(k)
                    found_new = True
                    yield row
            if page_no == 1:
                baseline = page.total
            elif page.total is not None and page.total != baseline:
                break  # the window changed under us: offsets shifted, restart
            if len(page.items) < page_size:
                if have_totals:
                    return
                break
        else:
            raise Transient(f"too many pages reading {what}")
        if not have_totals and not found_new:
            return
        restarts += 1
        if restarts > max_restarts:
            raise Transient(
                f"gave up reading {what}: the store kept changing faster than it was read"
            )


def take_window(scan: KeysetScan, *, until: datetime, max_rows: int,
                modified: Callable[[Mapping[str, Any]], datetime | None],
                ordered: bool = True) -> tuple[list[Row], bool]:
    """Rows of ``scan`` modified before ``until``, at most ``max_rows``: ``(rows, done)``, done
    when the scan ran out or reached ``until`` (a backfill window; resume from
    :func:`scan_position`). ``ordered``: the scan yields by modification time, so the first
    row at or past ``until`` ends it; otherwise such rows are skipped."""
    rows: list[Row] = []
    limit = to_utc(until)
    for row in scan:
        moment = modified(row)
        if moment is not None and moment >= limit:
            if ordered:
                return rows, True
            continue
        rows.append(row)
        if len(rows) >= max_rows:
            return rows, False
    return rows, True


def scan_position(scan: KeysetScan) -> dict[str, Any]:
    """Where to resume ``scan`` (JSON): its watermark and the version keys seen at it."""
    mark = scan.watermark
    return {"watermark": mark.isoformat() if mark is not None else None,
            "seen": sorted([list(k) if isinstance(k, tuple) else k
                            for k in scan.keys_at_watermark], key=str)}


def position_start(position: dict[str, Any], since: datetime) -> tuple[datetime, list[Any]]:
    """``(start, seen)`` to resume a scan from ``position`` (or to begin at ``since``)."""
    raw = position.get("watermark")
    start = to_utc(datetime.fromisoformat(raw)) if raw else to_utc(since)
    return start, [tuple(k) for k in position.get("seen", [])]
