"""Package metadata: one version, an SPDX license with its file, a changelog that follows."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import connector

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_version_comes_from_the_package_metadata() -> None:
    assert connector.__version__ == PROJECT["version"]


def test_license_is_an_spdx_expression_with_its_file() -> None:
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    # setuptools refuses a License :: classifier next to an SPDX `license` expression.
    assert not [c for c in PROJECT["classifiers"] if c.startswith("License ::")]


def test_changelog_has_unreleased_and_the_current_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(r"^## \[Unreleased\]$", text, re.M)
    assert re.search(rf"^## \[{re.escape(PROJECT['version'])}\] - \d{{4}}-\d{{2}}-\d{{2}}$",
                     text, re.M)


def test_console_templates_and_assets_ship_as_package_data() -> None:
    import fnmatch

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["web.console"]
    folder = ROOT / "web" / "console"
    files = [p.relative_to(folder).as_posix() for p in folder.rglob("*")
             if p.is_file() and p.suffix not in (".py", ".pyc")]
    assert any(f.endswith(".html") for f in files) and any(f.endswith(".css") for f in files)
    missing = [f for f in files if not any(fnmatch.fnmatch(f, pattern) for pattern in data)]
    assert not missing, f"not in [tool.setuptools.package-data] web.console: {missing}"
