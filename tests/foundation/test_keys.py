"""Issue 9 §8: a secret stored under a key that was removed. Rotation names the rows it cannot
re-encrypt, `keys check` finds them, a fetch or a webhook for that source raises one `vault`
alert and pauses the source instead of a traceback or a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import select

from connector.cli.main import cli
from connector.config import Secret
from connector.crypto import Vault
from connector.db import session_scope
from connector.handles import get_vault
from connector.models import Alert, Source
from connector.operations.admin import add_source, add_tenant

REMOVED_KEY = Fernet.generate_key().decode()


@pytest.fixture
def orphaned(clean_db: None) -> Iterator[int]:
    """Tenant acme, source shop whose credentials were written under a key no longer set."""
    old = Vault((Secret(REMOVED_KEY),))
    with session_scope() as s:
        t = add_tenant(s, "acme", "10")
        src = add_source(s, get_vault(), t, name="shop", system="woocommerce",
                         base_url="https://shop.test",
                         credentials={"consumer_key": "ck_abcdef", "consumer_secret": "cs_ab12"})
        src.credentials_enc = old.encrypt_json({"consumer_key": "ck_abcdef",
                                                "consumer_secret": "cs_ab12",
                                                "webhook_secret": "whsec_123456"})
        add_source(s, get_vault(), t, name="fine", system="woocommerce",
                   base_url="https://fine.test",
                   credentials={"consumer_key": "ck_abcdef", "consumer_secret": "cs_ab12"})
        source_id = src.id
    yield source_id


def test_keys_rotate_names_the_rows_it_cannot_reencrypt(orphaned: int) -> None:
    r = CliRunner().invoke(cli, ["keys", "rotate"])
    assert r.exit_code == 1, r.output
    assert "source acme/shop (credentials)" in r.output
    assert "fine" not in r.output.split("could not be re-encrypted")[-1]
    assert "Traceback" not in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_keys_check_verifies_every_stored_secret(orphaned: int) -> None:
    r = CliRunner().invoke(cli, ["keys", "check"])
    assert r.exit_code == 1 and "acme/shop" in r.output and "1 stored secret(s) decrypt" in r.output
    with session_scope() as s:
        src = s.get(Source, orphaned)
        assert src is not None
        s.delete(src)
    r = CliRunner().invoke(cli, ["keys", "check"])
    assert r.exit_code == 0, r.output


def test_a_fetch_with_an_undecryptable_secret_pauses_the_source_with_one_alert(
        orphaned: int) -> None:
    from connector.pipeline.fetch import run_fetch

    for _ in range(3):
        result = run_fetch(orphaned, "orders")
        assert result.paused and result.staged == 0
    with session_scope() as s:
        src = s.get(Source, orphaned)
        assert src is not None and src.status == "vault_failed"
        alerts = s.scalars(select(Alert).where(Alert.source_id == orphaned)).all()
        assert [(a.kind, a.state) for a in alerts] == [("vault", "open")]
        assert "MLC_ENCRYPTION_KEYS" in alerts[0].message


def test_a_webhook_to_that_source_is_a_503_not_a_500(orphaned: int) -> None:
    from web.app import create_app

    r = create_app().test_client().post(
        "/webhooks/woo/acme/shop", data=b'{"id": 1}',
        headers={"Content-Type": "application/json", "X-WC-Webhook-Signature": "x"})
    assert r.status_code == 503 and r.headers.get("Retry-After")
    with session_scope() as s:
        assert [a.kind for a in s.scalars(select(Alert))] == ["vault"]
