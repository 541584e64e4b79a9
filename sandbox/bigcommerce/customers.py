"""Customer records of the BigCommerce simulator (v3 customers with addresses, §4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.bigcommerce.model import COUNTRY_NAMES, iso_z

# --------------------------------------------------------------------------- records


@dataclass
class CustomerAddress:
    id: int
    customer_id: int
    first_name: str
    last_name: str
    company: str
    address1: str
    address2: str
    city: str
    state_or_province: str
    postal_code: str
    country_code: str
    phone: str
    address_type: str = "residential"

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "company": self.company,
            "address1": self.address1,
            "address2": self.address2,
            "city": self.city,
            "state_or_province": self.state_or_province,
            "postal_code": self.postal_code,
            "country_code": self.country_code,
            "country": COUNTRY_NAMES.get(self.country_code, self.country_code),
            "phone": self.phone,
            "address_type": self.address_type,
        }


@dataclass
class Customer:
    id: int
    email: str
    first_name: str
    last_name: str
    company: str
    phone: str
    date_created: datetime
    date_modified: datetime
    customer_group_id: int = 0
    addresses: list[CustomerAddress] = field(default_factory=list)
    channel_ids: list[int] = field(default_factory=lambda: [1])

    def render(self, include_addresses: bool) -> dict[str, Any]:
        """v3 customer (§4)."""
        out: dict[str, Any] = {
            "id": self.id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "company": self.company,
            "phone": self.phone,
            "registration_ip_address": "",
            "notes": "",
            "tax_exempt_category": "",
            "customer_group_id": self.customer_group_id,
            "date_created": iso_z(self.date_created),
            "date_modified": iso_z(self.date_modified),
            "address_count": len(self.addresses),
            "attribute_count": 0,
            "authentication": {"force_password_reset": False},
            "accepts_product_review_abandoned_cart_emails": False,
            "channel_ids": list(self.channel_ids),
            "origin_channel_id": self.channel_ids[0] if self.channel_ids else 1,
        }
        if include_addresses:
            out["addresses"] = [a.render() for a in self.addresses]
        return out

    def billing_address(self) -> dict[str, Any]:
        """The order billing address a registered customer checks out with."""
        a = self.addresses[0] if self.addresses else None
        return make_billing_address(
            first_name=self.first_name,
            last_name=self.last_name,
            email=self.email,
            company=self.company,
            phone=self.phone,
            street_1=a.address1 if a else "",
            street_2=a.address2 if a else "",
            city=a.city if a else "",
            state=a.state_or_province if a else "",
            zip_code=a.postal_code if a else "",
            country_iso2=a.country_code if a else "US",
        )


def make_billing_address(
    *,
    first_name: str,
    last_name: str,
    email: str,
    company: str = "",
    phone: str = "",
    street_1: str = "",
    street_2: str = "",
    city: str = "",
    state: str = "",
    zip_code: str = "",
    country_iso2: str = "US",
) -> dict[str, Any]:
    """A v2 order ``billing_address`` object (§2 example)."""
    return {
        "first_name": first_name,
        "last_name": last_name,
        "company": company,
        "street_1": street_1,
        "street_2": street_2,
        "city": city,
        "state": state,
        "zip": zip_code,
        "country": COUNTRY_NAMES.get(country_iso2, country_iso2),
        "country_iso2": country_iso2,
        "phone": phone,
        "email": email,
        "form_fields": [],
    }
