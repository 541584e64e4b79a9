"""Start the three simulators together: ``ml-connector sandbox serve``, the demo, benchmarks.

One port each (IFS Cloud, WooCommerce, BigCommerce), threaded servers on localhost. This module
never imports the connector.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.bigcommerce.simulator import BcConfig, BcSimulator
from sandbox.common import ServerThread
from sandbox.ifs.simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REALM,
    IfsConfig,
    IfsSimulator,
)
from sandbox.woocommerce.simulator import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_KEY_OWNER,
    WooConfig,
    WooSimulator,
)


@dataclass
class Sandbox:
    """The running simulators and their servers."""

    ifs: IfsSimulator
    woo: WooSimulator
    bc: BcSimulator
    servers: dict[str, ServerThread] = field(default_factory=dict)

    @property
    def urls(self) -> dict[str, str]:
        return {name: server.url for name, server in self.servers.items()}

    def credentials(self) -> dict[str, dict[str, Any]]:
        """What a connector needs to reach each simulator (sandbox values, not secrets)."""
        bc = self.bc.config
        return {
            "ifs": {"base_url": self.servers["ifs"].url, "realm": DEFAULT_REALM,
                    "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET,
                    "companies": list(self.ifs.config.clients[DEFAULT_CLIENT_ID]["companies"]),
                    "sites": dict(self.ifs.config.sites)},
            "woocommerce": {"base_url": self.servers["woocommerce"].url,
                            "consumer_key": DEFAULT_CONSUMER_KEY,
                            "consumer_secret": DEFAULT_CONSUMER_SECRET,
                            "key_owner": DEFAULT_KEY_OWNER},
            "bigcommerce": {"base_url": self.servers["bigcommerce"].url,
                            "store_hash": bc.store_hash, "access_token": bc.access_token,
                            "client_id": bc.client_id, "client_secret": bc.client_secret},
        }

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        for sim in (self.woo, self.bc):
            close = getattr(sim, "close", None)
            if close is not None:
                close()


def start_all(host: str = "127.0.0.1", *, ifs_port: int = 0, woo_port: int = 0,
              bc_port: int = 0, ifs_config: IfsConfig | None = None,
              woo_config: WooConfig | None = None, bc_config: BcConfig | None = None) -> Sandbox:
    """Start IFS, WooCommerce and BigCommerce simulators (port 0 = any free port)."""
    sandbox = Sandbox(IfsSimulator(ifs_config), WooSimulator(woo_config), BcSimulator(bc_config))
    sandbox.servers["ifs"] = ServerThread(sandbox.ifs.app, host, ifs_port).start()
    sandbox.servers["woocommerce"] = ServerThread(sandbox.woo.app, host, woo_port).start()
    sandbox.servers["bigcommerce"] = ServerThread(sandbox.bc.app, host, bc_port).start()
    return sandbox
