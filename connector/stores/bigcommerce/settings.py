"""A BigCommerce source's settings: its client (fleet-wide request budget, polling overlap), the
connection check of ``source add``, and the tenant settings the flow and the planners read
(``bc_customer_policy``, ``bc_order_labels``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from connector.config import Secret
from connector.models import Source, Tenant
from connector.pipeline.targets import fleet_budget, source_credentials
from connector.stores.bigcommerce.client import BigCommerceClient
from connector.stores.mapping import MappingError

__all__ = [
    "DEFAULT_REQUEST_BUDGET_PER_MIN",
    "POLICIES",
    "bc_client",
    "check_connection",
    "customer_policy",
    "order_labels",
    "setting",
]

POLICIES = ("skip", "create")

#: Requests per minute the fleet sends one store by default: 80 % of the Standard/Plus quota
#: (150 per 30 s, bc §6), leaving room for the store's other apps. Source setting
#: ``request_budget_per_min`` for other plans (Pro: 450 per 30 s).
DEFAULT_REQUEST_BUDGET_PER_MIN = 240


def bc_client(source: Source, budget_class: str = "interactive") -> BigCommerceClient:
    """The store's client; ``base_url`` is the API host (``https://api.bigcommerce.com``).
    Every process draws from one Redis budget per store, so the fleet shares its quota;
    reconciliation draws as ``background``."""
    creds = source_credentials(source)
    settings = source.settings or {}
    rate = int(settings.get("request_budget_per_min") or DEFAULT_REQUEST_BUDGET_PER_MIN)
    budget = fleet_budget(f"bigcommerce:source-{source.id}", rate, budget_class)
    return BigCommerceClient(source.base_url, str(creds["store_hash"]),
                             Secret(str(creds["access_token"])),
                             overlap=timedelta(seconds=int(settings.get("overlap_s", 10))),
                             budget=budget)


def check_connection(base_url: str, credentials: dict[str, str],
                     settings: dict[str, Any]) -> None:
    """One authenticated read (the first page of orders) with credentials not stored yet, for
    ``source add``; raises the connector's error family (AuthError: the token is refused)."""
    client = BigCommerceClient(base_url, str(credentials["store_hash"]),
                               Secret(str(credentials["access_token"])))
    next(iter(client.iter_orders_modified_since(None)), None)


def setting(tenant: Tenant, source: Source, name: str, default: Any) -> Any:
    merged = {**(tenant.settings or {}), **(source.settings or {})}
    return merged.get(name, default)


def customer_policy(tenant: Tenant, source: Source) -> str:
    """``bc_customer_policy`` (source setting over tenant setting; default ``skip``)."""
    value = str(setting(tenant, source, "bc_customer_policy", "skip") or "skip").strip().lower()
    if value not in POLICIES:
        raise MappingError([f"bc_customer_policy is {value!r}; it must be skip or create "
                            "(ml-connector tenant set <tenant> --setting "
                            "bc_customer_policy=create)"])
    return value


def order_labels(tenant: Tenant, source: Source) -> dict[str, str]:
    """``bc_order_labels``: event type → IFS order ``LabelNote`` (e.g. ``{"shipment":
    "bc:shipped", "refund": "bc:refunded"}``); empty when the tenant maps none."""
    raw = setting(tenant, source, "bc_order_labels", {}) or {}
    if not isinstance(raw, dict):
        raise MappingError(["bc_order_labels must be an object such as "
                            '{"shipment": "bc:shipped", "refund": "bc:refunded"}'])
    return {str(k): str(v) for k, v in raw.items() if v}
