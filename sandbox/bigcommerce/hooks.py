"""Webhook records of the BigCommerce simulator (reference/bigcommerce.md §5): scopes, API
accounts, hooks, queued messages, the Standard Webhooks signature and domain helpers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

ORDER_SCOPES = (
    "store/order/created",
    "store/order/updated",
    "store/order/archived",
    "store/order/statusUpdated",
    "store/order/message/created",
    "store/order/refund/created",
    "store/order/transaction/created",
    "store/order/transaction/updated",
    "store/order/email/updated",
)
SHIPMENT_SCOPES = ("store/shipment/created", "store/shipment/updated", "store/shipment/deleted")
CUSTOMER_SCOPES = (
    "store/customer/created",
    "store/customer/updated",
    "store/customer/deleted",
    "store/customer/address/created",
    "store/customer/address/updated",
    "store/customer/address/deleted",
    "store/customer/payment/instrument/default/updated",
)
OTHER_SCOPES = (
    "store/product/created",
    "store/product/updated",
    "store/product/deleted",
    "store/sku/created",
    "store/sku/updated",
    "store/cart/created",
    "store/cart/updated",
    "store/app/uninstalled",
    "store/information/updated",
)
WILDCARD_SCOPES = (
    "store/order/*",
    "store/shipment/*",
    "store/customer/*",
    "store/customer/address/*",
    "store/product/*",
    "store/sku/*",
    "store/cart/*",
)
KNOWN_SCOPES = frozenset(
    ORDER_SCOPES + SHIPMENT_SCOPES + CUSTOMER_SCOPES + OTHER_SCOPES + WILDCARD_SCOPES
)
MAX_HOOKS_PER_SCOPE = 10  # per (store, client_id, scope), §5
MAX_DELIVERY_LOG = 200_000


def scope_matches(hook_scope: str, event_scope: str) -> bool:
    """``store/order/*`` matches every ``store/order/...`` event, including nested ones."""
    if hook_scope == event_scope:
        return True
    return hook_scope.endswith("/*") and event_scope.startswith(hook_scope[:-1])


def event_hash(data: dict[str, Any]) -> str:
    """SHA-1 hex of the event data as canonical JSON: identical on re-fires (§5)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(canonical.encode(), usedforsecurity=False).hexdigest()


def sign(client_secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """Standard Webhooks ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` keyed with the client
    secret's bytes (the library is given ``base64(client_secret)``, which decodes to them)."""
    mac = hmac.new(
        client_secret.encode(), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256
    ).digest()
    return "v1," + base64.b64encode(mac).decode()


def domain_of(url: str) -> str:
    """``host:port`` of a destination: the unit of the blocklist."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


@dataclass
class ApiAccount:
    """A store-level API account (§1): static token, client id/secret, optional scopes."""

    client_id: str
    client_secret: str
    access_token: str
    scopes: frozenset[str] | None = None  # None = every scope

    def public(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "access_token": self.access_token,
            "scopes": None if self.scopes is None else sorted(self.scopes),
        }


@dataclass
class Hook:
    id: int
    client_id: str
    store_hash: str
    scope: str
    destination: str
    headers: dict[str, str] | None
    is_active: bool
    created_at: int
    updated_at: int
    deactivated: bool = False  # set by the system after the last retry failed

    @property
    def status(self) -> str:
        if self.is_active:
            return "active"
        return "deactivated" if self.deactivated else "inactive"

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "client_id": self.client_id,
            "store_hash": self.store_hash,
            "scope": self.scope,
            "destination": self.destination,
            "headers": None if self.headers is None else dict(self.headers),
            "is_active": self.is_active,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass
class Message:
    """One event for one hook; keeps its ``webhook-id`` and body across retries."""

    webhook_id: str
    hook_id: int
    scope: str
    body: str
    hash: str
    generation: int
    attempts: int = 0


@dataclass(order=True)
class _Queued:
    next_at: float
    seq: int
    message: Message = field(compare=False)


@dataclass
class _Blocked:
    until: float
    reasons: list[dict[str, Any]]


@dataclass
class _DomainWindow:
    samples: deque[tuple[float, bool, str]] = field(default_factory=deque)
    ok: int = 0
