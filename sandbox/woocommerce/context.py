"""The parsed request a ``wc/v3`` handler of the WooCommerce simulator receives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.woocommerce.models import WpUser


@dataclass
class _Ctx:
    method: str
    args: dict[str, str]
    pairs: list[tuple[str, str]]
    body: dict[str, Any]
    user: WpUser | None
    host: str  # scheme://host[:port] the client used, for links
    path: str  # request path, for the Link header
