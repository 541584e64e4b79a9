"""BigCommerce money events after the order → plain typed data: captured transactions (v3,
bc §3), shipments (v2) and refunds (v3 ``payment_actions/refunds``). Each is staged as its own
record and posted to IFS as a GL voucher.

Money: v3 sends JSON numbers (transaction ``amount``, refund ``total_amount``) — they become
``Decimal``. Dates: v2 RFC 2822, v3 ISO 8601 — both become aware UTC datetimes. Shape problems
raise :class:`~connector.stores.schemas.InvalidPayload` with plain sentences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from marshmallow import fields, post_load

from connector.stores.bigcommerce.address_schemas import BcAddress, BcAddressSchema
from connector.stores.bigcommerce.schema_base import BcBase, many, tuples
from connector.stores.schemas import (
    Flag,
    IsoUtcDateTime,
    Money,
    Rfc2822DateTime,
    Text,
    WholeNumber,
    load_schema,
    schema_of,
)

__all__ = [
    "BcRefund",
    "BcRefundItem",
    "BcRefundPayment",
    "BcRefundSchema",
    "BcShipment",
    "BcShipmentItem",
    "BcShipmentSchema",
    "BcTransaction",
    "BcTransactionSchema",
    "parse_bc_refund",
    "parse_bc_shipment",
    "parse_bc_transaction",
]


# --------------------------------------------------------------------------------------------
# plain data


@dataclass(frozen=True, slots=True)
class BcShipmentItem:
    order_product_id: int
    product_id: int
    quantity: int


@dataclass(frozen=True, slots=True)
class BcShipment:
    """``/v2/orders/{id}/shipments/{shipment_id}``."""

    id: int
    order_id: int
    date_created: datetime | None
    customer_id: int = 0
    order_address_id: int = 0
    tracking_number: str = ""
    shipping_method: str = ""
    shipping_provider: str = ""
    tracking_carrier: str = ""
    tracking_link: str = ""
    comments: str = ""
    items: tuple[BcShipmentItem, ...] = ()
    billing_address: BcAddress = field(default_factory=BcAddress)
    shipping_address: BcAddress = field(default_factory=BcAddress)


@dataclass(frozen=True, slots=True)
class BcTransaction:
    """``/v3/orders/{id}/transactions`` entry (``amount`` is a JSON number, bc §3)."""

    id: int
    order_id: int
    event: str
    amount: Decimal
    currency: str
    status: str
    method: str = ""
    gateway: str = ""
    gateway_transaction_id: str = ""
    test: bool = False
    date_created: datetime | None = None


@dataclass(frozen=True, slots=True)
class BcRefundItem:
    item_type: str
    item_id: int
    quantity: int | None = None
    requested_amount: Decimal | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class BcRefundPayment:
    id: int
    provider_id: str
    amount: Decimal
    offline: bool = False
    is_declined: bool = False
    declined_message: str = ""


@dataclass(frozen=True, slots=True)
class BcRefund:
    """A refund (``/v3/orders/payment_actions/refunds``)."""

    id: int
    order_id: int
    total_amount: Decimal
    created: datetime | None = None
    user_id: int = 0
    reason: str = ""
    total_tax: Decimal = Decimal("0")
    items: tuple[BcRefundItem, ...] = ()
    payments: tuple[BcRefundPayment, ...] = ()


# --------------------------------------------------------------------------------------------
# schemas


class _BcShipmentItemSchema(BcBase):
    order_product_id = WholeNumber(required=True)
    product_id = WholeNumber(load_default=0)
    quantity = WholeNumber(required=True)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcShipmentItem:
        return BcShipmentItem(**data)


class BcShipmentSchema(BcBase):
    """``GET /v2/orders/{id}/shipments/{shipment_id}``."""

    id = WholeNumber(required=True)
    order_id = WholeNumber(required=True)
    customer_id = WholeNumber(load_default=0)
    order_address_id = WholeNumber(load_default=0)
    date_created = Rfc2822DateTime()
    tracking_number = Text()
    shipping_method = Text()
    shipping_provider = Text()
    tracking_carrier = Text()
    tracking_link = Text()
    comments = Text()
    items = many(_BcShipmentItemSchema)
    billing_address = fields.Nested(BcAddressSchema, load_default=BcAddress, allow_none=True)
    shipping_address = fields.Nested(BcAddressSchema, load_default=BcAddress, allow_none=True)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcShipment:
        for name in ("billing_address", "shipping_address"):
            if data.get(name) is None:
                data[name] = BcAddress()
        return BcShipment(**tuples(data, "items"))


class BcTransactionSchema(BcBase):
    """One entry of ``GET /v3/orders/{id}/transactions`` (``order_id`` is a string there)."""

    id = WholeNumber(required=True)
    order_id = WholeNumber(required=True)
    event = Text(required=True)
    method = Text()
    amount = Money(required=True)
    currency = Text()
    gateway = Text()
    gateway_transaction_id = Text()
    status = Text()
    test = Flag(load_default=False)
    date_created = IsoUtcDateTime()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcTransaction:
        return BcTransaction(**data)


class _BcRefundItemSchema(BcBase):
    item_type = Text(required=True)
    item_id = WholeNumber(load_default=0)
    quantity = WholeNumber(load_default=None, allow_none=True)
    requested_amount = Money(none_as_zero=False)
    reason = Text()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcRefundItem:
        return BcRefundItem(**data)


class _BcRefundPaymentSchema(BcBase):
    id = WholeNumber(required=True)
    provider_id = Text()
    amount = Money(required=True)
    offline = Flag(load_default=False)
    is_declined = Flag(load_default=False)
    declined_message = Text()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcRefundPayment:
        return BcRefundPayment(**data)


class BcRefundSchema(BcBase):
    """One refund of ``/v3/orders/payment_actions/refunds``."""

    id = WholeNumber(required=True)
    order_id = WholeNumber(required=True)
    user_id = WholeNumber(load_default=0)
    created = IsoUtcDateTime()
    reason = Text()
    total_amount = Money(required=True)
    total_tax = Money()
    items = many(_BcRefundItemSchema)
    payments = many(_BcRefundPaymentSchema)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcRefund:
        return BcRefund(**tuples(data, "items", "payments"))


# --------------------------------------------------------------------------------------------
# parsing


def parse_bc_shipment(payload: Any) -> BcShipment:
    """Read one shipment."""
    result: BcShipment = load_schema(schema_of(BcShipmentSchema), payload, "shipment")
    return result


def parse_bc_transaction(payload: Any) -> BcTransaction:
    """Read one payment transaction."""
    result: BcTransaction = load_schema(schema_of(BcTransactionSchema), payload, "transaction")
    return result


def parse_bc_refund(payload: Any) -> BcRefund:
    """Read one refund."""
    result: BcRefund = load_schema(schema_of(BcRefundSchema), payload, "refund")
    return result
