"""WooCommerce payloads → plain typed data (conventions habit 9).

marshmallow at the edge (``unknown = EXCLUDE``: stores add plugin fields freely), frozen
dataclasses inside: ids are ``int``, money is ``Decimal`` (Woo sends 2-dp strings, but a
line's ``price`` is a JSON number — woo §3), datetimes are timezone-aware UTC taken from the
``*_gmt`` fields (ISO 8601 without offset — woo §3).

Two layers of checks, both phrased for an operator:

* :func:`parse_woo_order` / :func:`parse_woo_customer` raise :class:`InvalidPayload` when the
  payload's *shape* is wrong ("quantity on line 2 (Mug) is not a whole number");
* :func:`~connector.stores.woocommerce.validation.validate_woo_order` returns *business*
  problems ("line 2 (Mug) has no SKU").

The dataclasses they build are in :mod:`connector.stores.woocommerce.data`.

The generic pieces (fields, :class:`InvalidPayload`, :func:`describe_errors`) live in
:mod:`connector.stores.schemas`, shared with the BigCommerce schemas.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, post_load, pre_load

from connector.stores.schemas import (
    Flag,
    InvalidPayload,
    IsoUtcDateTime,
    Money,
    Text,
    WholeNumber,
    load_schema,
    schema_of,
)
from connector.stores.woocommerce.data import (
    WooAddress,
    WooCouponLine,
    WooCustomer,
    WooFeeLine,
    WooLineItem,
    WooOrder,
    WooRefundRef,
    WooShippingLine,
    WooTaxLine,
)

__all__ = [
    "InvalidPayload",
    "WooAddressSchema",
    "WooCustomerSchema",
    "WooLineItemSchema",
    "WooOrderSchema",
    "parse_woo_customer",
    "parse_woo_order",
]


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
    result: WooOrder = load_schema(schema_of(WooOrderSchema), payload, "order")
    return result


def parse_woo_customer(payload: Any) -> WooCustomer:
    """Read one customer payload; :class:`InvalidPayload` lists every shape problem in words."""
    result: WooCustomer = load_schema(schema_of(WooCustomerSchema), payload, "customer")
    return result


