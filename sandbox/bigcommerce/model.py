"""Base of the BigCommerce simulator's data model: configuration, errors, money and date
formats, currencies and webhook events. The records are in :mod:`sandbox.bigcommerce.customers`,
:mod:`sandbox.bigcommerce.orders` and :mod:`sandbox.bigcommerce.payments`; the store with its
mutations (each returns the webhook events it implies) in :mod:`sandbox.bigcommerce.store`.

Everything follows ``reference/bigcommerce.md`` (sections cited inline). This package's model
knows nothing about HTTP; :mod:`sandbox.bigcommerce.simulator` serves it and
:mod:`sandbox.bigcommerce.webhooks` delivers the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

DEFAULT_STORE_HASH = "sbx1"
DEFAULT_STORE_ID = "1001234"
DEFAULT_ACCESS_TOKEN = "bc-sandbox-token"
DEFAULT_CLIENT_ID = "bc-sandbox-client"
DEFAULT_CLIENT_SECRET = "demo_client_secret_4f1a"

# §5: 11 retries after these delays (seconds), then the hook is deactivated.
RETRY_SCHEDULE_S: tuple[int, ...] = (60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400, 86400)


@dataclass
class BcConfig:
    """Identity of the simulated store and API account, plus the behaviour switches.

    Time-based webhook settings (retry schedule, domain-block window and duration) are multiplied
    by ``retry_compression`` so tests can run the real schedule in milliseconds.
    """

    store_hash: str = DEFAULT_STORE_HASH
    store_id: str = DEFAULT_STORE_ID
    access_token: str = DEFAULT_ACCESS_TOKEN
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    quota: int = 150  # requests per window per store (§6, Standard/Plus plan)
    window_ms: int = 30_000
    rate_limit_mode: str = "fixed"  # "fixed" (window opens at the first request) or "sliding"
    retry_schedule_s: tuple[int, ...] = RETRY_SCHEDULE_S
    retry_compression: float = 1.0  # e.g. 0.001 -> 60 s becomes 60 ms
    require_https_destination: bool = False  # real BC requires https on 443
    # §5 domain blocklist: success ratio per (client_id, destination host:port) over a sliding
    # window, evaluated once the window holds at least ``block_min_requests`` attempts.
    block_window_s: float = 120.0
    block_min_requests: int = 100
    block_success_ratio: float = 0.9
    block_duration_s: float = 180.0
    delivery_timeout_s: float = 5.0
    delivery_workers: int = 4
    default_currency: str = "USD"
    # Share of API requests answered 429 *without* rate-limit headers (platform overload, §6).
    overload_429_ratio: float = 0.0

    def scaled(self, seconds: float) -> float:
        return seconds * self.retry_compression


class BcError(Exception):
    """A refused simulator operation; the HTTP layer renders it in the v2 or v3 error format."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or {}
        self.details = details


# --------------------------------------------------------------------------- formats (§2, §3, §4)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def q2(value: Decimal | float | int | str) -> Decimal:
    """Round to cents (half up): all simulator amounts are exact at 2 dp."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> str:
    """v2 money: a string with 4 dp (``"47.6000"``)."""
    return f"{value:.4f}"


def number(value: Decimal) -> float:
    """v3 money: a JSON number."""
    return float(value)


def rfc2822(dt: datetime | None) -> str:
    """v2 dates: ``Fri, 14 Mar 2025 09:05:40 +0000`` ("" when unset, as BC does)."""
    if dt is None:
        return ""
    return format_datetime(dt.astimezone(UTC).replace(microsecond=0))


def iso_offset(dt: datetime) -> str:
    """v3 transactions/refunds dates: ``2025-03-14T09:05:40+00:00``."""
    return dt.astimezone(UTC).replace(microsecond=0).isoformat()


def iso_z(dt: datetime) -> str:
    """v3 customers dates: ``2025-03-14T09:05:40Z``."""
    return dt.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def parse_date(value: str) -> datetime:
    """Accept RFC 2822, ISO 8601 / RFC 3339 (``Z`` or offset) or a bare date; naive means UTC.

    Raises ``ValueError`` on anything else.
    """
    text = value.strip()
    if not text:
        raise ValueError("empty date")
    if text.isdigit():  # unix seconds, accepted by several BC filters
        return datetime.fromtimestamp(int(text), tz=UTC)
    try:
        if text[:4].isdigit():
            # ISO 8601; an unencoded "+" in a query string arrives as a space.
            dt = datetime.fromisoformat(text.replace(" ", "+") if "T" in text else text)
        else:
            dt = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"unparseable date {value!r}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


# §2 status table.
ORDER_STATUSES: dict[int, str] = {
    0: "Incomplete",
    1: "Pending",
    2: "Shipped",
    3: "Partially Shipped",
    4: "Refunded",
    5: "Cancelled",
    6: "Declined",
    7: "Awaiting Payment",
    8: "Awaiting Pickup",
    9: "Awaiting Shipment",
    10: "Completed",
    11: "Awaiting Fulfillment",
    12: "Manual Verification Required",
    13: "Disputed",
    14: "Partially Refunded",
}

# Units of each currency per 1 USD; used for exchange-rate fields and seeded prices.
FX_PER_USD: dict[str, Decimal] = {
    "USD": Decimal("1"),
    "EUR": Decimal("0.92"),
    "GBP": Decimal("0.79"),
    "CAD": Decimal("1.36"),
    "AUD": Decimal("1.52"),
    "CHF": Decimal("0.88"),
    "SEK": Decimal("10.45"),
}
CURRENCY_IDS: dict[str, int] = {code: i + 1 for i, code in enumerate(FX_PER_USD)}

# Standard VAT/sales-tax rate applied to an order, by billing country.
TAX_RATES: dict[str, Decimal] = {
    "US": Decimal("0.0825"),
    "CA": Decimal("0.13"),
    "GB": Decimal("0.20"),
    "DE": Decimal("0.19"),
    "FR": Decimal("0.20"),
    "PT": Decimal("0.23"),
    "NL": Decimal("0.21"),
    "SE": Decimal("0.25"),
    "AU": Decimal("0.10"),
    "CH": Decimal("0.081"),
}
COUNTRY_NAMES: dict[str, str] = {
    "US": "United States",
    "CA": "Canada",
    "GB": "United Kingdom",
    "DE": "Germany",
    "FR": "France",
    "PT": "Portugal",
    "NL": "Netherlands",
    "SE": "Sweden",
    "AU": "Australia",
    "CH": "Switzerland",
}


def exchange_rate(from_code: str, to_code: str) -> Decimal:
    """Units of ``to_code`` per unit of ``from_code`` (10 dp, as BC prints it)."""
    a = FX_PER_USD.get(from_code, Decimal("1"))
    b = FX_PER_USD.get(to_code, Decimal("1"))
    return (b / a).quantize(Decimal("0.0000000001"), rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------- events

Event = tuple[str, dict[str, Any]]  # (scope, data) of a webhook event (§5)


def order_event(scope: str, order_id: int) -> Event:
    return scope, {"type": "order", "id": order_id}


def status_event(order_id: int, previous: int, new: int) -> Event:
    return "store/order/statusUpdated", {
        "type": "order",
        "id": order_id,
        "status": {"previous_status_id": previous, "new_status_id": new},
    }
