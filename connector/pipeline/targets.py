"""Clients for a tenant's IFS target and a source's store, built from the state store.

Credentials are decrypted here, just before use, and never leave the client objects.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from connector.config import Secret, get_settings
from connector.crypto import Vault, VaultError
from connector.errors import AuthError
from connector.fleetbudget import FleetBudget
from connector.handles import get_redis, get_vault, on_reset
from connector.ifs.auth import IfsTokenManager, RedisTokenCache
from connector.ifs.client import IfsODataClient
from connector.models import Source, Tenant
from connector.pipeline.audit import audit_operator
from connector.stores.mapping import MappingContext
from connector.stores.registry import get_store

_clients: dict[tuple[int, str], IfsODataClient] = {}
on_reset(_clients.clear)


def ifs_client(tenant: Tenant, budget_class: str = "interactive") -> IfsODataClient:
    """The tenant's IFS client: fleet-wide token cache and request budget in Redis.

    One client per tenant and process, rebuilt when the target changes, so the token stays
    memoised in the process and the HTTP connection is reused across loads. Each call returns
    a shallow copy whose budget the caller may replace (loads reserve theirs up front), drawing
    on the budget as ``budget_class`` (``interactive``, ``bulk`` or ``background``).
    """
    import copy
    import json

    fingerprint = json.dumps([tenant.ifs_settings, tenant.ifs_secret_enc], sort_keys=True)
    key = (tenant.id, fingerprint)
    client = _clients.get(key)
    if client is None:
        for old in [k for k in _clients if k[0] == tenant.id]:
            del _clients[old]
        client = _build_ifs_client(tenant)
        _clients[key] = client
    view = copy.copy(client)
    if isinstance(view.budget, FleetBudget):
        view.budget = view.budget.for_class(budget_class)
    return view


def fleet_budget(key: str, rate_per_min: int, budget_class: str = "interactive") -> FleetBudget:
    """The fleet-wide budget ``key`` (e.g. ``ifs:tenant-7``) with the configured shares."""
    return FleetBudget(get_redis(), key, rate_per_min, budget_class=budget_class,
                       shares=dict(get_settings().budget_shares))


def _build_ifs_client(tenant: Tenant) -> IfsODataClient:
    settings = tenant.ifs_settings or {}
    if not settings.get("base_url") or not tenant.ifs_secret_enc:
        raise AuthError(f"tenant {tenant.name} has no IFS target (ml-connector ifs set-target)")
    vault = get_vault()
    redis = get_redis()
    try:
        secret = vault.decrypt(tenant.ifs_secret_enc)
    except VaultError:
        # An operator must fix the keys: the record fails with this reason (replayable) and
        # the tenant gets its IFS-credentials alert, instead of a traceback per task.
        raise AuthError(f"the IFS client secret of tenant {tenant.name} cannot be decrypted "
                        "with the keys in MLC_ENCRYPTION_KEYS (vault; see `ml-connector keys "
                        "check`)") from None
    tokens = IfsTokenManager(
        token_url=settings["token_url"],
        client_id=settings["client_id"],
        client_secret=Secret(secret),
        cache=RedisTokenCache(redis, vault, f"tenant-{tenant.id}"),
    )
    budget = fleet_budget(f"ifs:tenant-{tenant.id}",
                          int(settings.get("budget_per_min") or get_settings().ifs_budget_per_min))
    return IfsODataClient(settings["base_url"], tokens,
                          page_size=int(settings.get("page_size", 1000)), budget=budget)


def ifs_actor(tenant: Tenant, source: Source | None) -> str:
    """Who a write is made as: the IFS API user, and the store key's owner it acts for."""
    ifs_user = (tenant.ifs_settings or {}).get("client_id", "?")
    if source is None:
        return f"ifs:{ifs_user}"
    owner = source.key_owner or "unknown"
    return f"ifs:{ifs_user} for {source.system}:{owner}"


def source_credentials(source: Source) -> dict[str, Any]:
    if not source.credentials_enc:
        raise AuthError(f"source {source.name} has no credentials "
                        "(ml-connector source set-credentials)")
    return get_vault().decrypt_json(source.credentials_enc)


def store_source_credentials(session: Session, vault: Vault, source: Source,
                             credentials: dict[str, Any]) -> None:
    """Store a source's credentials encrypted (one JSON document), with an audit row."""
    source.credentials_enc = vault.encrypt_json(credentials)
    audit_operator(session, source.tenant_id, "source", source.name, "set-credentials")


def mapping_context(tenant: Tenant, source: Source) -> MappingContext:
    prefix = get_store(source.system).id_prefix + str(source.id)
    return MappingContext.build(company=tenant.company, ifs_settings=tenant.ifs_settings or {},
                                tenant_settings=tenant.settings or {},
                                source_settings=source.settings or {}, default_prefix=prefix)
