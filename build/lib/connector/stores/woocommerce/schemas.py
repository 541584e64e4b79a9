"""WooCommerce payloads → plain typed data (conventions habit 9).

marshmallow at the edge (``unknown = EXCLUDE``: stores add plugin fields freely), frozen
dataclasses inside: ids are ``int``, money is ``Decimal`` (Woo sends 2-dp strings, but a
line's ``price`` is a JSON number — woo §3), datetimes are timezone-aware UTC taken from the
``*_gmt`` fields (ISO 8601 without offset — woo §3).

Two layers of checks, both phrased for an operator:

* :func:`parse_woo_order` / :func:`parse_woo_customer` raise :class:`InvalidPayload` when the
  payload's *shape* is wrong ("quantity on line 2 (Mug) is not a whole number");
* :func:`validate_woo_order` returns *business* problems ("line 2 (Mug) has no SKU").

The generic pieces (fields, :class:`InvalidPayload`, :func:`describe_errors`) live in
:mod:`connector.stores.schemas`, shared with the BigCommerce schemas.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, post_load, pre_load

from connector.stores.schemas import (
    Flag,
    InvalidPayload,
    IsoUtcDateTime,
    Money,
    Text,
    WholeNumber,
    is_valid_email,
    load_schema,
)

__all__ = [
    "InvalidPayload",
    "WooAddress",
    "WooAddressSchema",
    "WooCouponLine",
    "WooCustomer",
    "WooCustomerSchema",
    "WooFeeLine",
    "WooLineItem",
    "WooLineItemSchema",
    "WooOrder",
    "WooOrderSchema",
    "WooRefundRef",
    "WooShippingLine",
    "WooTaxLine",
    "parse_woo_customer",
    "parse_woo_order",
    "validate_woo_order",
]


# --------------------------------------------------------------------------------------------
# plain data


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


# --------------------------------------------------------------------------------------------
# schemas


def _tuple(values: Any) -> tuple[Any, ...]:
    return tuple(values or ())


class _Base(Schema):
    class Meta:
        unknown = EXCLUDE


class WooAddressSchema(_Base):
    first_name = Text()
    last_name = Text()
    company = Text()
    address_1 = Text()
    address_2 = Text()
    city = Text()
    state = Text()
    postcode = Text()
    country = Text()
    email = Text()
    phone = Text()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> WooAddress:
        return WooAddress(**data)


class WooLineItemSchema(_Base):
    id = WholeNumber(required=True)
    name = Text()
    product_id = WholeNumber(load_default=0)
    variation_id = WholeNumber(load_default=0)
    quantity = WholeNumber(required=True)
    sku = Text()
    price = Money()
    subtotal = Money()
    subtotal_tax = Money()
    total = Money()
    total_tax = Money()
    tax_class = Text()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> WooLineItem:
        return WooLineItem(**data)


class _WooShippingLineSchema(_Base):
    id = WholeNumber(required=True)
    method_id = Text()
    method_title = Text()
    total = Money()
    total_tax = Money()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> WooShippingLine:
        return WooShippingLine(**data)


class _WooFeeLineSchema(_Base):
    id = WholeNumber(required=True)
    name = Text()
    total = Money()
    total_tax = Money()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> WooFeeLine:
        return WooFeeLine(**data)


class _WooCouponLineSchema(_Base):
    id = WholeNumber(required=True)
    code = Text()
    discount = Money()
    discount_tax = Money()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> WooCouponLine:
        return WooCouponLine(**data)


class _WooTaxLineSchema(_Base):
    id = WholeNumber(required=True)
    rate_code = Text()
    rate_id = WholeNumber(load_default=0)
    label = Text()
    compound = Flag(load_default=False)
    tax_total = Money()
    shipping_tax_total = Money()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> WooTaxLine:
        return WooTaxLine(**data)


class _WooRefundRefSchema(_Base):
    id = WholeNumber(required=True)
    reason = Text()
    total = Money()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> WooRefundRef:
        return WooRefundRef(**data)


def _lines(schema: type[Schema]) -> fields.List[Any]:
    return fields.List(fields.Nested(schema), load_default=list)


class WooOrderSchema(_Base):
    """``GET /orders/{id}`` (and webhook bodies, which are the same representation — woo §6)."""

    id = WholeNumber(required=True)
    version = Text(data_key="_version")
    parent_id = WholeNumber(load_default=0)
    number = Text()
    order_key = Text()
    status = Text(required=True)
    currency = Text(required=True)
    date_created = IsoUtcDateTime(data_key="date_created_gmt")
    date_modified = IsoUtcDateTime(data_key="date_modified_gmt", required=True,
                                   allow_none=False)
    date_paid = IsoUtcDateTime(data_key="date_paid_gmt")
    date_completed = IsoUtcDateTime(data_key="date_completed_gmt")
    discount_total = Money()
    discount_tax = Money()
    shipping_total = Money()
    shipping_tax = Money()
    cart_tax = Money()
    total = Money(required=True)
    total_tax = Money()
    prices_include_tax = Flag(load_default=False)
    customer_id = WholeNumber(load_default=0)
    customer_note = Text()
    billing = fields.Nested(WooAddressSchema, load_default=WooAddress)
    shipping = fields.Nested(WooAddressSchema, load_default=WooAddress)
    payment_method = Text()
    payment_method_title = Text()
    transaction_id = Text()
    line_items = _lines(WooLineItemSchema)
    shipping_lines = _lines(_WooShippingLineSchema)
    fee_lines = _lines(_WooFeeLineSchema)
    coupon_lines = _lines(_WooCouponLineSchema)
    tax_lines = _lines(_WooTaxLineSchema)
    refunds = _lines(_WooRefundRefSchema)

    @pre_load
    def _keep_version(self, data: Any, **kwargs: Any) -> Any:
        # The raw ``date_modified_gmt`` string is the record version (woo decision 2).
        if isinstance(data, Mapping):
            return {**data, "_version": data.get("date_modified_gmt")}
        return data

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> WooOrder:
        for name in ("line_items", "shipping_lines", "fee_lines", "coupon_lines", "tax_lines",
                     "refunds"):
            data[name] = _tuple(data.get(name))
        return WooOrder(**data)


class WooCustomerSchema(_Base):
    """``GET /customers/{id}``."""

    id = WholeNumber(required=True)
    email = Text()
    first_name = Text()
    last_name = Text()
    username = Text()
    role = Text()
    date_created = IsoUtcDateTime(data_key="date_created_gmt")
    date_modified = IsoUtcDateTime(data_key="date_modified_gmt")
    is_paying_customer = Flag(load_default=False)
    billing = fields.Nested(WooAddressSchema, load_default=WooAddress)
    shipping = fields.Nested(WooAddressSchema, load_default=WooAddress)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> WooCustomer:
        return WooCustomer(**data)


def parse_woo_order(payload: Any) -> WooOrder:
    """Read one order payload; :class:`InvalidPayload` lists every shape problem in words."""
    result: WooOrder = load_schema(WooOrderSchema(), payload, "order")
    return result


def parse_woo_customer(payload: Any) -> WooCustomer:
    """Read one customer payload; :class:`InvalidPayload` lists every shape problem in words."""
    result: WooCustomer = load_schema(WooCustomerSchema(), payload, "customer")
    return result


# --------------------------------------------------------------------------------------------
# business validation


def _line_name(index: int, name: str) -> str:
    return f"line {index}" + (f" ({name})" if name else "")


def validate_woo_order(
    order: WooOrder,
    *,
    allowed_currencies: Collection[str] = (),
    require_email: bool = False,
) -> list[str]:
    """Business problems that stop this order from becoming an IFS customer order, in plain
    words; empty when the order can go ahead.

    ``allowed_currencies`` empty means "any". A billing e-mail is always required for guest
    orders (it is the only way to identify the buyer) and for every order when
    ``require_email`` is set.
    """
    problems: list[str] = []
    if allowed_currencies and order.currency.upper() not in {c.upper() for c in
                                                             allowed_currencies}:
        allowed = ", ".join(sorted(allowed_currencies))
        problems.append(f"currency {order.currency or '(none)'} is not one of the allowed "
                        f"currencies ({allowed})")
    email = order.billing.email.strip()
    if not email:
        if require_email or order.is_guest:
            problems.append("billing e-mail is missing")
    elif not is_valid_email(email):
        problems.append(f"billing e-mail {email!r} is not a valid address")
    if not order.line_items:
        problems.append("the order has no product lines")
    for index, line in enumerate(order.line_items, start=1):
        where = _line_name(index, line.name)
        if not line.sku.strip():
            problems.append(f"{where} has no SKU")
        if line.quantity < 0:
            problems.append(f"quantity {line.quantity} on {where} is negative")
        elif line.quantity == 0:
            problems.append(f"quantity on {where} is zero")
        if line.total < 0:
            problems.append(f"total {line.total} on {where} is negative")
    if order.total < 0:
        problems.append(f"order total {order.total} is negative")
    return problems
