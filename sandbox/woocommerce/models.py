"""Records of the WooCommerce simulator; their REST (``wc/v3``) representation is in
:mod:`sandbox.woocommerce.render`.

Money is kept in integer cents so that every total adds up exactly; it is rendered as the
2-decimal strings WooCommerce sends (reference doc §3). Dates are kept as aware UTC datetimes
at one-second resolution and rendered twice: ``date_*`` in site-local time and ``date_*_gmt``
in UTC, both without an offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# --------------------------------------------------------------------------- money and dates


def money(cents: int, dp: int = 2) -> str:
    """``1234`` -> ``"12.34"`` (the ``dp`` query parameter changes the decimals)."""
    if dp == 2:
        sign = "-" if cents < 0 else ""
        c = abs(cents)
        return f"{sign}{c // 100}.{c % 100:02d}"
    quantum = Decimal(1).scaleb(-dp) if dp > 0 else Decimal(1)
    return str((Decimal(cents) / 100).quantize(quantum, rounding=ROUND_HALF_UP))


def tax_of(cents: int, rate_bp: int) -> int:
    """Tax in cents, rounded half away from zero (``rate_bp`` in basis points: 2300 = 23 %)."""
    if rate_bp == 0 or cents == 0:
        return 0
    sign = -1 if cents < 0 else 1
    return sign * ((abs(cents) * rate_bp + 5000) // 10000)


def percent_of(cents: int, percent: int) -> int:
    """``percent`` % of an amount in cents, rounded half away from zero."""
    sign = -1 if cents < 0 else 1
    return sign * ((abs(cents) * percent + 50) // 100)


def parse_money(value: Any) -> int:
    """``"12.34"`` / ``12.34`` / ``12`` -> 1234 cents. Raises ValueError on junk."""
    d = Decimal(str(value).strip())
    if not d.is_finite():
        raise ValueError(value)
    return int((d * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def iso(dt: datetime | None, offset: timedelta = timedelta(0)) -> str | None:
    """Naive ISO 8601 (no offset), as WooCommerce renders ``date_*`` fields."""
    if dt is None:
        return None
    return (dt + offset).strftime("%Y-%m-%dT%H:%M:%S")


# --------------------------------------------------------------------------- catalogue, taxes


@dataclass(frozen=True)
class Product:
    id: int
    sku: str
    name: str
    price: int  # cents, excluding tax


@dataclass(frozen=True)
class TaxRate:
    id: int
    country: str
    rate_bp: int
    label: str

    @property
    def code(self) -> str:
        # WooCommerce: COUNTRY-STATE-NAME-PRIORITY, upper-cased, empty parts dropped.
        return f"{self.country}-{self.label.upper()}-1"

    @property
    def percent(self) -> float:
        return self.rate_bp / 100


# Standard rates by billing country (tax class "standard"). Countries missing here pay no tax.
TAX_RATES: dict[str, TaxRate] = {
    r.country: r
    for r in (
        TaxRate(1, "PT", 2300, "IVA"),
        TaxRate(2, "ES", 2100, "IVA"),
        TaxRate(3, "FR", 2000, "TVA"),
        TaxRate(4, "DE", 1900, "MwSt"),
        TaxRate(5, "NL", 2100, "BTW"),
        TaxRate(6, "BE", 2100, "BTW"),
        TaxRate(7, "IT", 2200, "IVA"),
        TaxRate(8, "IE", 2300, "VAT"),
        TaxRate(9, "GB", 2000, "VAT"),
        TaxRate(10, "SE", 2500, "Moms"),
    )
}

# Coupons the simulator knows (POST /orders with coupon_lines uses them too).
COUPONS: dict[str, tuple[str, int]] = {
    "save10": ("percent", 10),  # 10 % off every line
    "fiveoff": ("fixed_cart", 500),  # 5.00 off the cart, spread over the lines
    "spring15": ("percent", 15),
}

ORDER_STATUSES = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
)
PAID_STATUSES = ("processing", "completed", "refunded")

BILLING_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "address_1",
    "address_2",
    "city",
    "state",
    "postcode",
    "country",
    "email",
    "phone",
)
SHIPPING_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "address_1",
    "address_2",
    "city",
    "state",
    "postcode",
    "country",
    "phone",
)


def empty_address(fields: tuple[str, ...]) -> dict[str, str]:
    return dict.fromkeys(fields, "")


def merge_address(current: dict[str, str], changes: Any, fields: tuple[str, ...]) -> None:
    """Partial update of an address: only known keys, values as strings (WooCommerce ignores
    unknown address keys)."""
    if not isinstance(changes, dict):
        return
    for k, v in changes.items():
        if k in fields:
            current[k] = "" if v is None else str(v)


def merge_meta(current: list[dict[str, Any]], changes: Any, next_id: Any) -> None:
    """``meta_data`` update: an entry with ``id`` or an existing ``key`` is replaced, else added."""
    if not isinstance(changes, list):
        return
    for entry in changes:
        if not isinstance(entry, dict) or "key" not in entry:
            continue
        for existing in current:
            if ("id" in entry and existing["id"] == entry["id"]) or existing["key"] == entry["key"]:
                existing["value"] = entry.get("value")
                break
        else:
            current.append({"id": next_id(), "key": str(entry["key"]), "value": entry.get("value")})


# --------------------------------------------------------------------------- records


@dataclass
class WpUser:
    """A WordPress user: a shop customer (role ``customer``) or a key owner (administrator...)."""

    id: int
    username: str
    email: str
    role: str
    first_name: str = ""
    last_name: str = ""
    created: datetime | None = None
    modified: datetime | None = None
    billing: dict[str, str] = field(default_factory=lambda: empty_address(BILLING_FIELDS))
    shipping: dict[str, str] = field(default_factory=lambda: empty_address(SHIPPING_FIELDS))
    meta_data: list[dict[str, Any]] = field(default_factory=list)
    is_paying_customer: bool = False

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.username


@dataclass
class ApiKey:
    key_id: int
    consumer_key: str
    consumer_secret: str
    permissions: str  # read | write | read_write
    user_id: int
    description: str = ""
    last_access: datetime | None = None
    nonces: dict[str, float] = field(default_factory=dict)  # nonce -> timestamp it was used with


@dataclass
class LineItem:
    id: int
    name: str
    product_id: int
    variation_id: int
    quantity: int
    unit_price: int  # cents, before discounts, excluding tax
    sku: str
    tax_class: str = ""
    subtotal: int = 0
    subtotal_tax: int = 0
    total: int = 0
    total_tax: int = 0
    meta_data: list[dict[str, Any]] = field(default_factory=list)
    # A bulk line priced below a cent per unit: the shop stores the line subtotal (rounded to
    # the cent), and quantity × the displayed unit price need not give it back (woo §3).
    bulk_subtotal: int | None = None


@dataclass
class ShippingLine:
    id: int
    method_id: str
    method_title: str
    total: int
    instance_id: str = ""
    total_tax: int = 0


@dataclass
class FeeLine:
    id: int
    name: str
    total: int
    tax_status: str = "taxable"
    total_tax: int = 0


@dataclass
class CouponLine:
    id: int
    code: str
    discount: int = 0
    discount_tax: int = 0


@dataclass
class Refund:
    id: int
    created: datetime
    amount: int
    reason: str = ""
    refunded_by: int = 1
    refunded_payment: bool = False


@dataclass
class Order:
    id: int
    status: str
    currency: str
    created: datetime
    modified: datetime
    order_key: str
    customer_id: int
    billing: dict[str, str]
    shipping: dict[str, str]
    parent_id: int = 0
    prices_include_tax: bool = False
    customer_note: str = ""
    payment_method: str = ""
    payment_method_title: str = ""
    transaction_id: str = ""
    customer_ip_address: str = ""
    customer_user_agent: str = ""
    created_via: str = "checkout"
    cart_hash: str = ""
    paid: datetime | None = None
    completed: datetime | None = None
    meta_data: list[dict[str, Any]] = field(default_factory=list)
    line_items: list[LineItem] = field(default_factory=list)
    shipping_lines: list[ShippingLine] = field(default_factory=list)
    fee_lines: list[FeeLine] = field(default_factory=list)
    coupon_lines: list[CouponLine] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    tax_line_id: int = 0  # item id of the (single) tax line, from the order-item sequence

    @property
    def tax_rate(self) -> TaxRate | None:
        country = self.billing.get("country") or self.shipping.get("country") or ""
        return TAX_RATES.get(country)

    def reprice(self) -> None:
        """Recompute every amount from unit prices, quantities, coupons and the tax rate, the
        way ``WC_Order::calculate_totals`` does, so the order always adds up exactly."""
        rate = self.tax_rate
        bp = rate.rate_bp if rate else 0
        for li in self.line_items:
            li.subtotal = (li.bulk_subtotal if li.bulk_subtotal is not None
                           else li.unit_price * li.quantity)
            li.total = li.subtotal
        for cl in self.coupon_lines:
            kind, amount = COUPONS.get(cl.code.lower(), ("percent", 0))
            if kind == "percent":
                cuts = [percent_of(li.total, amount) for li in self.line_items]
            else:
                base = sum(max(li.total, 0) for li in self.line_items)
                left = min(amount, base)
                cuts = []
                for i, li in enumerate(self.line_items):
                    if base <= 0 or li.total <= 0:
                        cuts.append(0)
                    elif i == len(self.line_items) - 1:
                        cuts.append(min(left, li.total))
                    else:
                        cut = min(amount * li.total // base, li.total, left)
                        cuts.append(cut)
                        left -= cut
            for li, cut in zip(self.line_items, cuts, strict=True):
                li.total -= cut
            cl.discount = sum(cuts)
            cl.discount_tax = sum(tax_of(c, bp) for c in cuts)
        for li in self.line_items:
            li.subtotal_tax = tax_of(li.subtotal, bp)
            li.total_tax = tax_of(li.total, bp)
        for sl in self.shipping_lines:
            sl.total_tax = tax_of(sl.total, bp)
        for fl in self.fee_lines:
            fl.total_tax = tax_of(fl.total, bp) if fl.tax_status == "taxable" else 0

    def totals(self) -> dict[str, int]:
        """All order-level amounts in cents. ``total`` = Σ line totals (after discounts) + fees +
        shipping + tax = Σ line subtotals − discount + fees + shipping + tax."""
        cart_tax = sum(li.total_tax for li in self.line_items) + sum(
            fl.total_tax for fl in self.fee_lines
        )
        shipping_tax = sum(sl.total_tax for sl in self.shipping_lines)
        discount = sum(li.subtotal - li.total for li in self.line_items)
        discount_tax = sum(li.subtotal_tax - li.total_tax for li in self.line_items)
        shipping_total = sum(sl.total for sl in self.shipping_lines)
        fees = sum(fl.total for fl in self.fee_lines)
        items = sum(li.total for li in self.line_items)
        total_tax = cart_tax + shipping_tax
        return {
            "discount_total": discount,
            "discount_tax": discount_tax,
            "shipping_total": shipping_total,
            "shipping_tax": shipping_tax,
            "cart_tax": cart_tax,
            "total_tax": total_tax,
            "total": items + fees + shipping_total + total_tax,
        }

    def search_text(self) -> str:
        parts = [str(self.id), *self.billing.values(), *self.shipping.values()]
        parts.extend(li.name for li in self.line_items)
        parts.extend(li.sku for li in self.line_items)
        return " ".join(parts).lower()


@dataclass
class Webhook:
    id: int
    name: str
    status: str  # active | paused | disabled
    topic: str
    delivery_url: str
    secret: str
    user_id: int
    created: datetime
    modified: datetime
    failure_count: int = 0

    @property
    def resource(self) -> str:
        return self.topic.split(".", 1)[0]

    @property
    def event(self) -> str:
        return self.topic.split(".", 1)[1] if "." in self.topic else ""


WEBHOOK_HOOKS: dict[str, list[str]] = {
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded"],
    "order.deleted": ["wp_trash_post", "woocommerce_trash_order", "woocommerce_delete_order"],
    "order.restored": ["untrashed_post", "woocommerce_untrash_order"],
    "customer.created": ["user_register", "woocommerce_created_customer"],
    "customer.updated": ["profile_update", "woocommerce_update_customer"],
    "customer.deleted": ["delete_user"],
}
