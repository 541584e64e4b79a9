"""BigCommerce webhook management (``reference/bigcommerce.md`` §5, decision 3).

One consolidated destination per tenant and store, ``{MLC_PUBLIC_URL}/webhooks/bc/{tenant}/
{source}``, with the wildcard scopes ``store/order/*``, ``store/shipment/*`` and
``store/customer/*``. BigCommerce allows one hook per (client, scope, destination) and ten per
(client, scope): an existing hook is updated, never duplicated.

Every hook carries the custom header ``x-mlc-hook-secret`` (a second factor next to the
Standard Webhooks signature, bc decision 2); its value is generated once and stored encrypted
with the source's credentials as ``hook_secret``, where the webhook intake finds it.

The health check (a periodic task) lists the hooks, re-creates missing ones, re-activates
deactivated ones (BigCommerce deactivates a hook after its last retry fails, ~48 h, bc §5;
``PUT is_active: true`` brings it back) and reports blocked destination domains from
``/v3/hooks/admin`` — raising an alert every time it had to act. Events missed while a hook was
down are not lost: fallback polling reads them (bc decision 4).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy import select

from connector.config import get_settings
from connector.db import session_scope
from connector.handles import get_vault
from connector.models import Source, Tenant
from connector.pipeline.audit import audit, raise_alert, resolve_alerts
from connector.pipeline.targets import source_credentials, store_source_credentials
from connector.stores.base import HookSetupError
from connector.stores.bigcommerce.client import BigCommerceClient
from connector.stores.bigcommerce.intake import CUSTOM_SECRET_HEADER
from connector.stores.bigcommerce.settings import bc_client

log = logging.getLogger(__name__)

#: Wildcard scopes of the consolidated hook set (bc §5 scope list, decision 3).
SCOPES = ("store/order/*", "store/shipment/*", "store/customer/*")
REPAIRED = "bc_hook_repaired"
BLOCKED = "bc_domain_blocked"


@dataclass
class HookReport:
    """What a sync or health check found and did, per scope (no secrets in here)."""

    source: str
    destination: str
    created: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    blocked: list[dict[str, Any]] = field(default_factory=list)

    @property
    def repaired(self) -> bool:
        """True when hooks had to be created, re-activated or corrected."""
        return bool(self.created or self.reactivated or self.updated)

    def summary(self) -> str:
        """One line for the CLI and alerts."""
        parts = [f"{word} {', '.join(scopes)}" for word, scopes in (
            ("created", self.created), ("re-activated", self.reactivated),
            ("updated", self.updated), ("ok", self.unchanged)) if scopes]
        if self.blocked:
            parts.append("blocked: " + ", ".join(_blocked_text(b) for b in self.blocked))
        return f"{self.source} → {self.destination}: " + ("; ".join(parts) or "nothing to do")


def _blocked_text(entry: dict[str, Any]) -> str:
    reasons = entry.get("reasons") or []
    why = ""
    if isinstance(reasons, list) and reasons and isinstance(reasons[0], dict):
        why = str(reasons[0].get("failure_description") or "")
    return (f"{entry.get('destination')} for {entry.get('time_left', '?')} s"
            + (f" ({why})" if why else ""))


def destination_for(public_url: str, tenant_name: str, source_name: str) -> str:
    """The tenant's and store's webhook endpoint on the ``web`` process."""
    return (f"{public_url.rstrip('/')}/webhooks/bc/{quote(tenant_name, safe='')}/"
            f"{quote(source_name, safe='')}")


def sync_hooks(source_id: int, destination: str | None = None) -> HookReport:
    """Register (or correct) the source's hooks: ``ml-connector bigcommerce hooks sync``.

    ``destination`` defaults to the endpoint under ``MLC_PUBLIC_URL``. Creates the custom
    secret header value on first use. Idempotent: a second run changes nothing."""
    with session_scope() as s:
        source = s.get(Source, source_id)
        if source is None or source.system != "bigcommerce":
            raise HookSetupError(f"source {source_id} is not a BigCommerce source")
        tenant = s.get(Tenant, source.tenant_id)
        assert tenant is not None
        if destination is None:
            public = get_settings().public_url
            if not public:
                raise HookSetupError(
                    "MLC_PUBLIC_URL is not set: it is the https address stores call back "
                    "(deploy/env.example); set it, or pass --destination")
            destination = destination_for(public, tenant.name, source.name)
        parts = urlsplit(destination)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HookSetupError(f"webhook destination {destination!r} is not an http(s) URL")
        if parts.scheme != "https" or parts.port not in (None, 443):
            log.warning("BigCommerce only calls https destinations on port 443 (bc §5); "
                        "%s is fine for the sandbox only", parts.netloc)
        creds = source_credentials(source)
        if not creds.get("hook_secret"):
            creds["hook_secret"] = secrets.token_urlsafe(32)
            store_source_credentials(s, get_vault(), source, creds)
        source.settings = {**(source.settings or {}), "hook_destination": destination}
        secret = str(creds["hook_secret"])
        name = f"{tenant.name}/{source.name}"
    # Committed before the first hook exists: the web process accepts the header at once.
    client = bc_client(source)
    report = _reconcile(client, source_id, name, destination, secret, actor="operator")
    return report


def check_hooks(source_id: int) -> HookReport | None:
    """Health check of one source's hooks (the periodic task). Repairs what is missing or
    deactivated, reports blocked domains, and raises an alert each time it had to act. None
    when the source has no hooks to look after (``hooks sync`` never ran, or it is paused)."""
    with session_scope() as s:
        source = s.get(Source, source_id)
        if source is None or source.system != "bigcommerce" or source.status != "active":
            return None
        destination = (source.settings or {}).get("hook_destination")
        if not destination:
            return None
        tenant = s.get(Tenant, source.tenant_id)
        assert tenant is not None
        secret = str(source_credentials(source).get("hook_secret") or "")
        name = f"{tenant.name}/{source.name}"
        tenant_id = tenant.id
    client = bc_client(source)
    report = _reconcile(client, source_id, name, str(destination), secret, actor="system")
    report.blocked = _blocked_for(client, str(destination))
    with session_scope() as s:
        if report.repaired:
            raise_alert(s, tenant_id=tenant_id, source_id=source_id, kind=REPAIRED,
                        message=f"BigCommerce hooks had to be repaired: {report.summary()}")
        else:  # every hook active and in place again: the incident is over
            resolve_alerts(s, tenant_id=tenant_id, source_id=source_id, kind=REPAIRED)
        if report.blocked:
            raise_alert(s, tenant_id=tenant_id, source_id=source_id, kind=BLOCKED,
                        message=("BigCommerce is not delivering webhooks to a blocked domain "
                                 "(success ratio under 90 %, bc §5); polling covers the gap: "
                                 + ", ".join(_blocked_text(b) for b in report.blocked)))
        else:
            resolve_alerts(s, tenant_id=tenant_id, source_id=source_id, kind=BLOCKED)
    if report.repaired or report.blocked:
        log.warning("bigcommerce hooks: %s", report.summary())
    return report


def sources_with_hooks() -> list[int]:
    """Active BigCommerce sources whose hooks were set up (candidates for the health check)."""
    with session_scope() as s:
        rows = s.scalars(select(Source).where(Source.system == "bigcommerce",
                                              Source.status == "active")).all()
        return [r.id for r in rows if (r.settings or {}).get("hook_destination")]


def list_hooks(source_id: int) -> list[dict[str, Any]]:
    """The store's hooks for this API account, without their headers (they hold the secret)."""
    with session_scope() as s:
        source = s.get(Source, source_id)
        assert source is not None
    client = bc_client(source)
    return [{k: v for k, v in hook.items() if k != "headers"} for hook in client.list_hooks()]


# --- internals ------------------------------------------------------------------------------


def _reconcile(client: BigCommerceClient, source_id: int, name: str, destination: str,
               secret: str, *, actor: str) -> HookReport:
    report = HookReport(source=name, destination=destination)
    hooks = client.list_hooks()
    wanted_headers = {CUSTOM_SECRET_HEADER: secret} if secret else {}
    for scope in SCOPES:
        mine = [h for h in hooks if h.get("scope") == scope
                and str(h.get("destination") or "").rstrip("/") == destination.rstrip("/")]
        if not mine:
            hook = client.create_hook(scope, destination, headers=wanted_headers or None)
            _audit(source_id, scope, "create", actor, f"hook {hook.get('id')} → {destination}")
            report.created.append(scope)
            continue
        hook = mine[0]
        changes: dict[str, Any] = {}
        if hook.get("is_active") is not True:
            changes["is_active"] = True
        raw_headers = hook.get("headers")
        headers: dict[str, Any] = raw_headers if isinstance(raw_headers, dict) else {}
        if wanted_headers and any(headers.get(k) != v for k, v in wanted_headers.items()):
            changes["headers"] = {**headers, **wanted_headers}
        if not changes:
            report.unchanged.append(scope)
            continue
        client.update_hook(int(hook["id"]), **changes)
        action = "reactivate" if "is_active" in changes else "update"
        _audit(source_id, scope, action, actor, f"hook {hook.get('id')}: "
               + ", ".join(sorted(changes)))
        (report.reactivated if action == "reactivate" else report.updated).append(scope)
    return report


def _blocked_for(client: BigCommerceClient, destination: str) -> list[dict[str, Any]]:
    """Entries of ``/v3/hooks/admin`` ``blocked_domains`` that cover our destination (the
    listing names the domain, with or without the port)."""
    admin = client.hooks_admin()
    entries = admin.get("blocked_domains") or []
    parts = urlsplit(destination)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    names = {host, f"{host}:{port}", parts.netloc.lower()}
    out = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        target = str(entry.get("destination") or "").lower()
        target_host = urlsplit(target).hostname if "//" in target else None
        if target in names or (target_host is not None and target_host == host):
            out.append({k: entry.get(k) for k in ("destination", "time_left", "reasons")})
    return out


def _audit(source_id: int, scope: str, action: str, actor: str, detail: str) -> None:
    with session_scope() as s:
        source = s.get(Source, source_id)
        assert source is not None
        audit(s, tenant_id=source.tenant_id, source_id=source_id, system="bigcommerce",
              entity="hook", external_id=scope, action=action, actor=actor, outcome="ok",
              detail=detail, direction="connector->store")
