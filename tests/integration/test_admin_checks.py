"""Issue 9 §7: `ifs set-target` and `source add` test the connection (token grant and one read;
one authenticated store read) and say what failed; `--no-check` skips it; the tenant is checked
before any prompt; tenant settings and posting rules are validated against their schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connector.cli.main import cli
from connector.db import session_scope
from connector.models import Source, Tenant
from tests.integration.bigcommerce_harness import bc_sim_fixture  # noqa: F401 - fixture


@pytest.fixture
def acme(clean_db: None, sandbox: dict[str, Any]) -> dict[str, Any]:
    assert CliRunner().invoke(cli, ["tenant", "add", "acme", "--company", "10"]).exit_code == 0
    return sandbox


def _target(url: str, *extra: str) -> list[str]:
    from sandbox.ifs import DEFAULT_CLIENT_ID, DEFAULT_REALM

    return ["ifs", "set-target", "--tenant", "acme", "--base-url", url, "--realm",
            DEFAULT_REALM, "--client-id", DEFAULT_CLIENT_ID, *extra]


def _stored_secret() -> str | None:
    with session_scope() as s:
        t = s.query(Tenant).filter_by(name="acme").one()
        return t.ifs_secret_enc


def test_ifs_set_target_tests_the_target_before_storing_it(acme: dict[str, Any]) -> None:
    from sandbox.ifs import DEFAULT_CLIENT_SECRET

    runner = CliRunner()
    r = runner.invoke(cli, _target(acme["ifs_url"]), input="wrong-secret-1\n")
    assert r.exit_code == 2 and "IFS did not grant a token" in r.output, r.output
    assert "wrong-secret-1" not in r.output and _stored_secret() is None
    r = runner.invoke(cli, _target("http://127.0.0.1:1"), input="whatever-secret\n")
    assert r.exit_code == 1 and "--no-check" in r.output, r.output
    r = runner.invoke(cli, _target(acme["ifs_url"], "--no-check"), input="wrong-secret-1\n")
    assert r.exit_code == 0 and _stored_secret() is not None
    r = runner.invoke(cli, _target(acme["ifs_url"]), input=DEFAULT_CLIENT_SECRET + "\n")
    assert r.exit_code == 0 and "tested" in r.output, r.output


def test_source_add_tests_the_store(acme: dict[str, Any], bc_sim: tuple[Any, str],
                                    tmp_path: Path) -> None:
    from sandbox.bigcommerce import DEFAULT_ACCESS_TOKEN, DEFAULT_STORE_HASH
    from sandbox.woocommerce import DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET

    runner = CliRunner()
    woo = ["source", "add", "--tenant", "acme", "--name", "shop", "--system", "woocommerce",
           "--base-url", acme["woo_url"], "--setting", "use_oauth1=false"]
    r = runner.invoke(cli, woo, input=f"{DEFAULT_CONSUMER_KEY}\ncs_wrong_secret\n")
    assert r.exit_code == 2 and "WooCommerce refused" in r.output, r.output
    assert "cs_wrong_secret" not in r.output
    r = runner.invoke(cli, woo, input=f"{DEFAULT_CONSUMER_KEY}\n{DEFAULT_CONSUMER_SECRET}\n")
    assert r.exit_code == 0 and "tested" in r.output, r.output
    creds = tmp_path / "bc.json"
    creds.write_text(json.dumps({"store_hash": DEFAULT_STORE_HASH, "access_token": "nope-123",
                                 "client_id": "c", "client_secret": "s-123456"}))
    bc = ["source", "add", "--tenant", "acme", "--name", "bc", "--system", "bigcommerce",
          "--base-url", bc_sim[1], "--credentials-file", str(creds)]
    r = runner.invoke(cli, bc)
    assert r.exit_code == 2 and "BigCommerce refused" in r.output, r.output
    creds.write_text(json.dumps({"store_hash": DEFAULT_STORE_HASH,
                                 "access_token": DEFAULT_ACCESS_TOKEN,
                                 "client_id": "c", "client_secret": "s-123456"}))
    assert runner.invoke(cli, bc).exit_code == 0
    with session_scope() as s:
        assert sorted(src.name for src in s.query(Source)) == ["bc", "shop"]


def test_the_tenant_and_the_options_are_checked_before_any_prompt(acme: dict[str, Any]) -> None:
    runner = CliRunner()
    r = runner.invoke(cli, ["ifs", "set-target", "--tenant", "nobody", "--base-url",
                            acme["ifs_url"], "--realm", "r", "--client-id", "c"], input="")
    assert r.exit_code == 3 and "secret" not in r.output.lower(), r.output
    r = runner.invoke(cli, ["source", "add", "--tenant", "nobody", "--name", "x", "--system",
                            "woocommerce", "--base-url", acme["woo_url"]], input="")
    assert r.exit_code == 3 and "consumer_key" not in r.output, r.output
    r = runner.invoke(cli, ["source", "add", "--tenant", "acme", "--name", "x", "--system",
                            "woocommerce", "--base-url", acme["woo_url"], "--setting",
                            "overlap=5"], input="")
    assert r.exit_code == 2 and "overlap_s" in r.output and "consumer_key" not in r.output


def test_tenant_settings_and_posting_rules_follow_their_schema(acme: dict[str, Any],
                                                               tmp_path: Path) -> None:
    runner = CliRunner()
    cases = [(["--setting", "guest_polcy=create"], "did you mean guest_policy"),
             (["--setting", "bc_customer_policy=maybe"], "must be one of skip, create"),
             (["--setting", "wanted_delivery_days=-1"], "at least 0")]
    for args, expected in cases:
        r = runner.invoke(cli, ["tenant", "set", "acme", *args])
        assert r.exit_code == 2 and expected in r.output, r.output
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"payment": {"debit": "1930", "voucher_type": "M"},
                                 "shipment": {"debit": "2990", "credit": "2990",
                                              "voucher_type": "M"},
                                 "refnd": {}}))
    r = runner.invoke(cli, ["tenant", "set", "acme", "--posting-rules", str(rules)])
    assert r.exit_code == 2, r.output
    for expected in ("payment has no credit account", "debits and credits the same",
                     "unknown event 'refnd'"):
        assert expected in r.output
    rules.write_text(json.dumps({"payment": {"debit": "1930", "credit": "1510",
                                             "voucher_type": "M",
                                             "dimensions": {"CodeB": "100"}}}))
    r = runner.invoke(cli, ["tenant", "set", "acme", "--posting-rules", str(rules),
                            "--setting", "bc_customer_policy=create"])
    assert r.exit_code == 0, r.output
    with session_scope() as s:
        t = s.query(Tenant).filter_by(name="acme").one()
        assert t.settings == {"bc_customer_policy": "create"}
        assert t.posting_rules["payment"]["credit"] == "1510"
