"""Payment records of the BigCommerce simulator: v3 transactions and refunds (§3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sandbox.bigcommerce.model import iso_offset, number


@dataclass
class Transaction:
    id: int
    order_id: int
    event: str  # purchase, authorization, capture, refund, void, pending, settled (§3)
    amount: Decimal
    currency: str
    date_created: datetime
    gateway_transaction_id: str
    status: str = "ok"
    gateway: str = "braintree"
    method: str = "credit_card"
    card_last4: str = "1111"
    card_type: str = "visa"

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "order_id": str(self.order_id),
            "event": self.event,
            "method": self.method,
            "amount": number(self.amount),
            "currency": self.currency,
            "gateway": self.gateway,
            "gateway_transaction_id": self.gateway_transaction_id,
            "date_created": iso_offset(self.date_created),
            "test": True,
            "status": self.status,
            "fraud_review": False,
            "reference_transaction_id": None,
            "offline": None,
            "custom": None,
            "payment_method_id": f"{self.gateway}.card",
            "payment_instrument_token": None,
            "avs_result": {
                "code": "M",
                "message": "Street address and postal code match",
                "street_match": "Match",
                "postal_match": "Match",
            },
            "cvv_result": {"code": "M", "message": "CVV matches"},
            "credit_card": {
                "card_type": self.card_type,
                "card_iin": "411111",
                "card_last4": self.card_last4,
                "card_expiry_month": 12,
                "card_expiry_year": 2030,
            },
        }


@dataclass
class Refund:
    id: int
    order_id: int
    created: datetime
    reason: str
    total_amount: Decimal
    total_tax: Decimal
    items: list[dict[str, Any]]
    payment_id: int
    provider_id: str = "braintree"

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "order_id": self.order_id,
            "user_id": 0,
            "created": iso_offset(self.created),
            "reason": self.reason,
            "total_amount": number(self.total_amount),
            "total_tax": number(self.total_tax),
            "uses_merchant_override_values": False,
            "items": [dict(i) for i in self.items],
            "payments": [
                {
                    "id": self.payment_id,
                    "provider_id": self.provider_id,
                    "amount": number(self.total_amount),
                    "offline": False,
                    "is_declined": False,
                    "declined_message": "",
                }
            ],
        }
