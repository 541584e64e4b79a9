"""WooCommerce records as plain typed data: frozen dataclasses (conventions habit 9).

Ids are ``int``, money is ``Decimal`` (Woo sends 2-dp strings, but a line's ``price`` is a JSON
number — woo §3), datetimes are timezone-aware UTC taken from the ``*_gmt`` fields (woo §3).
They are built by :mod:`connector.stores.woocommerce.schemas` from the payloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

__all__ = [
    "WooAddress",
    "WooCouponLine",
    "WooCustomer",
    "WooFeeLine",
    "WooLineItem",
    "WooOrder",
    "WooRefundRef",
    "WooShippingLine",
    "WooTaxLine",
]


@dataclass(frozen=True, slots=True)
class WooAddress:
    """A billing or shipping address. Only billing carries ``email``/``phone`` in Woo."""

    first_name: str = ""
    last_name: str = ""
    company: str = ""
    address_1: str = ""
    address_2: str = ""
    city: str = ""
    state: str = ""
    postcode: str = ""
    country: str = ""
    email: str = ""
    phone: str = ""

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


@dataclass(frozen=True, slots=True)
class WooLineItem:
    """One product line. ``price`` is the unit price excluding tax (a JSON number in Woo)."""

    id: int
    name: str
    product_id: int
    variation_id: int
    quantity: int
    sku: str
    price: Decimal
    subtotal: Decimal
    subtotal_tax: Decimal
    total: Decimal
    total_tax: Decimal
    tax_class: str = ""


@dataclass(frozen=True, slots=True)
class WooShippingLine:
    id: int
    method_id: str
    method_title: str
    total: Decimal
    total_tax: Decimal


@dataclass(frozen=True, slots=True)
class WooFeeLine:
    id: int
    name: str
    total: Decimal
    total_tax: Decimal


@dataclass(frozen=True, slots=True)
class WooCouponLine:
    id: int
    code: str
    discount: Decimal
    discount_tax: Decimal


@dataclass(frozen=True, slots=True)
class WooTaxLine:
    id: int
    rate_code: str
    rate_id: int
    label: str
    compound: bool
    tax_total: Decimal
    shipping_tax_total: Decimal


@dataclass(frozen=True, slots=True)
class WooRefundRef:
    """A refund as listed on the order (``total`` is negative, e.g. ``-10.00``)."""

    id: int
    reason: str
    total: Decimal


@dataclass(frozen=True, slots=True)
class WooOrder:
    """A WooCommerce order. ``version`` is the raw ``date_modified_gmt`` (the record version
    used for dedupe and "older never overwrites newer")."""

    id: int
    number: str
    status: str
    currency: str
    date_modified: datetime
    version: str
    total: Decimal
    total_tax: Decimal
    parent_id: int = 0
    order_key: str = ""
    date_created: datetime | None = None
    date_paid: datetime | None = None
    date_completed: datetime | None = None
    discount_total: Decimal = Decimal("0")
    discount_tax: Decimal = Decimal("0")
    shipping_total: Decimal = Decimal("0")
    shipping_tax: Decimal = Decimal("0")
    cart_tax: Decimal = Decimal("0")
    prices_include_tax: bool = False
    customer_id: int = 0
    customer_note: str = ""
    billing: WooAddress = field(default_factory=WooAddress)
    shipping: WooAddress = field(default_factory=WooAddress)
    payment_method: str = ""
    payment_method_title: str = ""
    transaction_id: str = ""
    line_items: tuple[WooLineItem, ...] = ()
    shipping_lines: tuple[WooShippingLine, ...] = ()
    fee_lines: tuple[WooFeeLine, ...] = ()
    coupon_lines: tuple[WooCouponLine, ...] = ()
    tax_lines: tuple[WooTaxLine, ...] = ()
    refunds: tuple[WooRefundRef, ...] = ()

    @property
    def is_guest(self) -> bool:
        """Guest checkout: ``customer_id`` 0, no WordPress user behind it (woo §3)."""
        return self.customer_id == 0


@dataclass(frozen=True, slots=True)
class WooCustomer:
    """A registered WooCommerce customer (WordPress user)."""

    id: int
    email: str
    first_name: str = ""
    last_name: str = ""
    username: str = ""
    role: str = ""
    date_created: datetime | None = None
    date_modified: datetime | None = None
    is_paying_customer: bool = False
    billing: WooAddress = field(default_factory=WooAddress)
    shipping: WooAddress = field(default_factory=WooAddress)


