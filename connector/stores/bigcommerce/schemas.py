"""BigCommerce payloads → plain typed data (conventions habit 9, ``reference/bigcommerce.md``).

``unknown = EXCLUDE`` everywhere. Money: v2 sends strings with 4 dp (``"47.6000"``), v3 sends
JSON numbers (transaction ``amount``, refund ``total_amount``) — both become ``Decimal``. Dates:
v2 RFC 2822 (``Fri, 14 Mar 2025 09:05:40 +0000``), v3 ISO 8601 — both become aware UTC
datetimes. ``default_currency_code`` is the transactional currency and is exposed as
``currency``; ``currency_code`` is only the shopper's display currency (bc §2).

Shape problems raise :class:`~connector.stores.schemas.InvalidPayload` with plain
sentences; :func:`validate_bc_order` returns business problems.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load

from connector.stores.schemas import (
    Flag,
    InvalidPayload,
    IsoUtcDateTime,
    Money,
    Rfc2822DateTime,
    Text,
    WholeNumber,
    describe_errors,
    is_valid_email,
    load_schema,
)

__all__ = [
    "ORDER_STATUSES",
    "BcAddress",
    "BcAddressSchema",
    "BcAppliedDiscount",
    "BcCustomer",
    "BcCustomerAddress",
    "BcCustomerSchema",
    "BcFee",
    "BcOrder",
    "BcOrderProduct",
    "BcOrderProductSchema",
    "BcOrderSchema",
    "BcRefund",
    "BcRefundItem",
    "BcRefundPayment",
    "BcRefundSchema",
    "BcShipment",
    "BcShipmentItem",
    "BcShipmentSchema",
    "BcShippingAddress",
    "BcShippingAddressSchema",
    "BcTransaction",
    "BcTransactionSchema",
    "parse_bc_customer",
    "parse_bc_order",
    "parse_bc_order_products",
    "parse_bc_refund",
    "parse_bc_shipment",
    "parse_bc_shipping_address",
    "parse_bc_transaction",
    "validate_bc_order",
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
class BcAddress:
    """An order's billing address (also shipment addresses)."""

    first_name: str = ""
    last_name: str = ""
    company: str = ""
    street_1: str = ""
    street_2: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    country: str = ""
    country_iso2: str = ""
    phone: str = ""
    email: str = ""

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


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


@dataclass(frozen=True, slots=True)
class BcShippingAddress:
    """``/v2/orders/{id}/shipping_addresses``: a destination and its shipping cost."""

    id: int
    order_id: int
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    street_1: str = ""
    street_2: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    country: str = ""
    country_iso2: str = ""
    phone: str = ""
    email: str = ""
    items_total: int = 0
    items_shipped: int = 0
    shipping_method: str = ""
    base_cost: Decimal = Decimal("0")
    cost_ex_tax: Decimal = Decimal("0")
    cost_inc_tax: Decimal = Decimal("0")
    cost_tax: Decimal = Decimal("0")


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


@dataclass(frozen=True, slots=True)
class BcCustomerAddress:
    id: int
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    address1: str = ""
    address2: str = ""
    city: str = ""
    state_or_province: str = ""
    postal_code: str = ""
    country_code: str = ""
    phone: str = ""
    address_type: str = ""


@dataclass(frozen=True, slots=True)
class BcCustomer:
    """A v3 customer (``/v3/customers``)."""

    id: int
    email: str
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    phone: str = ""
    customer_group_id: int = 0
    date_created: datetime | None = None
    date_modified: datetime | None = None
    addresses: tuple[BcCustomerAddress, ...] = ()
    channel_ids: tuple[int, ...] = ()


# --------------------------------------------------------------------------------------------
# schemas


class _Base(Schema):
    class Meta:
        unknown = EXCLUDE


def _many(schema: type[Schema]) -> fields.List[Any]:
    return fields.List(fields.Nested(schema), load_default=list, allow_none=True)


def _tuples(data: dict[str, Any], *names: str) -> dict[str, Any]:
    for name in names:
        data[name] = tuple(data.get(name) or ())
    return data


class BcAddressSchema(_Base):
    first_name = Text()
    last_name = Text()
    company = Text()
    street_1 = Text()
    street_2 = Text()
    city = Text()
    state = Text()
    zip = Text()
    country = Text()
    country_iso2 = Text()
    phone = Text()
    email = Text()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcAddress:
        return BcAddress(**data)


class BcOrderSchema(_Base):
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


class _BcFeeSchema(_Base):
    id = WholeNumber(load_default=0)
    type = Text()
    display_name = Text()
    cost_ex_tax = Money()
    cost_inc_tax = Money()
    cost_tax = Money()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcFee:
        return BcFee(**data)


class _BcAppliedDiscountSchema(_Base):
    id = Text()
    amount = Money()
    name = Text()
    code = Text()
    target = Text()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcAppliedDiscount:
        return BcAppliedDiscount(**data)


class BcOrderProductSchema(_Base):
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
    applied_discounts = _many(_BcAppliedDiscountSchema)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcOrderProduct:
        return BcOrderProduct(**_tuples(data, "applied_discounts"))


class BcShippingAddressSchema(_Base):
    """One entry of ``GET /v2/orders/{id}/shipping_addresses``."""

    id = WholeNumber(required=True)
    order_id = WholeNumber(load_default=0)
    first_name = Text()
    last_name = Text()
    company = Text()
    street_1 = Text()
    street_2 = Text()
    city = Text()
    state = Text()
    zip = Text()
    country = Text()
    country_iso2 = Text()
    phone = Text()
    email = Text()
    items_total = WholeNumber(load_default=0)
    items_shipped = WholeNumber(load_default=0)
    shipping_method = Text()
    base_cost = Money()
    cost_ex_tax = Money()
    cost_inc_tax = Money()
    cost_tax = Money()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcShippingAddress:
        return BcShippingAddress(**data)


class _BcShipmentItemSchema(_Base):
    order_product_id = WholeNumber(required=True)
    product_id = WholeNumber(load_default=0)
    quantity = WholeNumber(required=True)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcShipmentItem:
        return BcShipmentItem(**data)


class BcShipmentSchema(_Base):
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
    items = _many(_BcShipmentItemSchema)
    billing_address = fields.Nested(BcAddressSchema, load_default=BcAddress, allow_none=True)
    shipping_address = fields.Nested(BcAddressSchema, load_default=BcAddress, allow_none=True)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcShipment:
        for name in ("billing_address", "shipping_address"):
            if data.get(name) is None:
                data[name] = BcAddress()
        return BcShipment(**_tuples(data, "items"))


class BcTransactionSchema(_Base):
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


class _BcRefundItemSchema(_Base):
    item_type = Text(required=True)
    item_id = WholeNumber(load_default=0)
    quantity = WholeNumber(load_default=None, allow_none=True)
    requested_amount = Money(none_as_zero=False)
    reason = Text()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcRefundItem:
        return BcRefundItem(**data)


class _BcRefundPaymentSchema(_Base):
    id = WholeNumber(required=True)
    provider_id = Text()
    amount = Money(required=True)
    offline = Flag(load_default=False)
    is_declined = Flag(load_default=False)
    declined_message = Text()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcRefundPayment:
        return BcRefundPayment(**data)


class BcRefundSchema(_Base):
    """One refund of ``/v3/orders/payment_actions/refunds``."""

    id = WholeNumber(required=True)
    order_id = WholeNumber(required=True)
    user_id = WholeNumber(load_default=0)
    created = IsoUtcDateTime()
    reason = Text()
    total_amount = Money(required=True)
    total_tax = Money()
    items = _many(_BcRefundItemSchema)
    payments = _many(_BcRefundPaymentSchema)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcRefund:
        return BcRefund(**_tuples(data, "items", "payments"))


class _BcCustomerAddressSchema(_Base):
    id = WholeNumber(load_default=0)
    first_name = Text()
    last_name = Text()
    company = Text()
    address1 = Text()
    address2 = Text()
    city = Text()
    state_or_province = Text()
    postal_code = Text()
    country_code = Text()
    phone = Text()
    address_type = Text()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcCustomerAddress:
        return BcCustomerAddress(**data)


class BcCustomerSchema(_Base):
    """One entry of ``GET /v3/customers``."""

    id = WholeNumber(required=True)
    email = Text()
    first_name = Text()
    last_name = Text()
    company = Text()
    phone = Text()
    customer_group_id = WholeNumber(load_default=0, allow_none=True)
    date_created = IsoUtcDateTime()
    date_modified = IsoUtcDateTime()
    addresses = _many(_BcCustomerAddressSchema)
    channel_ids = fields.List(WholeNumber(), load_default=list, allow_none=True)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcCustomer:
        if data.get("customer_group_id") is None:
            data["customer_group_id"] = 0
        return BcCustomer(**_tuples(data, "addresses", "channel_ids"))


# --------------------------------------------------------------------------------------------
# parsing


def parse_bc_order(payload: Any) -> BcOrder:
    """Read a v2 order; :class:`InvalidPayload` lists shape problems in words."""
    result: BcOrder = load_schema(BcOrderSchema(), payload, "order")
    return result


def parse_bc_order_products(payload: Any) -> tuple[BcOrderProduct, ...]:
    """Read an order's product lines (a list); problems name the line ("line 2 (Mug)")."""
    if not isinstance(payload, list):
        raise InvalidPayload("order lines", ["the order lines are not a JSON list"])
    try:
        loaded = BcOrderProductSchema(many=True).load(payload)
    except ValidationError as exc:
        errors = exc.messages if isinstance(exc.messages, Mapping) else {}
        problems = describe_errors({"products": errors}, {"products": payload}, "order")
        raise InvalidPayload("order lines", problems or ["the order lines are malformed"]) \
            from None
    return tuple(loaded)


def parse_bc_shipping_address(payload: Any) -> BcShippingAddress:
    """Read one shipping address of an order."""
    result: BcShippingAddress = load_schema(BcShippingAddressSchema(), payload, "shipping address")
    return result


def parse_bc_shipment(payload: Any) -> BcShipment:
    """Read one shipment."""
    result: BcShipment = load_schema(BcShipmentSchema(), payload, "shipment")
    return result


def parse_bc_transaction(payload: Any) -> BcTransaction:
    """Read one payment transaction."""
    result: BcTransaction = load_schema(BcTransactionSchema(), payload, "transaction")
    return result


def parse_bc_refund(payload: Any) -> BcRefund:
    """Read one refund."""
    result: BcRefund = load_schema(BcRefundSchema(), payload, "refund")
    return result


def parse_bc_customer(payload: Any) -> BcCustomer:
    """Read one customer."""
    result: BcCustomer = load_schema(BcCustomerSchema(), payload, "customer")
    return result


# --------------------------------------------------------------------------------------------
# business validation


def validate_bc_order(
    order: BcOrder,
    lines: Sequence[BcOrderProduct] | None = None,
    *,
    allowed_currencies: Collection[str] = (),
    require_email: bool = True,
) -> list[str]:
    """Business problems that stop this order from reaching IFS, in plain words (empty = ok).

    ``lines`` are the order's product lines when already fetched (``None`` skips line checks).
    The transactional currency (``default_currency_code``) is what is checked against
    ``allowed_currencies`` (empty = any). A billing e-mail is required when ``require_email``
    is set (IFS customers are matched by e-mail, bc decision 6) and always for guests.
    """
    problems: list[str] = []
    if order.status_id == 0:
        problems.append("the order is Incomplete (status 0): the shopper never finished checkout")
    if order.is_deleted:
        problems.append("the order is archived in BigCommerce")
    if allowed_currencies and order.currency.upper() not in {c.upper() for c in
                                                             allowed_currencies}:
        allowed = ", ".join(sorted(allowed_currencies))
        problems.append(f"currency {order.currency or '(none)'} is not one of the allowed "
                        f"currencies ({allowed})")
    email = order.billing_address.email.strip()
    if not email:
        if require_email or order.is_guest:
            problems.append("billing e-mail is missing")
    elif not is_valid_email(email):
        problems.append(f"billing e-mail {email!r} is not a valid address")
    if order.total_inc_tax < 0:
        problems.append(f"order total {order.total_inc_tax} is negative")
    if lines is not None:
        if not lines:
            problems.append("the order has no product lines")
        for index, line in enumerate(lines, start=1):
            where = f"line {index}" + (f" ({line.name})" if line.name else "")
            if not line.sku.strip():
                problems.append(f"{where} has no SKU")
            if line.quantity < 0:
                problems.append(f"quantity {line.quantity} on {where} is negative")
            elif line.quantity == 0:
                problems.append(f"quantity on {where} is zero")
            if line.order_id and line.order_id != order.id:
                problems.append(f"{where} belongs to order {line.order_id}, not {order.id}")
    return problems
