"""Tenants, sources, IFS targets and key rotation: the use cases behind the admin CLI.

Functions raise :class:`AdminError` subclasses with plain-words messages; the CLI maps them to
exit codes scripts can rely on (see ``connector/cli.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.crypto import Vault
from connector.models import Source, SyncCursor, Tenant
from connector.pipeline.audit import audit_operator
from connector.pipeline.targets import store_source_credentials
from connector.stores.registry import get_store, systems


class AdminError(Exception):
    exit_code = 1


class NotFoundError(AdminError):
    exit_code = 3


class DuplicateError(AdminError):
    exit_code = 4


class InvalidInput(AdminError):
    exit_code = 2


def check_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{what} must be an http(s) URL with a host, got {url!r}")
    return url.rstrip("/")


def get_tenant(session: Session, name: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        raise NotFoundError(f"unknown tenant {name!r} (see `ml-connector tenant list`)")
    return tenant


def get_source(session: Session, tenant: Tenant, name: str) -> Source:
    source = session.scalar(
        select(Source).where(Source.tenant_id == tenant.id, Source.name == name)
    )
    if source is None:
        raise NotFoundError(
            f"unknown source {name!r} for tenant {tenant.name!r} "
            f"(see `ml-connector source list --tenant {tenant.name}`)"
        )
    return source


def add_tenant(session: Session, name: str, company: str) -> Tenant:
    if not name.strip() or not company.strip():
        raise InvalidInput("tenant name and company code must not be empty")
    tenant = Tenant(name=name.strip(), company=company.strip(), ifs_settings={},
                    posting_rules={}, settings={})
    session.add(tenant)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise DuplicateError(f"tenant {name!r} already exists")
    audit_operator(session, tenant.id, "tenant", name, "create")
    return tenant


@dataclass
class IfsTarget:
    base_url: str
    realm: str
    client_id: str
    client_secret: str
    token_url: str | None = None
    site: str | None = None
    order_type: str | None = None
    company: str | None = None
    extra: dict[str, Any] | None = None


def set_ifs_target(session: Session, vault: Vault, tenant: Tenant, target: IfsTarget) -> None:
    base = check_url(target.base_url, "IFS base URL")
    token_url = (
        target.token_url or f"{base}/auth/realms/{target.realm}/protocol/openid-connect/token"
    )
    check_url(token_url, "IFS token URL")
    settings = dict(tenant.ifs_settings or {})
    settings.update(
        {
            "base_url": base,
            "realm": target.realm,
            "token_url": token_url,
            "client_id": target.client_id,
        }
    )
    if target.site:
        settings["site"] = target.site
    if target.order_type:
        settings["order_type"] = target.order_type
    settings.update(target.extra or {})
    tenant.ifs_settings = settings
    if target.company:
        tenant.company = target.company
    tenant.ifs_secret_enc = vault.encrypt(target.client_secret)
    audit_operator(session, tenant.id, "ifs_target", tenant.name, "update")


def add_source(
    session: Session,
    vault: Vault,
    tenant: Tenant,
    *,
    name: str,
    system: str,
    base_url: str,
    credentials: dict[str, str] | None,
    key_owner: str | None = None,
    poll_interval_s: int = 60,
    settings: dict[str, Any] | None = None,
) -> Source:
    if system not in systems():
        raise InvalidInput(f"system must be one of {', '.join(systems())}, got {system!r}")
    source = Source(
        tenant_id=tenant.id,
        name=name,
        system=system,
        base_url=check_url(base_url, "source base URL"),
        key_owner=key_owner,
        poll_interval_s=poll_interval_s,
        settings=settings or {},
        status="active",
    )
    if credentials is not None:
        source.credentials_enc = vault.encrypt_json(check_credentials(system, credentials))
    session.add(source)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise DuplicateError(f"source {name!r} already exists for tenant {tenant.name!r}")
    for stream in get_store(system).streams:
        session.add(SyncCursor(source_id=source.id, stream=stream.name, seen_ids=[], state={}))
    audit_operator(session, tenant.id, "source", name, "create")
    return source


def check_credentials(system: str, credentials: dict[str, str]) -> dict[str, str]:
    store = get_store(system)
    missing = [f for f in store.credential_fields if not credentials.get(f)]
    if missing:
        raise InvalidInput(f"{system} credentials need {', '.join(missing)}")
    known = store.credential_fields + store.optional_credential_fields
    unknown = sorted(set(credentials) - set(known))
    if unknown:
        raise InvalidInput(f"unknown {system} credential field(s): {', '.join(unknown)} "
                           f"(known: {', '.join(known)})")
    return {k: str(v) for k, v in credentials.items() if k in known and v}


def set_credentials(
    session: Session, vault: Vault, source: Source, credentials: dict[str, str]
) -> None:
    store_source_credentials(session, vault, source, check_credentials(source.system, credentials))


def set_source_status(session: Session, source: Source, status: str, reason: str | None) -> None:
    source.status = status
    source.status_reason = reason
    audit_operator(session, source.tenant_id, "source", source.name, status)


def rotate_keys(session_factory: Any, vault: Vault, batch_size: int = 200) -> int:
    """Re-encrypt every stored secret under the newest key, in batches. Idempotent: tokens
    already under the newest key are left alone. Returns how many values were rotated."""
    rotated = 0
    for model, column in ((Tenant, "ifs_secret_enc"), (Source, "credentials_enc")):
        last_id = 0
        while True:
            with session_factory() as session:
                rows = session.scalars(
                    select(model)
                    .where(model.id > last_id, getattr(model, column).is_not(None))
                    .order_by(model.id)
                    .limit(batch_size)
                    .with_for_update()
                ).all()
                if not rows:
                    break
                for row in rows:
                    last_id = row.id
                    token = getattr(row, column)
                    if not vault.is_current(token):
                        setattr(row, column, vault.rotate(token))
                        rotated += 1
    return rotated
