"""Pieces shared by the store schemas (WooCommerce, BigCommerce): marshmallow fields with
operator-readable errors, :class:`InvalidPayload`, and :func:`describe_errors`, which turns
marshmallow's nested error dicts into plain sentences (conventions habit 9).

Remote formats handled here: Woo ``*_gmt`` ISO 8601 without offset (woo §3), BigCommerce v2 RFC 2822
dates (bc §2) and v3 ISO 8601 with ``Z`` (bc §4); money as 2/4-dp strings or JSON numbers.
"""

from __future__ import annotations

import decimal
import functools
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields

from connector.errors import DataError

__all__ = [
    "Flag",
    "InvalidPayload",
    "IsoUtcDateTime",
    "Money",
    "Rfc2822DateTime",
    "Text",
    "WholeNumber",
    "describe_errors",
    "is_valid_email",
    "load_schema",
]

_COMMON_MESSAGES = {"required": "is missing", "null": "is empty"}


# --------------------------------------------------------------------------------------------
# fields


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


class _DateTimeField(fields.Field[datetime]):
    """An optional date-time: ``null`` and ``""`` give ``None``; subclasses parse the text."""

    default_error_messages = {**_COMMON_MESSAGES, "invalid": "is not a date and time"}

    def __init__(self, **kwargs: Any) -> None:
        _optional(kwargs, None)
        super().__init__(**kwargs)

    def deserialize(self, value: Any, attr: str | None = None,
                    data: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        if value == "":
            value = None
        return super().deserialize(value, attr, data, **kwargs)


class IsoUtcDateTime(_DateTimeField):
    """ISO 8601 → aware UTC datetime. Naive values are UTC (Woo ``*_gmt`` fields, woo §3);
    ``Z`` and offsets are honoured (BigCommerce v3). ``null``/``""`` give ``None``."""

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


class Rfc2822DateTime(_DateTimeField):
    """RFC 2822 (``Fri, 14 Mar 2025 09:05:40 +0000``, BigCommerce v2 — bc §2) → aware UTC.
    ISO 8601 is accepted too; ``null``/``""`` (e.g. an unshipped ``date_shipped``) give ``None``."""

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


@functools.cache
def schema_of(cls: type[Schema], many: bool = False) -> Schema:
    """One instance of a schema class per process: a marshmallow schema holds no state between
    loads, and building one (its fields deep-copied, its nested schemas built) cost ~10 % of a
    load's CPU in issue 14's profile."""
    return cls(many=many)


def load_schema(schema: Schema, payload: Any, what: str) -> Any:
    """Load ``payload`` (a JSON object) with ``schema``; shape problems raise
    :class:`InvalidPayload` with sentences naming the ``what`` ("order", "refund")."""
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
