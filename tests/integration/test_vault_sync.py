"""Issue 9 §8 through real workers: `sync --wait` on a source whose stored secret no key opens
exits 1 saying so (it used to say "settled" and exit 0), with one `vault` alert."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import select

from connector.config import Secret
from connector.crypto import Vault
from connector.db import session_scope
from connector.models import Alert, Source
from tests.integration.harness import ROOT, add_woo_source, make_tenant


def test_sync_wait_exits_1_when_a_secret_cannot_be_decrypted(pipeline: dict[str, Any]) -> None:
    pipeline["woo"].seed(customers=1, orders=2, seed=3, silent=True)
    tenant = make_tenant(pipeline["ifs_url"])
    source = add_woo_source(tenant, pipeline["woo_url"], interval=3600)
    removed = Vault((Secret(Fernet.generate_key().decode()),))
    with session_scope() as s:
        src = s.get(Source, source)
        assert src is not None
        src.credentials_enc = removed.encrypt_json({"consumer_key": "ck_x123",
                                                    "consumer_secret": "cs_x123"})
    r = subprocess.run([sys.executable, "-m", "connector.cli", "sync", "--tenant", "acme",
                        "--wait", "--timeout", "120"], capture_output=True, text=True,
                       env=dict(os.environ), cwd=ROOT, timeout=180)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "vault_failed" in r.stderr and "MLC_ENCRYPTION_KEYS" in r.stderr
    assert "settled" not in r.stdout.splitlines()[-1:]
    with session_scope() as s:
        alerts = s.scalars(select(Alert).where(Alert.source_id == source)).all()
        assert [a.kind for a in alerts] == ["vault"]
    from pathlib import Path

    log = Path(pipeline["worker"].log_path).read_text(errors="replace")
    assert "VaultError" not in log  # no traceback per task
