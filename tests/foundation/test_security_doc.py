"""docs/security.md names the tests that prove each protection: they must exist; and every
documented MLC_* variable is known to the misspelling check."""

from __future__ import annotations

import re
from pathlib import Path

from connector.config import KNOWN_VARIABLES

ROOT = Path(__file__).resolve().parents[2]


def test_every_test_named_in_the_security_page_exists() -> None:
    text = (ROOT / "docs" / "security.md").read_text()
    named = set(re.findall(r"`(tests/[\w/]+\.py)", text))
    named |= {f"tests/foundation/{n}" for n in re.findall(r"`(test_[\w]+\.py)", text)}
    assert len(named) >= 10
    missing = sorted(p for p in named if not (ROOT / p).is_file())
    assert not missing, missing
    for path, test in re.findall(r"`(test_[\w]+\.py)::(test_\w+)`", text):
        assert f"def {test}(" in (ROOT / "tests" / "foundation" / path).read_text(), test


def test_documented_variables_are_known_to_the_misspelling_check() -> None:
    documented = set(re.findall(r"^(MLC_[A-Z0-9_]+)=", (ROOT / "deploy" / "env.example")
                                .read_text(), re.M))
    assert documented <= KNOWN_VARIABLES, sorted(documented - KNOWN_VARIABLES)
