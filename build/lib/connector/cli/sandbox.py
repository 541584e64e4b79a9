"""``ml-connector sandbox serve``: the three local simulators (IFS Cloud, WooCommerce,
BigCommerce) on localhost, one port each, until Ctrl-C or SIGTERM. See docs/sandbox.md.

The simulators live in the ``sandbox`` package, which never imports the connector; this module
only starts them and prints how to reach them.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

import click

ADMIN_PREFIX = "/_sandbox"
IFS_PROJECTIONS = "/main/ifsapplications/projection/v1"
WOO_API = "/wp-json/wc/v3"


@click.group()
def sandbox() -> None:
    """Local simulators of IFS Cloud, WooCommerce and BigCommerce (docs/sandbox.md)."""


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--ifs-port", default=8101, show_default=True, type=click.IntRange(0, 65535),
              help="IFS Cloud port (0 = any free port).")
@click.option("--woo-port", default=8102, show_default=True, type=click.IntRange(0, 65535),
              help="WooCommerce port (0 = any free port).")
@click.option("--bc-port", default=8103, show_default=True, type=click.IntRange(0, 65535),
              help="BigCommerce port (0 = any free port).")
@click.option("--seed-customers", default=0, show_default=True, type=click.IntRange(0),
              help="Customers to generate in WooCommerce and in BigCommerce.")
@click.option("--seed-orders", default=0, show_default=True, type=click.IntRange(0),
              help="Orders to generate in WooCommerce and in BigCommerce.")
@click.option("--seed", "seed_value", default=42, show_default=True, type=int,
              help="Random seed of the generators (same seed, same data).")
@click.option("--woo-plain-http", is_flag=True,
              help="WooCommerce acts as plain HTTP: Basic auth refused, OAuth 1.0a enforced.")
@click.option("--bc-retry-compression", default=None, type=click.FloatRange(min=0, min_open=True),
              help="Multiply the BigCommerce webhook retry schedule by this (default 1.0 = the "
                   "real schedule; 0.001 turns 60 s into 60 ms).")
@click.option("--ifs-budget", default=None, type=click.IntRange(1),
              help="IFS requests per minute per IAM client before 429 (default 1000).")
def serve(host: str, ifs_port: int, woo_port: int, bc_port: int, seed_customers: int,
          seed_orders: int, seed_value: int, woo_plain_http: bool,
          bc_retry_compression: float | None, ifs_budget: int | None) -> None:
    """Start the three simulators and serve until Ctrl-C or SIGTERM."""
    from sandbox.bigcommerce import BcConfig
    from sandbox.ifs import IfsConfig
    from sandbox.server import start_all
    from sandbox.woocommerce import WooConfig

    ifs_config = IfsConfig() if ifs_budget is None else IfsConfig(budget_per_min=ifs_budget)
    woo_config = WooConfig(assume_https=not woo_plain_http)
    bc_config = (BcConfig() if bc_retry_compression is None
                 else BcConfig(retry_compression=bc_retry_compression))
    try:
        running = start_all(host, ifs_port=ifs_port, woo_port=woo_port, bc_port=bc_port,
                            ifs_config=ifs_config, woo_config=woo_config, bc_config=bc_config)
    except OSError as exc:
        raise click.ClickException(f"cannot start the sandbox on {host}: {exc}") from exc
    except SystemExit as exc:  # werkzeug reports a busy port itself, then exits
        raise click.ClickException(
            f"cannot start the sandbox on {host}: a port is in use (choose others with "
            "--ifs-port/--woo-port/--bc-port; 0 = any free port)") from exc

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        seeded: dict[str, dict[str, Any]] = {}
        if seed_customers or seed_orders:
            seeded["woocommerce"] = running.woo.seed(customers=seed_customers,
                                                     orders=seed_orders, seed=seed_value)
            seeded["bigcommerce"] = running.bc.seed(customers=seed_customers,
                                                    orders=seed_orders, seed=seed_value)
        click.echo(_banner(running.credentials(), seeded, woo_plain_http))
        while not stop.wait(0.5):
            pass
        click.echo("stopping the sandbox")
    finally:
        running.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("sandbox stopped")


def _banner(creds: dict[str, dict[str, Any]], seeded: dict[str, dict[str, Any]],
            woo_plain_http: bool) -> str:
    ifs, woo, bc = creds["ifs"], creds["woocommerce"], creds["bigcommerce"]
    sites = ", ".join(f"{site} (company {company})" for site, company in ifs["sites"].items())
    woo_auth = ("OAuth 1.0a signatures (plain HTTP mode)" if woo_plain_http
                else "HTTP Basic or ?consumer_key=&consumer_secret=")
    lines = [
        "ml-connector sandbox: local simulators. Every credential below is a fixed sandbox "
        "value, not a secret.",
        "",
        f"IFS Cloud    {ifs['base_url']}",
        f"  token      {ifs['base_url']}/auth/realms/{ifs['realm']}/protocol/openid-connect/token",
        f"  OData      {ifs['base_url']}{IFS_PROJECTIONS}/",
        f"  client     client_id={ifs['client_id']} client_secret={ifs['client_secret']} "
        f"realm={ifs['realm']}",
        f"  companies  {', '.join(ifs['companies'])}; sites {sites}",
        f"  admin      {ifs['base_url']}{ADMIN_PREFIX}/ and {ifs['base_url']}{ADMIN_PREFIX}/ifs/",
        "",
        f"WooCommerce  {woo['base_url']}",
        f"  REST       {woo['base_url']}{WOO_API}",
        f"  key        consumer_key={woo['consumer_key']} "
        f"consumer_secret={woo['consumer_secret']} (owner {woo['key_owner']}, read_write)",
        f"  auth       {woo_auth}",
        f"  admin      {woo['base_url']}{ADMIN_PREFIX}/ and {woo['base_url']}{ADMIN_PREFIX}/woo/",
        "",
        f"BigCommerce  {bc['base_url']}",
        f"  REST       {bc['base_url']}/stores/{bc['store_hash']}/v2 and /v3",
        f"  token      X-Auth-Token: {bc['access_token']}",
        f"  webhooks   client_id={bc['client_id']} client_secret={bc['client_secret']}",
        f"  admin      {bc['base_url']}{ADMIN_PREFIX}/ and {bc['base_url']}{ADMIN_PREFIX}/bc/",
    ]
    if seeded:
        woo_seed, bc_seed = seeded["woocommerce"], seeded["bigcommerce"]
        lines += [
            "",
            f"seeded       WooCommerce: {len(woo_seed.get('customer_ids', []))} customers, "
            f"{len(woo_seed.get('order_ids', []))} orders; BigCommerce: "
            f"{bc_seed.get('customers', 0)} customers, {bc_seed.get('orders', 0)} orders",
        ]
    lines += ["", "serving; press Ctrl-C (or send SIGTERM) to stop"]
    return "\n".join(lines)
