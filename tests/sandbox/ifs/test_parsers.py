"""Properties of the IFS simulator's OData parsers (in-process)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.ifs.filter import parse_filter
from sandbox.ifs.odata import format_key_value, parse_key_literal

# ---------------------------------------------------------------------------------------------
# Properties of the parsers (in-process)
# ---------------------------------------------------------------------------------------------

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)


@settings(max_examples=150, deadline=None)
@given(value=_TEXT, other=_TEXT)
def test_filter_string_literals_round_trip(value: str, other: str) -> None:
    flt = parse_filter(f"Name eq {format_key_value(value)}", ["Name"])
    assert flt({"Name": value})
    assert flt({"Name": other}) == (other == value)
    assert parse_filter(f"contains(Name,{format_key_value(value)})", ["Name"])(
        {"Name": f"x{value}y"}
    )


@settings(max_examples=150, deadline=None)
@given(value=st.one_of(_TEXT, st.integers(min_value=-(10**9), max_value=10**9)))
def test_key_literals_round_trip(value: str | int) -> None:
    assert parse_key_literal(format_key_value(value)) == value
