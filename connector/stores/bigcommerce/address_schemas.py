"""BigCommerce v2 addresses → plain typed data: the billing address an order (or shipment)
carries, and an order's shipping addresses with their shipping cost (``reference/bigcommerce.md``
§2). Money strings become ``Decimal``; shape problems raise
:class:`~connector.stores.schemas.InvalidPayload` with plain sentences.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from marshmallow import post_load

from connector.stores.bigcommerce.schema_base import BcBase
from connector.stores.schemas import Money, Text, WholeNumber, load_schema, schema_of

__all__ = [
    "BcAddress",
    "BcAddressSchema",
    "BcShippingAddress",
    "BcShippingAddressSchema",
    "parse_bc_shipping_address",
]


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


# --------------------------------------------------------------------------------------------
# schemas


class BcAddressSchema(BcBase):
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


class BcShippingAddressSchema(BcBase):
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


# --------------------------------------------------------------------------------------------
# parsing


def parse_bc_shipping_address(payload: Any) -> BcShippingAddress:
    """Read one shipping address of an order."""
    result: BcShippingAddress = load_schema(schema_of(BcShippingAddressSchema), payload,
                                            "shipping address")
    return result
