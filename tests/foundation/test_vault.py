from __future__ import annotations

import json
import logging

import pytest
import redis
from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from connector.config import Secret
from connector.crypto import Vault, VaultError
from connector.db import get_engine, session_scope
from connector.logs import RedactingFilter, redact, register_secret
from connector.models import Base, Source, Tenant
from connector.operations.admin import (
    IfsTarget,
    add_source,
    add_tenant,
    rotate_keys,
    set_ifs_target,
)


def test_round_trip_and_masking() -> None:
    vault = Vault([Secret(Fernet.generate_key().decode())])
    token = vault.encrypt("s3cr3t-value")
    assert "s3cr3t-value" not in token
    assert vault.decrypt(token) == "s3cr3t-value"
    assert vault.decrypt_json(vault.encrypt_json({"a": "bcdefgh"})) == {"a": "bcdefgh"}


def test_wrong_key_is_a_clear_error() -> None:
    a = Vault([Secret(Fernet.generate_key().decode())])
    b = Vault([Secret(Fernet.generate_key().decode())])
    with pytest.raises(VaultError, match="MLC_ENCRYPTION_KEYS"):
        b.decrypt(a.encrypt("whatever-secret"))


def _store_secrets(vault: Vault) -> None:
    with session_scope() as s:
        t = add_tenant(s, "acme", "10")
        set_ifs_target(s, vault, t, IfsTarget(base_url="http://ifs.test", realm="r",
                                              client_id="c", client_secret="ifs-secret-AAA"))
        for i in range(5):
            add_source(s, vault, t, name=f"shop{i}", system="woocommerce",
                       base_url="https://shop.test",
                       credentials={"consumer_key": f"ck_{i}", "consumer_secret": f"cs-secret-{i}"})


def test_rotation_with_two_keys(clean_db: None) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    old_vault = Vault([Secret(old)])
    _store_secrets(old_vault)
    both = Vault([Secret(new), Secret(old)])
    # batch size 2 forces several batches over the 6 stored secrets
    assert rotate_keys(session_scope, both, batch_size=2) == 6
    assert rotate_keys(session_scope, both, batch_size=2) == 0  # idempotent
    new_only = Vault([Secret(new)])
    with session_scope() as s:
        tenant = s.scalar(select(Tenant))
        assert tenant is not None and tenant.ifs_secret_enc
        assert new_only.decrypt(tenant.ifs_secret_enc) == "ifs-secret-AAA"
        creds = [new_only.decrypt_json(src.credentials_enc or "")
                 for src in s.scalars(select(Source).order_by(Source.name))]
        assert [c["consumer_secret"] for c in creds] == [f"cs-secret-{i}" for i in range(5)]
        with pytest.raises(VaultError):
            old_vault.decrypt(tenant.ifs_secret_enc)


def _dump_database() -> str:
    """Every row of every table as text: what a database dump would reveal."""
    parts = []
    with get_engine().connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = conn.execute(text(f'SELECT t::text FROM "{table.name}" t')).scalars().all()
            parts.extend(rows)
    return "\n".join(parts)


def test_no_secret_in_database_logs_or_redis(clean_db: None, services: object,
                                             caplog: pytest.LogCaptureFixture,
                                             tmp_path: object) -> None:
    from connector.cli import cli
    from connector.handles import get_vault

    caplog.set_level(logging.DEBUG)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    secrets = ["ifs-client-secret-XYZ123", "cs_live_woo_secret_987", "bc-token-abcdef12345",
               "bc-client-secret-77777"]
    runner = CliRunner()
    assert runner.invoke(cli, ["tenant", "add", "leak", "--company", "10"]).exit_code == 0
    r = runner.invoke(cli, ["ifs", "set-target", "--no-check", "--tenant", "leak", "--base-url",
                            "http://ifs.test", "--realm", "r", "--client-id", "c"],
                      input=secrets[0] + "\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["source", "add", "--no-check", "--tenant", "leak", "--name", "woo",
                            "--system", "woocommerce", "--base-url", "https://shop.test"],
                      input="ck_public\n" + secrets[1] + "\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["source", "add", "--no-check", "--tenant", "leak", "--name", "bc",
                            "--system", "bigcommerce", "--base-url", "https://api.bc.test"],
                      input=f"hash1\n{secrets[2]}\nclient1\n{secrets[3]}\n")
    assert r.exit_code == 0, r.output
    logging.getLogger("test").warning("oops, a secret slipped: %s", secrets[1])
    dump = _dump_database()
    assert "ck_public" not in dump  # whole credential documents are encrypted
    for secret in secrets:
        assert secret not in dump
        assert secret not in r.output
        assert secret not in caplog.text
        assert all(secret not in redact(rec.getMessage()) for rec in caplog.records)
    client = redis.Redis.from_url(services.redis_url)  # type: ignore[attr-defined]
    for key in client.keys("*"):
        value = client.dump(key) or b""
        assert not any(s.encode() in value for s in secrets)
    # the vault still opens them
    with session_scope() as s:
        src = s.scalar(select(Source).where(Source.name == "bc"))
        assert src is not None
        assert get_vault().decrypt_json(src.credentials_enc or "")["access_token"] == secrets[2]


def test_redactor_masks_registered_secrets() -> None:
    register_secret("another-secret-42")
    assert redact("token=another-secret-42;") == "token=********;"
    assert json.dumps(redact("short")) == '"short"'
