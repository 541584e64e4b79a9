"""Every MLC_* variable the code reads is known to the start-up check (or it would warn the
operator that a variable they set is ignored), and documented in deploy/env.example."""

from __future__ import annotations

import pathlib
import re

from connector.config import KNOWN_VARIABLES

ROOT = pathlib.Path(__file__).resolve().parents[2]
NAME = re.compile(r"\bMLC_[A-Z0-9_]*[A-Z0-9]\b")


def _read_by_code() -> set[str]:
    names: set[str] = set()
    for package in ("connector", "tasks", "web"):
        for path in (ROOT / package).rglob("*.py"):
            names |= set(NAME.findall(path.read_text()))
    return {n for n in names if not n.startswith("MLC_TEST")}


def test_every_variable_the_code_reads_is_known_to_the_start_up_check() -> None:
    assert _read_by_code() - KNOWN_VARIABLES == set()


def test_every_known_variable_is_documented_in_env_example() -> None:
    documented = set(NAME.findall((ROOT / "deploy" / "env.example").read_text()))
    assert KNOWN_VARIABLES - documented == set()
