"""ml-connector: keeps IFS Cloud ERP in sync with WooCommerce and BigCommerce stores."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    # One place for the version: `version` in pyproject.toml, read from the installed metadata.
    __version__: str = version("ml-connector")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
