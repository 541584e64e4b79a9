"""BigCommerce v2 orders → plain typed data: the order with its fee lines, and its product lines
(``reference/bigcommerce.md`` §2; addresses are
:mod:`~connector.stores.bigcommerce.address_schemas`).

Money: v2 sends strings with 4 dp (``"47.6000"``) — they become ``Decimal``. Dates: v2 RFC 2822
(``Fri, 14 Mar 2025 09:05:40 +0000``) — they become aware UTC datetimes.
``default_currency_code`` is the transactional currency and is exposed as ``currency``;
``currency_code`` is only the shopper's display currency (bc §2).

Shape problems raise :class:`~connector.stores.schemas.InvalidPayload` with plain sentences.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields, post_load, pre_load

from connector.stores.bigcommerce.address_schemas import BcAddress, BcAddressSchema
from connector.stores.bigcommerce.schema_base import BcBase, many, tuples
from connector.stores.schemas import (
    Flag,
    InvalidPayload,
    Money,
    Rfc2822DateTime,
    Text,
    WholeNumber,
    describe_errors,
    load_schema,
    schema_of,
)

__all__ = [
    "ORDER_STATUSES",
    "BcAppliedDiscount",
    "BcFee",
    "BcOrder",
    "BcOrderProduct",
    "BcOrderProductSchema",
    "BcOrderSchema",
    "parse_bc_order",
    "parse_bc_order_products",
]

#: Order status ids (bc §2).
ORDER_STATUSES = {
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


# --------------------------------------------------------------------------------------------
# plain data


@dataclass(frozen=True, slots=True)
class BcFee:
    """One fee line of an order (bc "Money fields": ``display_name``, ``cost_ex_tax`` …)."""

    id: int = 0
    type: str = ""
    display_name: str = ""
    cost_ex_tax: Decimal = Decimal("0")
    cost_inc_tax: Decimal = Decimal("0")
    cost_tax: Decimal = Decimal("0")


@dataclass(frozen=True, slots=True)
class BcOrder:
    """A v2 order. ``currency`` is ``default_currency_code`` (transactional); ``version`` is the
    raw ``date_modified`` string (record version, bc decision 4)."""

    id: int
    status_id: int
    currency: str
    date_modified: datetime
    version: str
    total_inc_tax: Decimal
    status: str = ""
    customer_id: int = 0
    date_created: datetime | None = None
    date_shipped: datetime | None = None
    subtotal_ex_tax: Decimal = Decimal("0")
    subtotal_inc_tax: Decimal = Decimal("0")
    subtotal_tax: Decimal = Decimal("0")
    base_shipping_cost: Decimal = Decimal("0")
    shipping_cost_ex_tax: Decimal = Decimal("0")
    shipping_cost_inc_tax: Decimal = Decimal("0")
    shipping_cost_tax: Decimal = Decimal("0")
    handling_cost_ex_tax: Decimal = Decimal("0")
    handling_cost_inc_tax: Decimal = Decimal("0")
    wrapping_cost_ex_tax: Decimal = Decimal("0")
    wrapping_cost_inc_tax: Decimal = Decimal("0")
    total_ex_tax: Decimal = Decimal("0")
    total_tax: Decimal = Decimal("0")
    discount_amount: Decimal = Decimal("0")
    coupon_discount: Decimal = Decimal("0")
    refunded_amount: Decimal = Decimal("0")
    store_credit_amount: Decimal = Decimal("0")
    gift_certificate_amount: Decimal = Decimal("0")
    items_total: int = 0
    items_shipped: int = 0
    payment_method: str = ""
    payment_status: str = ""
    display_currency: str = ""
    currency_exchange_rate: Decimal = Decimal("1")
    is_deleted: bool = False
    channel_id: int = 1
    customer_message: str = ""
    staff_notes: str = ""
    order_source: str = ""
    external_source: str = ""
    billing_address: BcAddress = field(default_factory=BcAddress)
    #: The order's fee lines (the ``fees`` array, or ``GET /v2/orders/{id}/fees``); None when
    #: the payload carries only the sub-resource link and the fees were not read.
    fees: tuple[BcFee, ...] | None = ()

    @property
    def is_guest(self) -> bool:
        """Guest checkout: ``customer_id`` 0."""
        return self.customer_id == 0


@dataclass(frozen=True, slots=True)
class BcAppliedDiscount:
    id: str
    amount: Decimal
    name: str = ""
    code: str = ""
    target: str = ""


@dataclass(frozen=True, slots=True)
class BcOrderProduct:
    """One product line of an order (``/v2/orders/{id}/products``)."""

    id: int
    order_id: int
    product_id: int
    name: str
    sku: str
    quantity: int
    base_price: Decimal
    price_ex_tax: Decimal
    price_inc_tax: Decimal
    total_ex_tax: Decimal
    total_inc_tax: Decimal
    total_tax: Decimal
    variant_id: int | None = None
    type: str = ""
    quantity_shipped: int = 0
    quantity_refunded: int = 0
    order_address_id: int = 0
    applied_discounts: tuple[BcAppliedDiscount, ...] = ()


# --------------------------------------------------------------------------------------------
# schemas


class BcOrderSchema(BcBase):
    """``GET /v2/orders/{id}``."""

    id = WholeNumber(required=True)
    version = Text(data_key="_version")
    status_id = WholeNumber(required=True)
    status = Text()
    currency = Text(data_key="default_currency_code", required=True)
    display_currency = Text(data_key="currency_code")
    date_created = Rfc2822DateTime()
    date_modified = Rfc2822DateTime(required=True)
    date_shipped = Rfc2822DateTime()
    customer_id = WholeNumber(load_default=0)
    subtotal_ex_tax = Money()
    subtotal_inc_tax = Money()
    subtotal_tax = Money()
    base_shipping_cost = Money()
    shipping_cost_ex_tax = Money()
    shipping_cost_inc_tax = Money()
    shipping_cost_tax = Money()
    handling_cost_ex_tax = Money()
    handling_cost_inc_tax = Money()
    wrapping_cost_ex_tax = Money()
    wrapping_cost_inc_tax = Money()
    fees = fields.List(fields.Nested(lambda: _BcFeeSchema()), load_default=list,
                       allow_none=True)
    fees_unread = Flag(data_key="_fees_unread", load_default=False)
    total_ex_tax = Money()
    total_inc_tax = Money(required=True)
    total_tax = Money()
    discount_amount = Money()
    coupon_discount = Money()
    refunded_amount = Money()
    store_credit_amount = Money()
    gift_certificate_amount = Money()
    items_total = WholeNumber(load_default=0)
    items_shipped = WholeNumber(load_default=0)
    payment_method = Text()
    payment_status = Text()
    currency_exchange_rate = Money(load_default=Decimal("1"))
    is_deleted = Flag(load_default=False)
    channel_id = WholeNumber(load_default=1)
    customer_message = Text()
    staff_notes = Text()
    order_source = Text()
    external_source = Text()
    billing_address = fields.Nested(BcAddressSchema, load_default=BcAddress)

    @pre_load
    def _keep_version(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, Mapping):
            data = {**data, "_version": data.get("date_modified")}
            if isinstance(data.get("fees"), Mapping):
                # Only the sub-resource link ({"url", "resource"}): the fees were not read.
                data["fees"] = None
                data["_fees_unread"] = True
        return data

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcOrder:
        unread = data.pop("fees_unread", False)
        data["fees"] = None if unread else tuple(data.get("fees") or ())
        return BcOrder(**data)


class _BcFeeSchema(BcBase):
    id = WholeNumber(load_default=0)
    type = Text()
    display_name = Text()
    cost_ex_tax = Money()
    cost_inc_tax = Money()
    cost_tax = Money()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcFee:
        return BcFee(**data)


class _BcAppliedDiscountSchema(BcBase):
    id = Text()
    amount = Money()
    name = Text()
    code = Text()
    target = Text()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcAppliedDiscount:
        return BcAppliedDiscount(**data)


class BcOrderProductSchema(BcBase):
    """One entry of ``GET /v2/orders/{id}/products``."""

    id = WholeNumber(required=True)
    order_id = WholeNumber(load_default=0)
    product_id = WholeNumber(load_default=0)
    variant_id = WholeNumber(load_default=None, allow_none=True)
    name = Text()
    sku = Text()
    type = Text()
    quantity = WholeNumber(required=True)
    quantity_shipped = WholeNumber(load_default=0)
    quantity_refunded = WholeNumber(load_default=0)
    order_address_id = WholeNumber(load_default=0)
    base_price = Money()
    price_ex_tax = Money()
    price_inc_tax = Money()
    total_ex_tax = Money()
    total_inc_tax = Money()
    total_tax = Money()
    applied_discounts = many(_BcAppliedDiscountSchema)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcOrderProduct:
        return BcOrderProduct(**tuples(data, "applied_discounts"))


# --------------------------------------------------------------------------------------------
# parsing


def parse_bc_order(payload: Any) -> BcOrder:
    """Read a v2 order; :class:`InvalidPayload` lists shape problems in words."""
    result: BcOrder = load_schema(schema_of(BcOrderSchema), payload, "order")
    return result


def parse_bc_order_products(payload: Any) -> tuple[BcOrderProduct, ...]:
    """Read an order's product lines (a list); problems name the line ("line 2 (Mug)")."""
    if not isinstance(payload, list):
        raise InvalidPayload("order lines", ["the order lines are not a JSON list"])
    try:
        loaded = schema_of(BcOrderProductSchema, many=True).load(payload)
    except ValidationError as exc:
        errors = exc.messages if isinstance(exc.messages, Mapping) else {}
        problems = describe_errors({"products": errors}, {"products": payload}, "order")
        raise InvalidPayload("order lines", problems or ["the order lines are malformed"]) \
            from None
    return tuple(loaded)
