"""The reconciliation window and the IFS filters it builds (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connector.stores.reconciling import ALL, Window, any_of, chunked, ifs_timestamp


def test_window_bounds_are_utc_and_ordered() -> None:
    w = Window(datetime(2026, 11, 1), datetime(2026, 11, 8, tzinfo=UTC))
    assert w.since == datetime(2026, 11, 1, tzinfo=UTC)
    assert not w.everything and ALL.everything
    assert w.label() == "orders created 2026-11-01T00:00:00+00:00 .. 2026-11-08T00:00:00+00:00"
    assert ALL.label() == "all orders"
    with pytest.raises(ValueError, match="empty"):
        Window(datetime(2026, 11, 8, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))


def test_split_covers_the_range_without_gaps_or_overlaps() -> None:
    lo, hi = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 20, tzinfo=UTC)
    parts = Window(lo, hi).split(7)
    assert [(p.since, p.until) for p in parts] == [
        (lo, lo + timedelta(days=7)), (lo + timedelta(days=7), lo + timedelta(days=14)),
        (lo + timedelta(days=14), hi)]
    # Open-ended: the last window stays open, so orders created during the run count.
    open_parts = Window(datetime.now(UTC) - timedelta(days=10)).split(7)
    assert len(open_parts) == 2 and open_parts[-1].until is None
    assert ALL.split(7) == [ALL]


def test_filters_name_each_value_and_quote_it() -> None:
    assert any_of("CustomerPoNo", ["W1-1", "W1-O'Neil"]) == (
        "CustomerPoNo eq 'W1-1' or CustomerPoNo eq 'W1-O''Neil'")
    assert list(chunked(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert ifs_timestamp(datetime(2026, 11, 1, 12, 30, 5, 999, tzinfo=UTC)) == (
        "2026-11-01T12:30:05Z")
