"""Order records of the BigCommerce simulator: v2 orders with their exact-money invariants
and rendering (§2, §3); their product lines and shipments are in
:mod:`sandbox.bigcommerce.lines`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sandbox.bigcommerce.lines import OrderLine, Shipment
from sandbox.bigcommerce.model import (
    CURRENCY_IDS,
    ORDER_STATUSES,
    ZERO,
    exchange_rate,
    money,
    q2,
    rfc2822,
)
from sandbox.bigcommerce.payments import Refund, Transaction

__all__ = ["Order", "OrderLine", "Shipment"]


@dataclass
class Order:
    id: int
    customer_id: int  # 0 = guest
    date_created: datetime
    date_modified: datetime
    status_id: int
    currency_code: str  # display currency
    default_currency_code: str  # transactional currency: all amounts are in it (§2)
    store_default_currency_code: str
    billing_address: dict[str, Any]
    shipping_address: dict[str, Any]
    tax_rate: Decimal
    lines: list[OrderLine] = field(default_factory=list)
    shipping_cost_ex_tax: Decimal = ZERO
    shipping_method: str = "Flat Rate"
    payment_method: str = "Credit Card"
    channel_id: int = 1
    is_deleted: bool = False
    date_shipped: datetime | None = None
    customer_message: str = ""
    staff_notes: str = ""
    ip_address: str = "203.0.113.10"
    cart_id: str = ""
    external_source: str = ""
    shipments: list[Shipment] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    # Money beyond products and shipping (bc "Money fields"): handling, gift wrapping, fee
    # lines (ex tax; taxed at the order's rate), and the payment means store credit and gift
    # certificates (they pay part of the order, they do not change its value).
    handling_cost_ex_tax: Decimal = ZERO
    wrapping_cost_ex_tax: Decimal = ZERO
    fees: list[dict[str, Any]] = field(default_factory=list)
    store_credit_amount: Decimal = ZERO
    gift_certificate_amount: Decimal = ZERO

    @property
    def order_address_id(self) -> int:
        return int(self.shipping_address["id"])

    @property
    def ships(self) -> bool:
        """False for a digital-only order: no shipping address, no shipping consignment."""
        return any(ln.type != "digital" for ln in self.lines)

    def totals(self) -> dict[str, Decimal]:
        """Order totals; every relation is exact (see :class:`OrderLine`)."""
        subtotal_ex = sum((ln.total_ex_tax for ln in self.lines), ZERO)
        subtotal_tax = sum((ln.total_tax for ln in self.lines), ZERO)
        discount = sum((ln.discount for ln in self.lines), ZERO)
        discount_tax = sum((ln.discount_tax for ln in self.lines), ZERO)
        ship_ex = self.shipping_cost_ex_tax
        ship_tax = q2(ship_ex * self.tax_rate)
        handling_tax = q2(self.handling_cost_ex_tax * self.tax_rate)
        wrapping_tax = q2(self.wrapping_cost_ex_tax * self.tax_rate)
        fees_ex = sum((Decimal(str(f["cost_ex_tax"])) for f in self.fees), ZERO)
        fees_tax = sum((q2(Decimal(str(f["cost_ex_tax"])) * self.tax_rate) for f in self.fees),
                       ZERO)
        total_ex = (subtotal_ex + ship_ex - discount + self.handling_cost_ex_tax
                    + self.wrapping_cost_ex_tax + fees_ex)
        total_tax = (subtotal_tax + ship_tax - discount_tax + handling_tax + wrapping_tax
                     + fees_tax)
        return {
            "handling_cost_ex_tax": self.handling_cost_ex_tax,
            "handling_cost_tax": handling_tax,
            "wrapping_cost_ex_tax": self.wrapping_cost_ex_tax,
            "wrapping_cost_tax": wrapping_tax,
            "subtotal_ex_tax": subtotal_ex,
            "subtotal_tax": subtotal_tax,
            "subtotal_inc_tax": subtotal_ex + subtotal_tax,
            "shipping_cost_ex_tax": ship_ex,
            "shipping_cost_tax": ship_tax,
            "shipping_cost_inc_tax": ship_ex + ship_tax,
            "discount_amount": discount,
            "total_ex_tax": total_ex,
            "total_tax": total_tax,
            "total_inc_tax": total_ex + total_tax,
        }

    def amount_due(self) -> Decimal:
        """What the payment gateway collects: the total less store credit and gift
        certificates (means of payment, not part of the order's value)."""
        return (self.totals()["total_inc_tax"] - self.store_credit_amount
                - self.gift_certificate_amount)

    @property
    def captured(self) -> Decimal:
        return sum((t.amount for t in self.transactions if t.event == "capture"), ZERO)

    @property
    def refunded(self) -> Decimal:
        return sum((r.total_amount for r in self.refunds), ZERO)

    def payment_status(self, total: Decimal | None = None) -> str:
        total = self.totals()["total_inc_tax"] if total is None else total
        if self.refunds:
            return "refunded" if self.refunded >= total else "partially refunded"
        if self.transactions and self.captured >= total:
            return "captured"
        if self.transactions:
            return "partially captured"
        return ""

    def render(self, base_url: str, store_hash: str) -> dict[str, Any]:
        """v2 order (§2)."""
        t = self.totals()
        zero = money(ZERO)

        def link(sub: str) -> dict[str, str]:
            resource = f"/orders/{self.id}/{sub}"
            return {"url": f"{base_url}/stores/{store_hash}/v2{resource}", "resource": resource}

        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "date_created": rfc2822(self.date_created),
            "date_modified": rfc2822(self.date_modified),
            "date_shipped": rfc2822(self.date_shipped),
            "status_id": self.status_id,
            "status": ORDER_STATUSES.get(self.status_id, "Custom"),
            "custom_status": ORDER_STATUSES.get(self.status_id, "Custom"),
            "subtotal_ex_tax": money(t["subtotal_ex_tax"]),
            "subtotal_inc_tax": money(t["subtotal_inc_tax"]),
            "subtotal_tax": money(t["subtotal_tax"]),
            "base_shipping_cost": money(t["shipping_cost_ex_tax"]),
            "shipping_cost_ex_tax": money(t["shipping_cost_ex_tax"]),
            "shipping_cost_inc_tax": money(t["shipping_cost_inc_tax"]),
            "shipping_cost_tax": money(t["shipping_cost_tax"]),
            "shipping_cost_tax_class_id": 2,
            "base_handling_cost": money(t["handling_cost_ex_tax"]),
            "handling_cost_ex_tax": money(t["handling_cost_ex_tax"]),
            "handling_cost_inc_tax": money(t["handling_cost_ex_tax"] + t["handling_cost_tax"]),
            "handling_cost_tax": money(t["handling_cost_tax"]),
            "handling_cost_tax_class_id": 2,
            "base_wrapping_cost": money(t["wrapping_cost_ex_tax"]),
            "wrapping_cost_ex_tax": money(t["wrapping_cost_ex_tax"]),
            "wrapping_cost_inc_tax": money(t["wrapping_cost_ex_tax"] + t["wrapping_cost_tax"]),
            "wrapping_cost_tax": money(t["wrapping_cost_tax"]),
            "wrapping_cost_tax_class_id": 3,
            "fees": self.render_fees(),
            "total_ex_tax": money(t["total_ex_tax"]),
            "total_inc_tax": money(t["total_inc_tax"]),
            "total_tax": money(t["total_tax"]),
            "items_total": sum(ln.quantity for ln in self.lines),
            "items_shipped": sum(ln.quantity_shipped for ln in self.lines),
            "payment_method": self.payment_method,
            "payment_provider_id": (
                self.transactions[0].gateway_transaction_id if self.transactions else None
            ),
            "payment_status": self.payment_status(self.amount_due()),
            "refunded_amount": money(self.refunded),
            "order_is_digital": not self.ships,
            "store_credit_amount": money(self.store_credit_amount),
            "gift_certificate_amount": money(self.gift_certificate_amount),
            "ip_address": self.ip_address,
            "ip_address_v6": "",
            "geoip_country": self.billing_address.get("country", ""),
            "geoip_country_iso2": self.billing_address.get("country_iso2", ""),
            "currency_id": CURRENCY_IDS.get(self.currency_code, 1),
            "currency_code": self.currency_code,
            "currency_exchange_rate": str(
                exchange_rate(self.default_currency_code, self.currency_code)
            ),
            "default_currency_id": CURRENCY_IDS.get(self.default_currency_code, 1),
            "default_currency_code": self.default_currency_code,
            "store_default_currency_code": self.store_default_currency_code,
            "store_default_to_transactional_exchange_rate": str(
                exchange_rate(self.store_default_currency_code, self.default_currency_code)
            ),
            "staff_notes": self.staff_notes,
            "customer_message": self.customer_message,
            "discount_amount": money(t["discount_amount"]),
            "coupon_discount": zero,
            "shipping_address_count": 1 if self.ships else 0,
            "is_deleted": self.is_deleted,
            "ebay_order_id": "0",
            "cart_id": self.cart_id,
            "billing_address": dict(self.billing_address),
            "is_email_opt_in": False,
            "credit_card_type": None,
            "order_source": "www",
            "channel_id": self.channel_id,
            "external_source": self.external_source,
            "external_id": None,
            "external_merchant_id": None,
            "tax_provider_id": "BasicTaxProvider",
            "customer_locale": "en",
            "external_order_id": "",
            "store_credit_redeemed": zero,
            "products": link("products"),
            "shipping_addresses": link("shipping_addresses"),
            "coupons": link("coupons"),
        }

    def render_fees(self) -> list[dict[str, Any]]:
        """The order's fee lines (the ``fees`` array; also ``GET /v2/orders/{id}/fees``)."""
        out = []
        for number, fee in enumerate(self.fees, start=1):
            ex = Decimal(str(fee["cost_ex_tax"]))
            tax = q2(ex * self.tax_rate)
            out.append({"id": number, "type": fee.get("type", "custom_fee"),
                        "display_name": fee.get("display_name", "Fee"),
                        "cost_ex_tax": money(ex), "cost_inc_tax": money(ex + tax),
                        "cost_tax": money(tax), "source": fee.get("source", "custom")})
        return out

    def render_shipping_address(self, base_url: str, store_hash: str) -> dict[str, Any]:
        t = self.totals()
        zero = money(ZERO)
        resource = f"/orders/{self.id}/shipping_addresses/{self.order_address_id}/shipping_quotes"
        return {
            **self.shipping_address,
            "order_id": self.id,
            "items_total": sum(ln.quantity for ln in self.lines),
            "items_shipped": sum(ln.quantity_shipped for ln in self.lines),
            "shipping_method": self.shipping_method,
            "base_cost": money(t["shipping_cost_ex_tax"]),
            "cost_ex_tax": money(t["shipping_cost_ex_tax"]),
            "cost_inc_tax": money(t["shipping_cost_inc_tax"]),
            "cost_tax": money(t["shipping_cost_tax"]),
            "cost_tax_class_id": 2,
            "base_handling_cost": zero,
            "handling_cost_ex_tax": zero,
            "handling_cost_inc_tax": zero,
            "handling_cost_tax": zero,
            "handling_cost_tax_class_id": 2,
            "shipping_zone_id": 1,
            "shipping_zone_name": "Default",
            "shipping_quotes": {
                "url": f"{base_url}/stores/{store_hash}/v2{resource}",
                "resource": resource,
            },
            "form_fields": [],
        }
