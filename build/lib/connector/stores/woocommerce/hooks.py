"""WooCommerce webhooks as an accelerator (woocommerce.md §6, Decisions 6): register the
order and customer topics to the tenant's endpoint with a generated secret.

Polling stays the source of truth; webhooks only make changes arrive sooner. WooCommerce never
retries a delivery and disables a hook after consecutive failures, so ``sync`` also re-enables
disabled hooks (``status: active``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from connector.config import Secret, get_settings
from connector.db import session_scope
from connector.handles import get_vault
from connector.models import Source, Tenant
from connector.pipeline.targets import source_credentials, store_source_credentials
from connector.stores.base import HookSetupError

TOPICS = ("order.created", "order.updated", "customer.created", "customer.updated")


@dataclass
class WooHookReport:
    destination: str
    created: list[str] = field(default_factory=list)
    reenabled: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def sync_woo_webhooks(source_id: int, destination: str | None = None) -> WooHookReport:
    """Create the missing topics, re-enable disabled ones; idempotent. A new secret is
    generated (and stored encrypted as ``webhook_secret``) when the source has none; hooks
    created before keep working because WooCommerce never shows a secret back, so existing
    hooks are re-pointed with the stored secret."""
    from connector.stores.woocommerce.flow import woo_client

    with session_scope() as s:
        source = s.get(Source, source_id)
        assert source is not None
        tenant = s.get(Tenant, source.tenant_id)
        assert tenant is not None
        if destination is None:
            base = get_settings().public_url
            if not base:
                raise HookSetupError("MLC_PUBLIC_URL is not set: it is the address WooCommerce "
                                     "calls back (or pass --destination)")
            destination = f"{base.rstrip('/')}/webhooks/woo/{tenant.name}/{source.name}"
        creds = source_credentials(source)
        secret = creds.get("webhook_secret")
        if not secret:
            secret = secrets.token_urlsafe(32)
            store_source_credentials(s, get_vault(), source, {**creds, "webhook_secret": secret})
        client = woo_client(source)
    report = WooHookReport(destination)
    existing = {h.get("topic"): h for h in client.list_webhooks()
                if h.get("delivery_url") == destination}
    for topic in TOPICS:
        hook = existing.get(topic)
        if hook is None:
            client.create_webhook(topic, destination, Secret(secret))
            report.created.append(topic)
        elif hook.get("status") != "active":
            client.update_webhook(int(hook["id"]), status="active", secret=Secret(secret))
            report.reenabled.append(topic)
        else:
            report.unchanged.append(topic)
    return report
