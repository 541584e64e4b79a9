"""The deployment rehearsal of docs/sandbox.md, pasted as written (issue 13, seen 7), and
WooCommerce OAuth 1.0a behind a TLS-terminating proxy (``oauth_signed_url``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connector.config import Secret
from connector.db import session_scope
from connector.errors import AuthError
from connector.models import Source
from connector.stores.woocommerce.client import WooCommerceClient
from connector.stores.woocommerce.flow import woo_client
from sandbox.woocommerce import DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET
from tests.integration.harness import ROOT, add_woo_source, make_tenant, states, sync_and_settle

pytestmark = pytest.mark.integration


def _recipe() -> str:
    text = (ROOT / "docs" / "sandbox.md").read_text()
    after = text.split("To rehearse a deployment", 1)[1]
    match = re.search(r"```sh\n(.*?)```", after, re.S)
    assert match is not None
    return match.group(1)


def test_the_rehearsal_recipe_works_as_written(pipeline: dict[str, Any],
                                               tmp_path: Path) -> None:
    woo = pipeline["woo"]
    woo.seed(customers=2, orders=3, seed=1, silent=True)
    # The recipe names the default ports of `sandbox serve`; this test's simulators run on
    # free ports (the machine is shared), so only the ports are swapped.
    script = (_recipe().replace("http://127.0.0.1:8101", pipeline["ifs_url"])
              .replace("http://127.0.0.1:8102", pipeline["woo_url"]))
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=env,
                          input="sandbox-ifs-secret\n", capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    with session_scope() as s:
        source = s.scalar(select(Source).where(Source.name == "shop"))
        assert source is not None
        s.expunge(source)
    orders = list(woo_client(source).iter_orders_since(None))  # the key works as configured
    assert len(orders) == 3


@pytest.fixture
def woo_config_restored(pipeline: dict[str, Any]) -> Any:
    """The WooCommerce simulator is shared by the session and its reset keeps the config:
    put back what this test changes."""
    config = pipeline["woo"].config
    saved = (config.assume_https, config.home_url)
    yield config
    config.assume_https, config.home_url = saved


def _client(woo_url: str, **kwargs: Any) -> WooCommerceClient:
    return WooCommerceClient(woo_url, DEFAULT_CONSUMER_KEY, Secret(DEFAULT_CONSUMER_SECRET),
                             use_oauth1=True, **kwargs)


def test_oauth_behind_a_tls_terminating_proxy_signs_the_url_the_shop_signs(
        pipeline: dict[str, Any], woo_config_restored: Any) -> None:
    woo = pipeline["woo"]
    woo.seed(customers=2, orders=3, seed=2, guest_ratio=0.0, silent=True)
    # The shop is https://shop.example.test behind a proxy that does not set HTTPS=on: WordPress
    # signs http://shop.example.test/…, whatever URL the client called.
    woo.config.assume_https = False
    woo.config.home_url = "https://shop.example.test"
    with pytest.raises(AuthError) as caught:
        list(_client(pipeline["woo_url"]).iter_orders_since(None))
    assert "Invalid signature" in str(caught.value)
    signed = _client(pipeline["woo_url"], oauth_signed_url="http://shop.example.test")
    assert len(list(signed.iter_orders_since(None))) == 3

    tenant = make_tenant(pipeline["ifs_url"])
    source = add_woo_source(tenant, pipeline["woo_url"], settings={
        "use_oauth1": True, "oauth_signed_url": "http://shop.example.test"})
    sync_and_settle(tenant, source)
    assert states(tenant, "order") == {"done": 3}
