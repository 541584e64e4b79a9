"""Data model of the BigCommerce simulator: configuration, records, money and date formats, and the
store with its mutations (each mutation returns the webhook events it implies).

Everything follows ``reference/bigcommerce.md`` (sections cited inline). This module knows nothing
about HTTP; :mod:`sandbox.bigcommerce` serves it and :mod:`sandbox.bigcommerce.webhooks` delivers
the events.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
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


# --------------------------------------------------------------------------- records


@dataclass
class CustomerAddress:
    id: int
    customer_id: int
    first_name: str
    last_name: str
    company: str
    address1: str
    address2: str
    city: str
    state_or_province: str
    postal_code: str
    country_code: str
    phone: str
    address_type: str = "residential"

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "company": self.company,
            "address1": self.address1,
            "address2": self.address2,
            "city": self.city,
            "state_or_province": self.state_or_province,
            "postal_code": self.postal_code,
            "country_code": self.country_code,
            "country": COUNTRY_NAMES.get(self.country_code, self.country_code),
            "phone": self.phone,
            "address_type": self.address_type,
        }


@dataclass
class Customer:
    id: int
    email: str
    first_name: str
    last_name: str
    company: str
    phone: str
    date_created: datetime
    date_modified: datetime
    customer_group_id: int = 0
    addresses: list[CustomerAddress] = field(default_factory=list)
    channel_ids: list[int] = field(default_factory=lambda: [1])

    def render(self, include_addresses: bool) -> dict[str, Any]:
        """v3 customer (§4)."""
        out: dict[str, Any] = {
            "id": self.id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "company": self.company,
            "phone": self.phone,
            "registration_ip_address": "",
            "notes": "",
            "tax_exempt_category": "",
            "customer_group_id": self.customer_group_id,
            "date_created": iso_z(self.date_created),
            "date_modified": iso_z(self.date_modified),
            "address_count": len(self.addresses),
            "attribute_count": 0,
            "authentication": {"force_password_reset": False},
            "accepts_product_review_abandoned_cart_emails": False,
            "channel_ids": list(self.channel_ids),
            "origin_channel_id": self.channel_ids[0] if self.channel_ids else 1,
        }
        if include_addresses:
            out["addresses"] = [a.render() for a in self.addresses]
        return out

    def billing_address(self) -> dict[str, Any]:
        """The order billing address a registered customer checks out with."""
        a = self.addresses[0] if self.addresses else None
        return make_billing_address(
            first_name=self.first_name,
            last_name=self.last_name,
            email=self.email,
            company=self.company,
            phone=self.phone,
            street_1=a.address1 if a else "",
            street_2=a.address2 if a else "",
            city=a.city if a else "",
            state=a.state_or_province if a else "",
            zip_code=a.postal_code if a else "",
            country_iso2=a.country_code if a else "US",
        )


def make_billing_address(
    *,
    first_name: str,
    last_name: str,
    email: str,
    company: str = "",
    phone: str = "",
    street_1: str = "",
    street_2: str = "",
    city: str = "",
    state: str = "",
    zip_code: str = "",
    country_iso2: str = "US",
) -> dict[str, Any]:
    """A v2 order ``billing_address`` object (§2 example)."""
    return {
        "first_name": first_name,
        "last_name": last_name,
        "company": company,
        "street_1": street_1,
        "street_2": street_2,
        "city": city,
        "state": state,
        "zip": zip_code,
        "country": COUNTRY_NAMES.get(country_iso2, country_iso2),
        "country_iso2": country_iso2,
        "phone": phone,
        "email": email,
        "form_fields": [],
    }


@dataclass
class OrderLine:
    """A v2 order product line. Invariants (exact at 2 dp):
    ``total_ex_tax = price_ex_tax * quantity``, ``total_tax = price_tax * quantity``,
    ``total_inc_tax = total_ex_tax + total_tax``; ``discount`` is the ex-tax sum of
    ``applied_discounts``.
    """

    id: int
    order_id: int
    product_id: int
    variant_id: int
    name: str
    sku: str
    quantity: int
    price_ex_tax: Decimal
    tax_rate: Decimal
    order_address_id: int
    discount: Decimal = ZERO
    discount_name: str = "Spring sale"
    quantity_shipped: int = 0
    quantity_refunded: int = 0
    refund_amount: Decimal = ZERO
    type: str = "physical"

    @property
    def price_tax(self) -> Decimal:
        return q2(self.price_ex_tax * self.tax_rate)

    @property
    def price_inc_tax(self) -> Decimal:
        return self.price_ex_tax + self.price_tax

    @property
    def total_ex_tax(self) -> Decimal:
        return self.price_ex_tax * self.quantity

    @property
    def total_tax(self) -> Decimal:
        return self.price_tax * self.quantity

    @property
    def total_inc_tax(self) -> Decimal:
        return self.total_ex_tax + self.total_tax

    @property
    def discount_tax(self) -> Decimal:
        return q2(self.discount * self.tax_rate)

    def render(self) -> dict[str, Any]:
        zero = money(ZERO)
        return {
            "id": self.id,
            "order_id": self.order_id,
            "product_id": self.product_id,
            "variant_id": self.variant_id,
            "order_pickup_method_id": 0,
            "order_address_id": self.order_address_id,
            "name": self.name,
            "name_customer": self.name,
            "name_merchant": self.name,
            "sku": self.sku,
            "upc": "",
            "type": self.type,
            "base_price": money(self.price_ex_tax),
            "price_ex_tax": money(self.price_ex_tax),
            "price_inc_tax": money(self.price_inc_tax),
            "price_tax": money(self.price_tax),
            "base_total": money(self.total_ex_tax),
            "total_ex_tax": money(self.total_ex_tax),
            "total_inc_tax": money(self.total_inc_tax),
            "total_tax": money(self.total_tax),
            "weight": "1.0000",
            "width": "0.0000",
            "height": "0.0000",
            "depth": "0.0000",
            "quantity": self.quantity,
            "base_cost_price": zero,
            "cost_price_inc_tax": zero,
            "cost_price_ex_tax": zero,
            "cost_price_tax": zero,
            "is_refunded": self.quantity_refunded >= self.quantity,
            "quantity_refunded": self.quantity_refunded,
            "refund_amount": money(self.refund_amount),
            "return_id": 0,
            "wrapping_id": 0,
            "wrapping_name": None,
            "base_wrapping_cost": zero,
            "wrapping_cost_ex_tax": zero,
            "wrapping_cost_inc_tax": zero,
            "wrapping_cost_tax": zero,
            "wrapping_message": "",
            "quantity_shipped": self.quantity_shipped,
            "event_name": None,
            "event_date": "",
            "fixed_shipping_cost": zero,
            "ebay_item_id": "",
            "ebay_transaction_id": "",
            "option_set_id": None,
            "parent_order_product_id": None,
            "is_bundled_product": False,
            "bin_picking_number": "",
            "external_id": None,
            "fulfillment_source": "",
            "brand": "",
            "gift_certificate_id": None,
            "applied_discounts": (
                [
                    {
                        "id": "total-discount",
                        "amount": money(self.discount),
                        "name": self.discount_name,
                        "code": None,
                        "target": "order",
                    }
                ]
                if self.discount
                else []
            ),
            "product_options": [],
            "configurable_fields": [],
        }


@dataclass
class Shipment:
    id: int
    order_id: int
    customer_id: int
    order_address_id: int
    date_created: datetime
    tracking_number: str
    items: list[dict[str, int]]
    billing_address: dict[str, Any]
    shipping_address: dict[str, Any]
    shipping_method: str = "Flat Rate"
    shipping_provider: str = "ups"
    tracking_carrier: str = "ups"
    comments: str = ""

    def render(self) -> dict[str, Any]:
        link = f"https://www.ups.com/track?tracknum={self.tracking_number}"
        return {
            "id": self.id,
            "order_id": self.order_id,
            "customer_id": self.customer_id,
            "order_address_id": self.order_address_id,
            "date_created": rfc2822(self.date_created),
            "tracking_number": self.tracking_number,
            "merchant_shipping_cost": money(ZERO),
            "shipping_method": self.shipping_method,
            "comments": self.comments,
            "shipping_provider": self.shipping_provider,
            "shipping_provider_display_name": self.shipping_provider.upper(),
            "tracking_carrier": self.tracking_carrier,
            "tracking_link": link,
            "generated_tracking_link": link,
            "billing_address": dict(self.billing_address),
            "shipping_address": dict(self.shipping_address),
            "items": [dict(i) for i in self.items],
        }


@dataclass
class Transaction:
    id: int
    order_id: int
    event: str  # purchase, authorization, capture, refund, void, pending, settled (§3)
    amount: Decimal
    currency: str
    date_created: datetime
    gateway_transaction_id: str
    status: str = "ok"
    gateway: str = "braintree"
    method: str = "credit_card"
    card_last4: str = "1111"
    card_type: str = "visa"

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "order_id": str(self.order_id),
            "event": self.event,
            "method": self.method,
            "amount": number(self.amount),
            "currency": self.currency,
            "gateway": self.gateway,
            "gateway_transaction_id": self.gateway_transaction_id,
            "date_created": iso_offset(self.date_created),
            "test": True,
            "status": self.status,
            "fraud_review": False,
            "reference_transaction_id": None,
            "offline": None,
            "custom": None,
            "payment_method_id": f"{self.gateway}.card",
            "payment_instrument_token": None,
            "avs_result": {
                "code": "M",
                "message": "Street address and postal code match",
                "street_match": "Match",
                "postal_match": "Match",
            },
            "cvv_result": {"code": "M", "message": "CVV matches"},
            "credit_card": {
                "card_type": self.card_type,
                "card_iin": "411111",
                "card_last4": self.card_last4,
                "card_expiry_month": 12,
                "card_expiry_year": 2030,
            },
        }


@dataclass
class Refund:
    id: int
    order_id: int
    created: datetime
    reason: str
    total_amount: Decimal
    total_tax: Decimal
    items: list[dict[str, Any]]
    payment_id: int
    provider_id: str = "braintree"

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "order_id": self.order_id,
            "user_id": 0,
            "created": iso_offset(self.created),
            "reason": self.reason,
            "total_amount": number(self.total_amount),
            "total_tax": number(self.total_tax),
            "uses_merchant_override_values": False,
            "items": [dict(i) for i in self.items],
            "payments": [
                {
                    "id": self.payment_id,
                    "provider_id": self.provider_id,
                    "amount": number(self.total_amount),
                    "offline": False,
                    "is_declined": False,
                    "declined_message": "",
                }
            ],
        }


@dataclass
class Order:
    id: int
    customer_id: int  # 0 = guest
    date_created: datetime
    date_modified: datetime
    status_id: int
    currency_code: str  # display currency
    default_currency_code: str  # transactional currency: all amounts are in it (§2)
    store_default_currency_code: str
    billing_address: dict[str, Any]
    shipping_address: dict[str, Any]
    tax_rate: Decimal
    lines: list[OrderLine] = field(default_factory=list)
    shipping_cost_ex_tax: Decimal = ZERO
    shipping_method: str = "Flat Rate"
    payment_method: str = "Credit Card"
    channel_id: int = 1
    is_deleted: bool = False
    date_shipped: datetime | None = None
    customer_message: str = ""
    staff_notes: str = ""
    ip_address: str = "203.0.113.10"
    cart_id: str = ""
    external_source: str = ""
    shipments: list[Shipment] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)

    @property
    def order_address_id(self) -> int:
        return int(self.shipping_address["id"])

    def totals(self) -> dict[str, Decimal]:
        """Order totals; every relation is exact (see :class:`OrderLine`)."""
        subtotal_ex = sum((ln.total_ex_tax for ln in self.lines), ZERO)
        subtotal_tax = sum((ln.total_tax for ln in self.lines), ZERO)
        discount = sum((ln.discount for ln in self.lines), ZERO)
        discount_tax = sum((ln.discount_tax for ln in self.lines), ZERO)
        ship_ex = self.shipping_cost_ex_tax
        ship_tax = q2(ship_ex * self.tax_rate)
        total_ex = subtotal_ex + ship_ex - discount
        total_tax = subtotal_tax + ship_tax - discount_tax
        return {
            "subtotal_ex_tax": subtotal_ex,
            "subtotal_tax": subtotal_tax,
            "subtotal_inc_tax": subtotal_ex + subtotal_tax,
            "shipping_cost_ex_tax": ship_ex,
            "shipping_cost_tax": ship_tax,
            "shipping_cost_inc_tax": ship_ex + ship_tax,
            "discount_amount": discount,
            "total_ex_tax": total_ex,
            "total_tax": total_tax,
            "total_inc_tax": total_ex + total_tax,
        }

    @property
    def captured(self) -> Decimal:
        return sum((t.amount for t in self.transactions if t.event == "capture"), ZERO)

    @property
    def refunded(self) -> Decimal:
        return sum((r.total_amount for r in self.refunds), ZERO)

    def payment_status(self, total: Decimal | None = None) -> str:
        total = self.totals()["total_inc_tax"] if total is None else total
        if self.refunds:
            return "refunded" if self.refunded >= total else "partially refunded"
        if self.transactions and self.captured >= total:
            return "captured"
        if self.transactions:
            return "partially captured"
        return ""

    def render(self, base_url: str, store_hash: str) -> dict[str, Any]:
        """v2 order (§2)."""
        t = self.totals()
        zero = money(ZERO)

        def link(sub: str) -> dict[str, str]:
            resource = f"/orders/{self.id}/{sub}"
            return {"url": f"{base_url}/stores/{store_hash}/v2{resource}", "resource": resource}

        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "date_created": rfc2822(self.date_created),
            "date_modified": rfc2822(self.date_modified),
            "date_shipped": rfc2822(self.date_shipped),
            "status_id": self.status_id,
            "status": ORDER_STATUSES.get(self.status_id, "Custom"),
            "custom_status": ORDER_STATUSES.get(self.status_id, "Custom"),
            "subtotal_ex_tax": money(t["subtotal_ex_tax"]),
            "subtotal_inc_tax": money(t["subtotal_inc_tax"]),
            "subtotal_tax": money(t["subtotal_tax"]),
            "base_shipping_cost": money(t["shipping_cost_ex_tax"]),
            "shipping_cost_ex_tax": money(t["shipping_cost_ex_tax"]),
            "shipping_cost_inc_tax": money(t["shipping_cost_inc_tax"]),
            "shipping_cost_tax": money(t["shipping_cost_tax"]),
            "shipping_cost_tax_class_id": 2,
            "base_handling_cost": zero,
            "handling_cost_ex_tax": zero,
            "handling_cost_inc_tax": zero,
            "handling_cost_tax": zero,
            "handling_cost_tax_class_id": 2,
            "base_wrapping_cost": zero,
            "wrapping_cost_ex_tax": zero,
            "wrapping_cost_inc_tax": zero,
            "wrapping_cost_tax": zero,
            "wrapping_cost_tax_class_id": 3,
            "total_ex_tax": money(t["total_ex_tax"]),
            "total_inc_tax": money(t["total_inc_tax"]),
            "total_tax": money(t["total_tax"]),
            "items_total": sum(ln.quantity for ln in self.lines),
            "items_shipped": sum(ln.quantity_shipped for ln in self.lines),
            "payment_method": self.payment_method,
            "payment_provider_id": (
                self.transactions[0].gateway_transaction_id if self.transactions else None
            ),
            "payment_status": self.payment_status(t["total_inc_tax"]),
            "refunded_amount": money(self.refunded),
            "order_is_digital": False,
            "store_credit_amount": zero,
            "gift_certificate_amount": zero,
            "ip_address": self.ip_address,
            "ip_address_v6": "",
            "geoip_country": self.billing_address.get("country", ""),
            "geoip_country_iso2": self.billing_address.get("country_iso2", ""),
            "currency_id": CURRENCY_IDS.get(self.currency_code, 1),
            "currency_code": self.currency_code,
            "currency_exchange_rate": str(
                exchange_rate(self.default_currency_code, self.currency_code)
            ),
            "default_currency_id": CURRENCY_IDS.get(self.default_currency_code, 1),
            "default_currency_code": self.default_currency_code,
            "store_default_currency_code": self.store_default_currency_code,
            "store_default_to_transactional_exchange_rate": str(
                exchange_rate(self.store_default_currency_code, self.default_currency_code)
            ),
            "staff_notes": self.staff_notes,
            "customer_message": self.customer_message,
            "discount_amount": money(t["discount_amount"]),
            "coupon_discount": zero,
            "shipping_address_count": 1,
            "is_deleted": self.is_deleted,
            "ebay_order_id": "0",
            "cart_id": self.cart_id,
            "billing_address": dict(self.billing_address),
            "is_email_opt_in": False,
            "credit_card_type": None,
            "order_source": "www",
            "channel_id": self.channel_id,
            "external_source": self.external_source,
            "external_id": None,
            "external_merchant_id": None,
            "tax_provider_id": "BasicTaxProvider",
            "customer_locale": "en",
            "external_order_id": "",
            "store_credit_redeemed": zero,
            "products": link("products"),
            "shipping_addresses": link("shipping_addresses"),
            "coupons": link("coupons"),
        }

    def render_shipping_address(self, base_url: str, store_hash: str) -> dict[str, Any]:
        t = self.totals()
        zero = money(ZERO)
        resource = f"/orders/{self.id}/shipping_addresses/{self.order_address_id}/shipping_quotes"
        return {
            **self.shipping_address,
            "order_id": self.id,
            "items_total": sum(ln.quantity for ln in self.lines),
            "items_shipped": sum(ln.quantity_shipped for ln in self.lines),
            "shipping_method": self.shipping_method,
            "base_cost": money(t["shipping_cost_ex_tax"]),
            "cost_ex_tax": money(t["shipping_cost_ex_tax"]),
            "cost_inc_tax": money(t["shipping_cost_inc_tax"]),
            "cost_tax": money(t["shipping_cost_tax"]),
            "cost_tax_class_id": 2,
            "base_handling_cost": zero,
            "handling_cost_ex_tax": zero,
            "handling_cost_inc_tax": zero,
            "handling_cost_tax": zero,
            "handling_cost_tax_class_id": 2,
            "shipping_zone_id": 1,
            "shipping_zone_name": "Default",
            "shipping_quotes": {
                "url": f"{base_url}/stores/{store_hash}/v2{resource}",
                "resource": resource,
            },
            "form_fields": [],
        }


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


# --------------------------------------------------------------------------- the store


@dataclass
class Counters:
    customer: int = 0
    address: int = 0
    order: int = 99  # BC order ids start at 100
    line: int = 0
    order_address: int = 0
    shipment: int = 0
    transaction: int = 0
    refund: int = 0
    payment: int = 0

    def next(self, name: str) -> int:
        value = int(getattr(self, name)) + 1
        setattr(self, name, value)
        return value


class BcStore:
    """The simulated store's records. All access holds ``lock`` (the simulator's RLock).

    Mutations take ``now`` (the simulator clock) and return the webhook events they fire; the
    caller hands those to the webhook dispatcher.
    """

    def __init__(self, lock: threading.RLock, default_currency: str = "USD") -> None:
        self.lock = lock
        self.default_currency = default_currency
        self.customers: dict[int, Customer] = {}
        self.orders: dict[int, Order] = {}
        self.ids = Counters()

    def clear(self) -> None:
        with self.lock:
            self.customers.clear()
            self.orders.clear()
            self.ids = Counters()

    # ----------------------------------------------------------------- lookups

    def order(self, order_id: int) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise BcError(404, "The requested resource was not found.")
        return order

    def customer(self, customer_id: int) -> Customer:
        customer = self.customers.get(customer_id)
        if customer is None:
            raise BcError(404, "The requested resource was not found.")
        return customer

    def all_refunds(self) -> Iterable[Refund]:
        for order in self.orders.values():
            yield from order.refunds

    # ----------------------------------------------------------------- customers

    def add_customer(
        self,
        *,
        now: datetime,
        email: str,
        first_name: str,
        last_name: str,
        company: str = "",
        phone: str = "",
        customer_group_id: int = 0,
        address: dict[str, Any] | None = None,
        date_created: datetime | None = None,
    ) -> tuple[Customer, list[Event]]:
        if not email or "@" not in email:
            raise BcError(422, "email is invalid", {"email": "error.email.invalid"})
        if any(c.email.lower() == email.lower() for c in self.customers.values()):
            raise BcError(409, f"The email {email} is already in use.", {"email": "duplicate"})
        cid = self.ids.next("customer")
        created = date_created or now
        customer = Customer(
            id=cid,
            email=email,
            first_name=first_name,
            last_name=last_name,
            company=company,
            phone=phone,
            customer_group_id=customer_group_id,
            date_created=created,
            date_modified=created,
        )
        if address:
            customer.addresses.append(
                CustomerAddress(
                    id=self.ids.next("address"),
                    customer_id=cid,
                    first_name=first_name,
                    last_name=last_name,
                    company=company,
                    address1=str(address.get("address1", "")),
                    address2=str(address.get("address2", "")),
                    city=str(address.get("city", "")),
                    state_or_province=str(address.get("state_or_province", "")),
                    postal_code=str(address.get("postal_code", "")),
                    country_code=str(address.get("country_code", "US")),
                    phone=phone,
                )
            )
        self.customers[cid] = customer
        return customer, [("store/customer/created", {"type": "customer", "id": cid})]

    def update_customer(
        self, customer_id: int, *, now: datetime, fields: dict[str, Any]
    ) -> tuple[Customer, list[Event]]:
        customer = self.customer(customer_id)
        allowed = {"email", "first_name", "last_name", "company", "phone", "customer_group_id"}
        unknown = set(fields) - allowed
        if unknown:
            raise BcError(422, f"unknown customer fields {sorted(unknown)}")
        for key, value in fields.items():
            setattr(customer, key, value)
        customer.date_modified = max(now, customer.date_modified)
        return customer, [("store/customer/updated", {"type": "customer", "id": customer_id})]

    # ----------------------------------------------------------------- orders

    def add_order(
        self,
        *,
        now: datetime,
        customer_id: int,
        billing_address: dict[str, Any],
        lines: list[dict[str, Any]],
        currency_code: str,
        default_currency_code: str,
        status_id: int,
        tax_rate: Decimal,
        shipping_cost_ex_tax: Decimal,
        payment_method: str = "Credit Card",
        channel_id: int = 1,
        date_created: datetime | None = None,
        customer_message: str = "",
        staff_notes: str = "",
    ) -> tuple[Order, list[Event]]:
        """Create an order. ``lines`` items: product_id, name, sku, quantity, price (ex tax),
        optional variant_id and discount (ex-tax amount on that line)."""
        if customer_id and customer_id not in self.customers:
            raise BcError(422, f"customer {customer_id} does not exist")
        if status_id not in ORDER_STATUSES:
            raise BcError(422, f"unknown status_id {status_id}")
        if not lines:
            raise BcError(422, "an order needs at least one product line")
        oid = self.ids.next("order")
        created = date_created or now
        ship_addr_id = self.ids.next("order_address")
        shipping_address = {
            "id": ship_addr_id,
            **{k: v for k, v in billing_address.items() if k != "form_fields"},
        }
        order = Order(
            id=oid,
            customer_id=customer_id,
            date_created=created,
            date_modified=created,
            status_id=status_id,
            currency_code=currency_code,
            default_currency_code=default_currency_code,
            store_default_currency_code=self.default_currency,
            billing_address=dict(billing_address),
            shipping_address=shipping_address,
            tax_rate=tax_rate,
            shipping_cost_ex_tax=q2(shipping_cost_ex_tax),
            payment_method=payment_method,
            channel_id=channel_id,
            customer_message=customer_message,
            staff_notes=staff_notes,
            cart_id=f"cart-{oid:08d}",
        )
        for spec in lines:
            quantity = int(spec.get("quantity", 1))
            price = q2(spec.get("price", "0"))
            if quantity < 1 or price < 0:
                raise BcError(422, "line quantity must be >= 1 and price >= 0")
            line = OrderLine(
                id=self.ids.next("line"),
                order_id=oid,
                product_id=int(spec.get("product_id", 0)),
                variant_id=int(spec.get("variant_id", spec.get("product_id", 0))),
                name=str(spec.get("name", "Product")),
                sku=str(spec.get("sku", "")),
                quantity=quantity,
                price_ex_tax=price,
                tax_rate=tax_rate,
                order_address_id=ship_addr_id,
                discount=q2(spec.get("discount", "0")),
            )
            if line.discount > line.total_ex_tax:
                raise BcError(422, "a line discount cannot exceed the line total")
            order.lines.append(line)
        self.orders[oid] = order
        return order, [order_event("store/order/created", oid)]

    def _touch(self, order: Order, now: datetime, new_status: int | None) -> list[Event]:
        """Bump ``date_modified``; return updated (+ statusUpdated when the status changes)."""
        order.date_modified = max(now, order.date_modified)
        events = [order_event("store/order/updated", order.id)]
        if new_status is not None and new_status != order.status_id:
            previous = order.status_id
            order.status_id = new_status
            events.append(status_event(order.id, previous, new_status))
        return events

    def update_order(
        self, order_id: int, *, now: datetime, fields: dict[str, Any]
    ) -> tuple[Order, list[Event]]:
        order = self.order(order_id)
        allowed = {"status_id", "customer_message", "staff_notes", "payment_method", "channel_id"}
        allowed |= {"billing_address"}
        unknown = set(fields) - allowed
        if unknown:
            raise BcError(422, f"unknown order fields {sorted(unknown)}")
        status = fields.get("status_id")
        if status is not None and int(status) not in ORDER_STATUSES:
            raise BcError(422, f"unknown status_id {status}")
        for key in ("customer_message", "staff_notes", "payment_method"):
            if key in fields:
                setattr(order, key, str(fields[key]))
        if "channel_id" in fields:
            order.channel_id = int(fields["channel_id"])
        if "billing_address" in fields:
            order.billing_address = {**order.billing_address, **dict(fields["billing_address"])}
        return order, self._touch(order, now, None if status is None else int(status))

    def archive_order(self, order_id: int, *, now: datetime) -> tuple[Order, list[Event]]:
        order = self.order(order_id)
        order.is_deleted = True
        order.date_modified = max(now, order.date_modified)
        return order, [order_event("store/order/archived", order_id)]

    def capture(
        self, order_id: int, *, now: datetime, amount: Decimal | None
    ) -> tuple[Transaction, list[Event]]:
        """A capture transaction; a fully paid order waiting for payment moves to 11."""
        order = self.order(order_id)
        total = order.totals()["total_inc_tax"]
        remaining = total - order.captured
        value = remaining if amount is None else q2(amount)
        if value <= 0 or value > remaining:
            raise BcError(422, f"capture amount must be in (0, {remaining}]")
        txn = Transaction(
            id=self.ids.next("transaction"),
            order_id=order_id,
            event="capture",
            amount=value,
            currency=order.default_currency_code,
            date_created=now,
            gateway_transaction_id=f"gw-{order_id}-{self.ids.transaction}",
        )
        order.transactions.append(txn)
        new_status = None
        if order.captured >= total and order.status_id in (0, 1, 7):
            new_status = 11
        events: list[Event] = [
            (
                "store/order/transaction/created",
                {
                    "type": "transaction",
                    "order_id": order_id,
                    "transaction_id": txn.id,
                    "transaction_type": txn.event,
                },
            )
        ]
        return txn, events + self._touch(order, now, new_status)

    def ship(
        self,
        order_id: int,
        *,
        now: datetime,
        items: list[dict[str, Any]] | None,
        tracking_number: str | None = None,
    ) -> tuple[Shipment, list[Event]]:
        """A shipment of ``items`` ([{order_product_id, quantity}], default: all unshipped)."""
        order = self.order(order_id)
        if order.status_id in (0, 4, 5, 6):
            status_name = ORDER_STATUSES[order.status_id]
            raise BcError(422, f"cannot ship an order in status {status_name}")
        by_id = {ln.id: ln for ln in order.lines}
        wanted: list[tuple[OrderLine, int]] = []
        if items is None:
            wanted = [
                (ln, ln.quantity - ln.quantity_shipped)
                for ln in order.lines
                if ln.quantity > ln.quantity_shipped
            ]
        else:
            for item in items:
                line = by_id.get(int(item.get("order_product_id", 0)))
                qty = int(item.get("quantity", 0))
                if line is None:
                    raise BcError(422, f"order product {item.get('order_product_id')} not found")
                if qty < 1 or qty > line.quantity - line.quantity_shipped:
                    raise BcError(422, f"cannot ship {qty} of order product {line.id}")
                wanted.append((line, qty))
        if not wanted:
            raise BcError(422, "nothing left to ship")
        for line, qty in wanted:
            line.quantity_shipped += qty
        sid = self.ids.next("shipment")
        shipment = Shipment(
            id=sid,
            order_id=order_id,
            customer_id=order.customer_id,
            order_address_id=order.order_address_id,
            date_created=now,
            tracking_number=tracking_number or f"1Z{order_id:08d}{sid:06d}",
            items=[
                {"order_product_id": ln.id, "product_id": ln.product_id, "quantity": q}
                for ln, q in wanted
            ],
            billing_address={k: v for k, v in order.billing_address.items() if k != "form_fields"},
            shipping_address={k: v for k, v in order.shipping_address.items() if k != "id"},
        )
        order.shipments.append(shipment)
        order.date_shipped = now
        all_shipped = all(ln.quantity_shipped >= ln.quantity for ln in order.lines)
        new_status = order.status_id
        if order.status_id not in (13, 14):
            new_status = 2 if all_shipped else 3
        events: list[Event] = [
            ("store/shipment/created", {"type": "shipment", "id": sid, "orderId": order_id})
        ]
        return shipment, events + self._touch(order, now, new_status)

    def refund(
        self,
        order_id: int,
        *,
        now: datetime,
        amount: Decimal | None,
        items: list[dict[str, Any]] | None = None,
        reason: str = "",
    ) -> tuple[Refund, list[Event]]:
        """A refund of captured money: either an amount against the whole order (item_type
        ``ORDER``) or product quantities (``PRODUCT``, priced at the line's unit price inc tax)."""
        order = self.order(order_id)
        totals = order.totals()
        refundable = order.captured - order.refunded
        refund_items: list[dict[str, Any]] = []
        if items:
            by_id = {ln.id: ln for ln in order.lines}
            value = ZERO
            tax = ZERO
            for item in items:
                line = by_id.get(int(item.get("order_product_id", 0)))
                qty = int(item.get("quantity", 0))
                if line is None:
                    raise BcError(422, f"order product {item.get('order_product_id')} not found")
                if qty < 1 or qty > line.quantity - line.quantity_refunded:
                    raise BcError(422, f"cannot refund {qty} of order product {line.id}")
                line_amount = line.price_inc_tax * qty
                value += line_amount
                tax += line.price_tax * qty
                refund_items.append(
                    {
                        "item_type": "PRODUCT",
                        "item_id": line.id,
                        "quantity": qty,
                        "requested_amount": number(line_amount),
                        "reason": reason,
                    }
                )
            if amount is not None and q2(amount) != value:
                raise BcError(422, f"amount {amount} does not match the items ({value})")
        else:
            if amount is None:
                raise BcError(422, "amount or items is required")
            value = q2(amount)
            total = totals["total_inc_tax"]
            tax = q2(value * totals["total_tax"] / total) if total else ZERO
            refund_items.append(
                {
                    "item_type": "ORDER",
                    "item_id": order_id,
                    "quantity": 1,
                    "requested_amount": number(value),
                    "reason": reason,
                }
            )
        if value <= 0 or value > refundable:
            raise BcError(422, f"refund amount must be in (0, {refundable}] (captured funds)")
        if items:
            by_id = {ln.id: ln for ln in order.lines}
            for item in refund_items:
                line = by_id[item["item_id"]]
                line.quantity_refunded += item["quantity"]
                line.refund_amount += Decimal(str(item["requested_amount"]))
        refund = Refund(
            id=self.ids.next("refund"),
            order_id=order_id,
            created=now,
            reason=reason,
            total_amount=value,
            total_tax=tax,
            items=refund_items,
            payment_id=self.ids.next("payment"),
        )
        order.refunds.append(refund)
        order.transactions.append(
            Transaction(
                id=self.ids.next("transaction"),
                order_id=order_id,
                event="refund",
                amount=value,
                currency=order.default_currency_code,
                date_created=now,
                gateway_transaction_id=f"gw-{order_id}-{self.ids.transaction}",
            )
        )
        new_status = 4 if order.refunded >= totals["total_inc_tax"] else 14
        events: list[Event] = [
            (
                "store/order/refund/created",
                {"type": "order", "id": order_id, "refund": {"refund_id": refund.id}},
            )
        ]
        return refund, events + self._touch(order, now, new_status)


def now_seconds(epoch: float) -> datetime:
    """Simulator-clock datetime truncated to seconds (BC dates have second resolution)."""
    return datetime.fromtimestamp(int(epoch), tz=UTC)
