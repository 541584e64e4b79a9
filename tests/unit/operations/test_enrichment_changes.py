"""The incremental enrichment cursor's pure parts: literals, keyset conditions, ties."""

from __future__ import annotations

import pytest

from connector.errors import AuthError, DataError, NotFound, Transient
from connector.operations import enrichment_changes as changes
from connector.operations.settings import tenant_setting_problems


def test_change_values_are_written_back_as_literals_of_their_type() -> None:
    assert changes.change_literal("2026-12-01T20:22:13Z") == "2026-12-01T20:22:13Z"
    assert changes.change_literal("2026-12-01T20:22:13.5+01:00") == "2026-12-01T20:22:13.5+01:00"
    assert changes.change_literal("2026-12-01") == "2026-12-01"
    assert changes.change_literal("20261201202213") == "'20261201202213'"
    assert changes.change_literal("it's") == "'it''s'"
    assert changes.change_literal(42) == "42"
    for bad in (None, True, {"a": 1}, [1]):
        with pytest.raises(ValueError):
            changes.change_literal(bad)


def test_keyset_conditions() -> None:
    assert changes.since_condition("ChangedDate", "2026-12-01T20:22:13Z") == (
        "ChangedDate ge 2026-12-01T20:22:13Z")
    assert changes.after_condition("Objversion", "20261201202213", "C'1") == (
        "(Objversion gt '20261201202213' or (Objversion eq '20261201202213' and "
        "CustomerId gt 'C''1'))")


def test_the_cursor_keeps_the_ids_read_at_its_value() -> None:
    tip = changes.advance(None, "F", [("t1", "B"), ("t2", "A"), ("t2", "C")])
    assert tip == {"field": "F", "value": "t2", "ids": ["A", "C"]}
    tip = changes.advance(tip, "F", [("t2", "A"), ("t2", "D"), (None, "E")])
    assert tip == {"field": "F", "value": "t2", "ids": ["A", "C", "D"]}
    assert changes.already_read(tip, "F", "t2", "D")
    assert not changes.already_read(tip, "F", "t2", "Z")  # a tie written later: read it
    assert not changes.already_read(tip, "G", "t2", "D")  # another field: a fresh cursor
    assert changes.advance(tip, "F", []) == tip
    many = changes.advance(None, "F", [("t", f"id{i}") for i in range(changes.MAX_TIE_IDS + 5)])
    assert many is not None and len(many["ids"]) == changes.MAX_TIE_IDS  # left off: read again


def test_what_counts_as_ifs_rejecting_the_field() -> None:
    assert changes.rejected(DataError("unknown property", status=400))
    assert changes.rejected(Transient("not implemented", status=501))
    assert not changes.rejected(Transient("bad gateway", status=502))
    assert not changes.rejected(NotFound("no such set", status=404))
    assert not changes.rejected(AuthError("no", status=401))


def test_the_settings_are_validated() -> None:
    assert tenant_setting_problems({"enrichment_change_field": "ChangedDate",
                                    "enrichment_full_interval_s": 3600}) == []
    problems = tenant_setting_problems({"enrichment_change_field": "Changed Date or 1 eq 1",
                                        "enrichment_full_interval_s": 10})
    assert len(problems) == 2 and "OData property name" in problems[0]
