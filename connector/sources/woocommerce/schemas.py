"""WooCommerce payloads → plain typed data (conventions habit 9).

marshmallow at the edge (``unknown = EXCLUDE``: stores add plugin fields freely), frozen
dataclasses inside: ids are ``int``, money is ``Decimal`` (Woo sends 2-dp strings, but a
line's ``price`` is a JSON number — woo §3), datetimes are timezone-aware UTC taken from the
``*_gmt`` fields (ISO 8601 without offset — woo §3).

Two layers of checks, both phrased for an operator:

* :func:`parse_woo_order` / :func:`parse_woo_customer` raise :class:`InvalidPayload` when the
  payload's *shape* is wrong ("quantity on line 2 (Mug) is not a whole number");
* :func:`validate_woo_order` returns *business* problems ("line 2 (Mug) has no SKU").

The generic pieces (fields, :class:`InvalidPayload`, :func:`describe_errors`) are reused by the
BigCommerce schemas.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load

from connector.errors import DataError

__all__ = [
    "Flag",
    "InvalidPayload",
    "IsoUtcDateTime",
    "Money",
    "Rfc2822DateTime",
    "Text",
    "WholeNumber",
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
    "describe_errors",
    "is_valid_email",
    "parse_woo_customer",
    "parse_woo_order",
    "validate_woo_order",
]

_COMMON_MESSAGES = {"required": "is missing", "null": "is empty"}


# --------------------------------------------------------------------------------------------
# fields shared with the BigCommerce schemas


def _optional(kwargs: dict[str, Any], default: Any) -> None:
    """Optional fields accept ``null`` and default to ``default``; required ones reject both."""
    if kwargs.get("required"):
        kwargs.setdefault("allow_none", False)
    else:
        kwargs.setdefault("allow_none", True)
        kwargs.setdefault("load_default", default)


class Text(fields.Field[str]):
    """A string; ``null`` becomes ``""`` (remote systems mix the two freely)."""

    default_error_messages = {**_COMMON_MESSAGES, "invalid": "is not text"}

    def __init__(self, **kwargs: Any) -> None:
        _optional(kwargs, "")
        super().__init__(**kwargs)

    def deserialize(self, value: Any, attr: str | None = None,
                    data: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        result = super().deserialize(value, attr, data, **kwargs)
        return "" if result is None else result

    def _deserialize(self, value: Any, attr: str | None,
                     data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.make_error("invalid")
        return str(value)


class WholeNumber(fields.Integer):
    """An integer (ids, quantities) with an operator-readable error."""

    default_error_messages = {**_COMMON_MESSAGES, "invalid": "is not a whole number",
                              "too_large": "is too large"}

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        if isinstance(value, str) and not re.fullmatch(r"\s*-?\d+\s*", value):
            raise self.make_error("invalid")
        return super()._validated(value)


class Flag(fields.Boolean):
    """A yes/no value."""

    default_error_messages = {**_COMMON_MESSAGES, "invalid": "is not yes/no"}


class Money(fields.Field[Decimal]):
    """An amount as ``Decimal``, from a string (``"47.60"``, ``"47.6000"``) or a JSON number
    (converted through ``str`` so ``16.4`` stays ``16.4``). ``null``/``""`` mean zero unless
    ``none_as_zero=False`` (then ``null`` stays ``None``)."""

    default_error_messages = {**_COMMON_MESSAGES, "invalid": "is not an amount"}

    def __init__(self, *, none_as_zero: bool = True, **kwargs: Any) -> None:
        self.none_as_zero = none_as_zero
        _optional(kwargs, Decimal("0") if none_as_zero else None)
        super().__init__(**kwargs)

    def deserialize(self, value: Any, attr: str | None = None,
                    data: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        result = super().deserialize(value, attr, data, **kwargs)
        return Decimal("0") if result is None and self.none_as_zero else result

    def _deserialize(self, value: Any, attr: str | None,
                     data: Mapping[str, Any] | None, **kwargs: Any) -> Decimal:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, str) and not value.strip():
            return Decimal("0")
        if not isinstance(value, str | int | float | Decimal):
            raise self.make_error("invalid")
        try:
            amount = Decimal(str(value).strip())
        except decimal.InvalidOperation:
            raise self.make_error("invalid") from None
        if not amount.is_finite():
            raise self.make_error("invalid")
        return amount


def _aware_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class IsoUtcDateTime(fields.Field[datetime]):
    """ISO 8601 → aware UTC datetime. Naive values are UTC (Woo ``*_gmt`` fields, woo §3);
    ``Z`` and offsets are honoured (BigCommerce v3). ``null``/``""`` give ``None``."""

    default_error_messages = {**_COMMON_MESSAGES, "invalid": "is not a date and time"}

    def __init__(self, **kwargs: Any) -> None:
        _optional(kwargs, None)
        super().__init__(**kwargs)

    def deserialize(self, value: Any, attr: str | None = None,
                    data: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        if value == "":
            value = None
        return super().deserialize(value, attr, data, **kwargs)

    def _deserialize(self, value: Any, attr: str | None,
                     data: Mapping[str, Any] | None, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return _aware_utc(datetime.fromisoformat(text))
        except ValueError:
            raise self.make_error("invalid") from None


class Rfc2822DateTime(fields.Field[datetime]):
    """RFC 2822 (``Fri, 14 Mar 2025 09:05:40 +0000``, BigCommerce v2 — bc §2) → aware UTC.
    ISO 8601 is accepted too; ``null``/``""`` (e.g. an unshipped ``date_shipped``) give ``None``."""

    default_error_messages = {**_COMMON_MESSAGES, "invalid": "is not a date and time"}

    def __init__(self, **kwargs: Any) -> None:
        _optional(kwargs, None)
        super().__init__(**kwargs)

    def deserialize(self, value: Any, attr: str | None = None,
                    data: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        if value == "":
            value = None
        return super().deserialize(value, attr, data, **kwargs)

    def _deserialize(self, value: Any, attr: str | None,
                     data: Mapping[str, Any] | None, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            return _aware_utc(parsedate_to_datetime(value.strip()))
        except (TypeError, ValueError, IndexError):
            pass
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return _aware_utc(datetime.fromisoformat(text))
        except ValueError:
            raise self.make_error("invalid") from None


# --------------------------------------------------------------------------------------------
# operator-readable errors


class InvalidPayload(DataError):
    """A store payload that cannot be read. ``problems`` are plain sentences for the operator;
    the record fails with them and never reaches IFS (design §3 step 3)."""

    def __init__(self, what: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{what}: " + "; ".join(self.problems))


_LABELS = {
    "email": "e-mail",
    "sku": "SKU",
    "id": "id",
    "date_created_gmt": "creation date",
    "date_modified_gmt": "modification date",
    "date_paid_gmt": "payment date",
    "date_completed_gmt": "completion date",
    "date_created": "creation date",
    "date_modified": "modification date",
    "date_shipped": "shipping date",
    "created": "creation date",
    "customer_id": "customer id",
    "product_id": "product id",
    "variation_id": "variation id",
    "variant_id": "variant id",
    "order_id": "order id",
    "status_id": "status",
    "country_iso2": "country code",
    "default_currency_code": "currency",
    "currency_code": "display currency",
    "total_amount": "total amount",
    "postcode": "postcode",
    "zip": "postcode",
    "address_1": "address line 1",
    "address_2": "address line 2",
    "street_1": "street line 1",
    "street_2": "street line 2",
    "line_items": "product lines",
    "products": "product lines",
}

_ITEM_LABELS = {
    "line_items": "line",
    "products": "line",
    "shipping_lines": "shipping line",
    "fee_lines": "fee line",
    "coupon_lines": "coupon line",
    "tax_lines": "tax line",
    "refunds": "refund",
    "items": "item",
    "payments": "payment",
    "addresses": "address",
    "applied_discounts": "discount",
}

_MARSHMALLOW_WORDS = {
    "Missing data for required field.": "is missing",
    "Field may not be null.": "is empty",
    "Invalid input type.": "has the wrong shape",
    "Not a valid list.": "is not a list",
    "Not a valid integer.": "is not a whole number",
    "Not a valid number.": "is not a number",
    "Not a valid string.": "is not text",
    "Not a valid boolean.": "is not yes/no",
    "Not a valid mapping type.": "is not an object",
}


def _label(key: str) -> str:
    return _LABELS.get(key, key.replace("_", " "))


def _words(message: str) -> str:
    if message in _MARSHMALLOW_WORDS:
        return _MARSHMALLOW_WORDS[message]
    text = message.rstrip(".")
    return text[:1].lower() + text[1:]


def _item_name(item: Any) -> str:
    if not isinstance(item, Mapping):
        return ""
    for key in ("name", "sku", "code", "method_title", "item_type"):
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _messages(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return []


def describe_errors(errors: Mapping[Any, Any], data: Any, root: str) -> list[str]:
    """marshmallow's nested error dict → sentences such as "billing e-mail is missing" or
    "quantity on line 2 (Mug) is not a whole number". ``root`` names the record ("order")."""
    out: list[str] = []
    _walk(errors, data, root, False, out)
    return out


def _walk(errors: Mapping[Any, Any], data: Any, context: str, in_item: bool,
          out: list[str]) -> None:
    for key, value in errors.items():
        sub_data = data.get(key) if isinstance(data, Mapping) else None
        if key == "_schema":
            out.extend(f"{context} {_words(m)}".strip() for m in _messages(value))
            continue
        messages = _messages(value)
        if messages:
            label = _label(str(key))
            for message in messages:
                if in_item:
                    out.append(f"{label} on {context} {_words(message)}")
                else:
                    out.append(f"{context} {label} {_words(message)}".strip())
            continue
        if not isinstance(value, Mapping):
            continue
        if value and all(isinstance(k, int) for k in value):
            noun = _ITEM_LABELS.get(str(key), _label(str(key)))
            for index, item_errors in sorted(value.items()):
                item = (sub_data[index] if isinstance(sub_data, list)
                        and 0 <= index < len(sub_data) else None)
                name = _item_name(item)
                where = f"{noun} {index + 1}" + (f" ({name})" if name else "")
                item_messages = _messages(item_errors)
                if item_messages:
                    out.extend(f"{where} {_words(m)}" for m in item_messages)
                elif isinstance(item_errors, Mapping):
                    _walk(item_errors, item, where, True, out)
            continue
        nested = _label(str(key))
        _walk(value, sub_data, f"{context} {nested}".strip() if in_item else nested, in_item,
              out)


def _load(schema: Schema, payload: Any, what: str) -> Any:
    if not isinstance(payload, Mapping):
        raise InvalidPayload(what, [f"the {what} is not a JSON object"])
    try:
        return schema.load(payload)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, Mapping) else {"_schema": exc.messages}
        raise InvalidPayload(what, describe_errors(messages, payload, what)) from None


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_valid_email(value: str) -> bool:
    """A pragmatic shape check (something@domain.tld), not RFC 5322."""
    return bool(_EMAIL.match(value.strip()))


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
    result: WooOrder = _load(WooOrderSchema(), payload, "order")
    return result


def parse_woo_customer(payload: Any) -> WooCustomer:
    """Read one customer payload; :class:`InvalidPayload` lists every shape problem in words."""
    result: WooCustomer = _load(WooCustomerSchema(), payload, "customer")
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
