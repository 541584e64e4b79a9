"""Product lines and shipments of the BigCommerce simulator's v2 orders, with their
exact-money invariants and rendering (§2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sandbox.bigcommerce.model import ZERO, money, q2, rfc2822

__all__ = ["OrderLine", "Shipment"]


@dataclass
class OrderLine:
    """A v2 order product line. Invariants (exact at 2 dp):
    ``total_ex_tax = price_ex_tax * quantity``, ``total_tax = price_tax * quantity``,
    ``total_inc_tax = total_ex_tax + total_tax``; ``discount`` is the ex-tax sum of
    ``applied_discounts``.
    """

    id: int
    order_id: int
    product_id: int
    variant_id: int
    name: str
    sku: str
    quantity: int
    price_ex_tax: Decimal
    tax_rate: Decimal
    order_address_id: int
    discount: Decimal = ZERO
    discount_name: str = "Spring sale"
    quantity_shipped: int = 0
    quantity_refunded: int = 0
    refund_amount: Decimal = ZERO
    type: str = "physical"

    @property
    def price_tax(self) -> Decimal:
        return q2(self.price_ex_tax * self.tax_rate)

    @property
    def price_inc_tax(self) -> Decimal:
        return self.price_ex_tax + self.price_tax

    @property
    def total_ex_tax(self) -> Decimal:
        return self.price_ex_tax * self.quantity

    @property
    def total_tax(self) -> Decimal:
        return self.price_tax * self.quantity

    @property
    def total_inc_tax(self) -> Decimal:
        return self.total_ex_tax + self.total_tax

    @property
    def discount_tax(self) -> Decimal:
        return q2(self.discount * self.tax_rate)

    def render(self) -> dict[str, Any]:
        zero = money(ZERO)
        return {
            "id": self.id,
            "order_id": self.order_id,
            "product_id": self.product_id,
            "variant_id": self.variant_id,
            "order_pickup_method_id": 0,
            "order_address_id": self.order_address_id,
            "name": self.name,
            "name_customer": self.name,
            "name_merchant": self.name,
            "sku": self.sku,
            "upc": "",
            "type": self.type,
            "base_price": money(self.price_ex_tax),
            "price_ex_tax": money(self.price_ex_tax),
            "price_inc_tax": money(self.price_inc_tax),
            "price_tax": money(self.price_tax),
            "base_total": money(self.total_ex_tax),
            "total_ex_tax": money(self.total_ex_tax),
            "total_inc_tax": money(self.total_inc_tax),
            "total_tax": money(self.total_tax),
            "weight": "1.0000",
            "width": "0.0000",
            "height": "0.0000",
            "depth": "0.0000",
            "quantity": self.quantity,
            "base_cost_price": zero,
            "cost_price_inc_tax": zero,
            "cost_price_ex_tax": zero,
            "cost_price_tax": zero,
            "is_refunded": self.quantity_refunded >= self.quantity,
            "quantity_refunded": self.quantity_refunded,
            "refund_amount": money(self.refund_amount),
            "return_id": 0,
            "wrapping_id": 0,
            "wrapping_name": None,
            "base_wrapping_cost": zero,
            "wrapping_cost_ex_tax": zero,
            "wrapping_cost_inc_tax": zero,
            "wrapping_cost_tax": zero,
            "wrapping_message": "",
            "quantity_shipped": self.quantity_shipped,
            "event_name": None,
            "event_date": "",
            "fixed_shipping_cost": zero,
            "ebay_item_id": "",
            "ebay_transaction_id": "",
            "option_set_id": None,
            "parent_order_product_id": None,
            "is_bundled_product": False,
            "bin_picking_number": "",
            "external_id": None,
            "fulfillment_source": "",
            "brand": "",
            "gift_certificate_id": None,
            "applied_discounts": (
                [
                    {
                        "id": "total-discount",
                        "amount": money(self.discount),
                        "name": self.discount_name,
                        "code": None,
                        "target": "order",
                    }
                ]
                if self.discount
                else []
            ),
            "product_options": [],
            "configurable_fields": [],
        }


@dataclass
class Shipment:
    id: int
    order_id: int
    customer_id: int
    order_address_id: int
    date_created: datetime
    tracking_number: str
    items: list[dict[str, int]]
    billing_address: dict[str, Any]
    shipping_address: dict[str, Any]
    shipping_method: str = "Flat Rate"
    shipping_provider: str = "ups"
    tracking_carrier: str = "ups"
    comments: str = ""

    def render(self) -> dict[str, Any]:
        link = f"https://www.ups.com/track?tracknum={self.tracking_number}"
        return {
            "id": self.id,
            "order_id": self.order_id,
            "customer_id": self.customer_id,
            "order_address_id": self.order_address_id,
            "date_created": rfc2822(self.date_created),
            "tracking_number": self.tracking_number,
            "merchant_shipping_cost": money(ZERO),
            "shipping_method": self.shipping_method,
            "comments": self.comments,
            "shipping_provider": self.shipping_provider,
            "shipping_provider_display_name": self.shipping_provider.upper(),
            "tracking_carrier": self.tracking_carrier,
            "tracking_link": link,
            "generated_tracking_link": link,
            "billing_address": dict(self.billing_address),
            "shipping_address": dict(self.shipping_address),
            "items": [dict(i) for i in self.items],
        }
