"""Tenants, sources, IFS targets and key rotation: the use cases behind the admin CLI.

Functions raise :class:`AdminError` subclasses with plain-words messages; the CLI maps them to
exit codes scripts can rely on (see ``connector/cli.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.config import get_settings
from connector.crypto import Vault, VaultError
from connector.errors import ConnectorError
from connector.logs import scrub
from connector.models import Source, SyncCursor, Tenant
from connector.operations.settings import source_setting_problems
from connector.pipeline.audit import audit_operator
from connector.pipeline.targets import store_source_credentials
from connector.pipeline.webhooks import safe_name
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


def check_name(name: str, what: str) -> str:
    """Tenant and source names appear in webhook URLs and log lines: only the safe alphabet
    (ASCII letters, digits, ``-``, ``_``; starting with a letter or digit; 1–63 characters)."""
    if not safe_name(name):
        raise InvalidInput(f"{what} name {name!r} must be 1-63 ASCII letters, digits, '-' or "
                           "'_', starting with a letter or digit")
    return name


def add_tenant(session: Session, name: str, company: str) -> Tenant:
    check_name(name, "tenant")
    if not company.strip():
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


class CheckFailed(AdminError):
    """A connection test (``ifs set-target``, ``source add``) failed: nothing was stored.
    Exit 2 when the remote system refused what the operator gave (credentials, URL, realm),
    1 when it could not be asked (unreachable, rate-limited, 5xx)."""

    def __init__(self, message: str, *, bad_input: bool) -> None:
        super().__init__(message)
        self.exit_code = 2 if bad_input else 1


def _check_failure(what: str, exc: ConnectorError) -> CheckFailed:
    bad_input = not exc.retryable
    hint = "" if bad_input else " (or skip the test with --no-check)"
    return CheckFailed(f"{what}: {exc}{hint}", bad_input=bad_input)


def ifs_token_url(target: IfsTarget) -> str:
    base = check_url(target.base_url, "IFS base URL")
    return target.token_url or f"{base}/auth/realms/{target.realm}/protocol/openid-connect/token"


def check_ifs_target(target: IfsTarget) -> None:
    """A token grant with the given client, then one read (the first customer): says whether
    the secret, realm and URL work before anything is stored."""
    from connector.config import Secret
    from connector.ifs.auth import IfsTokenManager
    from connector.ifs.client import IfsODataClient

    if not target.client_secret:
        raise InvalidInput("the IFS client secret must not be empty")
    tokens = IfsTokenManager(ifs_token_url(target), target.client_id,
                             Secret(target.client_secret))
    try:
        tokens.get_token()
    except ConnectorError as exc:
        raise _check_failure("IFS did not grant a token", exc) from None
    client = IfsODataClient(check_url(target.base_url, "IFS base URL"), tokens)
    try:
        next(iter(client.query("CustomerHandling", "CustomerInfoSet", select="CustomerId",
                               top=1)), None)
    except ConnectorError as exc:
        raise _check_failure("IFS granted a token but refused a read", exc) from None


def check_source(system: str, base_url: str, credentials: dict[str, str],
                 settings: dict[str, Any]) -> None:
    """One authenticated read from the store with credentials not stored yet."""
    store = get_store(system)
    if store.check_connection is None:
        return
    check_url(base_url, "source base URL")
    try:
        store.check_connection(base_url.rstrip("/"), check_credentials(system, credentials),
                               settings)
    except ConnectorError as exc:
        raise _check_failure(f"{store.label} refused or did not answer the test read",
                             exc) from None


def set_ifs_target(session: Session, vault: Vault, tenant: Tenant, target: IfsTarget) -> None:
    base = check_url(target.base_url, "IFS base URL")
    token_url = ifs_token_url(target)
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
    start_date: datetime | None = None,
) -> Source:
    """Add a source. Its first sync reads from ``start_date`` (default: ``MLC_INITIAL_SYNC_DAYS``
    back), never the store's whole history by accident (``backfill`` reads older history)."""
    if system not in systems():
        raise InvalidInput(f"system must be one of {', '.join(systems())}, got {system!r}")
    check_name(name, "source")
    problems = source_setting_problems(settings or {})
    if problems:
        raise InvalidInput("; ".join(problems) + " (see docs/configuration.md)")
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
    start = start_date or datetime.now(UTC) - timedelta(days=get_settings().initial_sync_days)
    source.settings = {**source.settings, "start_date": start.isoformat()}
    for stream in get_store(system).streams:
        session.add(SyncCursor(source_id=source.id, stream=stream.name, seen_ids=[], state={},
                               watermark=start))
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
    source.status_reason = scrub(reason)
    audit_operator(session, source.tenant_id, "source", source.name, status)


_SECRET_COLUMNS = ((Tenant, "ifs_secret_enc"), (Source, "credentials_enc"))


def secret_row_name(session: Session, row: Tenant | Source) -> str:
    """How an operator recognises a stored secret: ``tenant acme (IFS client secret)``."""
    if isinstance(row, Tenant):
        return f"tenant {row.name} (IFS client secret)"
    tenant = session.get(Tenant, row.tenant_id)
    return f"source {tenant.name if tenant else row.tenant_id}/{row.name} (credentials)"


def rotate_keys(session_factory: Any, vault: Vault, batch_size: int = 200,
                failures: list[str] | None = None) -> int:
    """Re-encrypt every stored secret under the newest key, in batches. Idempotent: tokens
    already under the newest key are left alone. Returns how many values were rotated; a row
    no configured key opens is left as it is and named in ``failures`` (when given)."""
    rotated = 0
    for model, column in _SECRET_COLUMNS:
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
                    if vault.is_current(token):
                        continue
                    try:
                        setattr(row, column, vault.rotate(token))
                    except VaultError:
                        if failures is not None:
                            failures.append(secret_row_name(session, row))
                        continue
                    rotated += 1
    return rotated


def check_keys(session_factory: Any, vault: Vault) -> tuple[int, list[str], list[str]]:
    """Try to decrypt every stored secret: ``(how many open, rows no key opens, rows not yet
    under the newest key)``."""
    opened, broken, stale = 0, [], []
    for model, column in _SECRET_COLUMNS:
        with session_factory() as session:
            for row in session.scalars(select(model).where(getattr(model, column).is_not(None))
                                       .order_by(model.id)):
                token = getattr(row, column)
                try:
                    vault.decrypt(token)
                except VaultError:
                    broken.append(secret_row_name(session, row))
                    continue
                opened += 1
                if not vault.is_current(token):
                    stale.append(secret_row_name(session, row))
    return opened, broken, stale
