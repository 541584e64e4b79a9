"""BigCommerce v3 customers → plain typed data (``reference/bigcommerce.md`` §4).

Dates are ISO 8601 and become aware UTC datetimes. Shape problems raise
:class:`~connector.stores.schemas.InvalidPayload` with plain sentences.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import fields, post_load

from connector.stores.bigcommerce.schema_base import BcBase, many, tuples
from connector.stores.schemas import IsoUtcDateTime, Text, WholeNumber, load_schema, schema_of

__all__ = [
    "BcCustomer",
    "BcCustomerAddress",
    "BcCustomerSchema",
    "parse_bc_customer",
]


# --------------------------------------------------------------------------------------------
# plain data


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


class _BcCustomerAddressSchema(BcBase):
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


class BcCustomerSchema(BcBase):
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
    addresses = many(_BcCustomerAddressSchema)
    channel_ids = fields.List(WholeNumber(), load_default=list, allow_none=True)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BcCustomer:
        if data.get("customer_group_id") is None:
            data["customer_group_id"] = 0
        return BcCustomer(**tuples(data, "addresses", "channel_ids"))


# --------------------------------------------------------------------------------------------
# parsing


def parse_bc_customer(payload: Any) -> BcCustomer:
    """Read one customer."""
    result: BcCustomer = load_schema(schema_of(BcCustomerSchema), payload, "customer")
    return result
