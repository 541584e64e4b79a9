"""Shared pieces of the mapping functions: the per-tenant context and plain-words errors."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CUSTOMER_ID_MAX = 20  # IFS CustomerInfo.CustomerId length
PO_NO_MAX = 50  # IFS CustomerOrder.CustomerPoNo length


class MappingError(Exception):
    """The record cannot become IFS data. ``problems`` are sentences an operator can act on."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class MappingContext:
    """What a mapping function needs to know about the tenant and the source. Built from the
    tenant's and source's settings (see docs/configuration.md)."""

    company: str
    site: str
    order_type: str
    prefix: str
    default_country: str = "US"
    default_language: str = "en"
    allowed_currencies: tuple[str, ...] = ("EUR", "USD", "GBP", "SEK", "NOK", "DKK", "CHF")
    sku_map: dict[str, str] = field(default_factory=dict)
    charges_mode: str = "charges"  # charges | lines
    shipping_charge_type: str = "FREIGHT"
    fee_charge_type: str = "FEE"
    discount_charge_type: str = "DISCOUNT"
    handling_charge_type: str = "FEE"
    wrapping_charge_type: str = "FEE"
    rounding_charge_type: str = "ROUNDING"
    #: Places of ``SaleUnitPrice`` the tenant's IFS accepts (docs/money.md); a unit price that
    #: does not divide exactly is posted with a rounding charge for the remainder.
    price_decimals: int = 4
    #: Minor units per currency where they differ from ISO 4217 (money.CURRENCY_DECIMALS).
    currency_decimals: dict[str, int] = field(default_factory=dict)
    #: Put in front of every CustomerId this tenant creates, so that ids cannot collide with
    #: another company's customers in the same IFS instance (docs/configuration.md).
    customer_id_prefix: str = ""
    shipping_part: str = "SHIPPING"
    fee_part: str = "FEE"
    discount_part: str = "DISCOUNT"
    guest_policy: str = "walk_in"  # walk_in | create
    walk_in_customer: str | None = None
    require_email: bool = True
    wanted_delivery_days: int = 3
    email_method_id: str = "E_MAIL"
    phone_method_id: str = "PHONE"

    @property
    def customer_prefix(self) -> str:
        """The prefix of this tenant's CustomerIds: ``customer_id_prefix`` + the source's."""
        return f"{self.customer_id_prefix}{self.prefix}"

    @classmethod
    def build(cls, *, company: str, ifs_settings: dict[str, Any], tenant_settings: dict[str, Any],
              source_settings: dict[str, Any], default_prefix: str) -> MappingContext:
        merged = {**tenant_settings, **source_settings}
        kwargs: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            if name in ("company", "site", "order_type", "prefix"):
                continue
            if name in merged:
                kwargs[name] = merged[name]
            elif name in ifs_settings:
                kwargs[name] = ifs_settings[name]
        if "allowed_currencies" in kwargs:
            kwargs["allowed_currencies"] = tuple(kwargs["allowed_currencies"])
        if "price_decimals" in kwargs:
            kwargs["price_decimals"] = int(kwargs["price_decimals"])
        if "currency_decimals" in kwargs:
            kwargs["currency_decimals"] = {str(k).upper(): int(v) for k, v in
                                           dict(kwargs["currency_decimals"] or {}).items()}
        if "customer_id_prefix" in kwargs:
            kwargs["customer_id_prefix"] = str(kwargs["customer_id_prefix"] or "").strip()
        return cls(
            company=company,
            site=str(merged.get("site") or ifs_settings.get("site") or ""),
            order_type=str(merged.get("order_type") or ifs_settings.get("order_type") or "NO"),
            prefix=str(source_settings.get("id_prefix") or default_prefix),
            **kwargs,
        )


def money(value: Any, what: str, problems: list[str]) -> Decimal:
    """A store amount (string or number) as Decimal, or a problem noted."""
    try:
        amount = Decimal(str(value if value not in (None, "") else "0"))
    except (InvalidOperation, ValueError):
        problems.append(f"{what} is not a number ({value!r})")
        return Decimal(0)
    if not amount.is_finite():
        problems.append(f"{what} is not a number ({value!r})")
        return Decimal(0)
    return amount


def q2(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def q4(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def customer_id(prefix: str, store_id: str | int) -> str:
    """Deterministic IFS ``CustomerId``: the source prefix and the store's customer id."""
    value = f"{prefix}-{store_id}"
    if len(value) > CUSTOMER_ID_MAX:
        raise MappingError([f"customer id {value!r} is longer than IFS allows "
                            f"({CUSTOMER_ID_MAX}); shorten the source's id_prefix"])
    return value


def guest_customer_id(prefix: str, email: str) -> str:
    """Deterministic id for a guest buyer, from the e-mail (same buyer, same IFS customer)."""
    digest = hashlib.sha1(email.strip().lower().encode()).hexdigest()[:8].upper()  # noqa: S324
    return customer_id(prefix, f"G{digest}")


def po_number(prefix: str, store_number: str | int) -> str:
    """``CustomerPoNo``: the natural key of the order in IFS (source prefix + store number)."""
    value = f"{prefix}-{store_number}"
    if len(value) > PO_NO_MAX:
        raise MappingError([f"order reference {value!r} is longer than IFS allows"])
    return value


def as_json_number(value: Decimal) -> float | int:
    """Numbers for the IFS JSON body (the sandbox and IFS take JSON numbers)."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)
