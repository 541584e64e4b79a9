"""Operating commands end to end: ``sync --wait`` exit codes, re-sync of named orders,
dry-runs and backfills, against a real worker and the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from tests.integration.harness import ROOT, add_woo_source, make_tenant

pytestmark = pytest.mark.integration


def _cli(*args: str, timeout: int = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "connector.cli", *args], capture_output=True,
                          text=True, env=dict(os.environ), cwd=ROOT, timeout=timeout)


def test_sync_wait_exits_1_and_counts_failed_records(pipeline: dict[str, Any]) -> None:
    woo = pipeline["woo"]
    pipeline["ifs"].seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    summary = woo.seed(customers=2, orders=6, seed=5, invalid=2, silent=True)
    assert len(summary["invalid"]) == 2
    tenant = make_tenant(pipeline["ifs_url"])
    add_woo_source(tenant, pipeline["woo_url"], interval=3600)
    r = _cli("sync", "--tenant", "acme", "--wait", "--timeout", "180")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "settled with 2 record(s) failed and 0 parked" in r.stderr
    assert len(pipeline["ifs"].orders()) == 4
