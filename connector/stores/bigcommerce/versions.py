"""Dates and version keys of BigCommerce rows (``reference/bigcommerce.md``).

v2 sends RFC 2822 dates (``Fri, 14 Mar 2025 09:05:40 +0000``), v3 ISO 8601; both are read as
aware UTC. Two kinds of version come from them:

* keyset keys ``(id, raw date_modified)`` the client's polling scans dedupe on, shared by the
  webhook and poll paths (bc decision 4);
* staged record versions: UTC stamps ``YYYY-MM-DDTHH:MM:SSZ`` that sort as strings (the staging
  table compares versions as text; BigCommerce's own RFC 2822 dates do not sort).
"""

from __future__ import annotations

import email.utils
from collections.abc import Hashable, Mapping
from datetime import UTC, datetime
from typing import Any

from connector.http.paging import to_utc

__all__ = [
    "customer_modified",
    "customer_version",
    "customer_version_key",
    "key_time",
    "order_modified",
    "order_version",
    "order_version_key",
    "parse_rfc2822",
    "rfc2822",
    "stamp",
]


# --------------------------------------------------------------------------------------------
# dates and keyset keys


def parse_rfc2822(value: object) -> datetime | None:
    """A v2 date (``Fri, 14 Mar 2025 09:05:40 +0000``) or v3 ISO date as aware UTC, else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def rfc2822(value: datetime) -> str:
    """``Fri, 14 Mar 2025 09:05:40 +0000`` — the documented v2 filter format (bc §2)."""
    return email.utils.format_datetime(to_utc(value).replace(microsecond=0))


def order_modified(row: Mapping[str, Any]) -> datetime | None:
    return parse_rfc2822(row.get("date_modified")) or parse_rfc2822(row.get("date_created"))


def order_version_key(row: Mapping[str, Any]) -> tuple[int, str]:
    """Dedupe key of an order version, shared by the webhook and poll paths (bc decision 4)."""
    return (int(row.get("id") or 0), str(row.get("date_modified") or ""))


def key_time(key: Hashable) -> datetime | None:
    return parse_rfc2822(key[1]) if isinstance(key, tuple) and len(key) == 2 else None


def customer_modified(row: Mapping[str, Any]) -> datetime | None:
    return parse_rfc2822(row.get("date_modified")) or parse_rfc2822(row.get("date_created"))


def customer_version_key(row: Mapping[str, Any]) -> tuple[int, str]:
    """Dedupe key of a customer version."""
    return (int(row.get("id") or 0), str(row.get("date_modified") or ""))


# --------------------------------------------------------------------------------------------
# staged record versions


def stamp(value: object) -> str:
    """A BigCommerce date (v2 RFC 2822 or v3 ISO 8601) as a sortable UTC version string."""
    moment = parse_rfc2822(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def order_version(order: dict[str, Any]) -> str:
    """An order version is its modification time (the client's keyset key, bc decision 4)."""
    return (stamp(order.get("date_modified")) or stamp(order.get("date_created"))
            or str(order.get("date_modified") or ""))


def customer_version(customer: dict[str, Any]) -> str:
    """A customer version is its v3 ``date_modified`` (bc §4), as a sortable UTC stamp."""
    return (stamp(customer.get("date_modified")) or stamp(customer.get("date_created"))
            or str(customer.get("date_modified") or ""))
