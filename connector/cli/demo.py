"""``ml-connector demo``: the main job, end to end, on one machine.

Starts the sandbox (IFS Cloud, WooCommerce, BigCommerce simulators), the embedded Postgres and
Redis unless URLs are configured, a demo tenant with its stores, real Celery worker and beat
processes; seeds the stores (customers, orders, guests, some invalid orders, bulk lines at odd
unit prices, fees, gift wrapping, handling, store credit) and IFS (a customer of another company
whose id collides with one of ours), waits until the sync settles while showing progress, and
prints the reconciliation, which compares every order's money to the cent. Exit code 0 when
there is no unexplained difference.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import delete

from connector import migrate
from connector.db import session_scope
from connector.handles import get_vault
from connector.models import Tenant
from connector.operations.admin import IfsTarget, add_source, add_tenant, set_ifs_target
from connector.pipeline.dispatch import request_now

DEMO_TENANT = "demo"
#: The demo syncs the seeded stores' whole history (a real source starts MLC_INITIAL_SYNC_DAYS
#: back; see `ml-connector backfill` for older history).
HISTORY = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass
class DemoOptions:
    customers: int = 120
    orders: int = 300
    invalid: int = 5
    seed: int = 42
    timeout: int = 900
    as_json: bool = False


def _say(opts: DemoOptions, message: str) -> None:
    # With --json, progress goes to stderr so stdout is exactly one JSON document.
    click.echo(message, err=opts.as_json)


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    # One log per run: the previous run's log is replaced, not grown (issue 10, seen 4).
    handle = open(log, "wb")  # noqa: SIM115 - the child owns it for its lifetime
    return subprocess.Popen([sys.executable, "-m", "connector.cli", *args], env=dict(os.environ),
                            stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _setup_tenant(sandbox: Any) -> tuple[int, list[int]]:
    creds = sandbox.credentials()
    with session_scope() as s:
        s.execute(delete(Tenant).where(Tenant.name == DEMO_TENANT))  # a fresh run each time
        tenant = add_tenant(s, DEMO_TENANT, "10")
        ifs = creds["ifs"]
        set_ifs_target(s, get_vault(), tenant, IfsTarget(
            base_url=ifs["base_url"], realm=ifs["realm"], client_id=ifs["client_id"],
            client_secret=ifs["client_secret"], site="S1", order_type="NO",
            extra={"budget_per_min": 1000}))  # the sandbox grants its IAM client 1000/min
        tenant.settings = {"walk_in_customer": "WALKIN", "guest_policy": "walk_in",
                           "bc_customer_policy": "create"}
        tenant.posting_rules = {
            "payment": {"debit": "1930", "credit": "1510", "voucher_type": "M"},
            "shipment": {"debit": "2990", "credit": "3010", "voucher_type": "M",
                         "dimensions": {"CodeB": "100"}},
            "refund": {"debit": "3010", "credit": "1930", "voucher_type": "M"},
        }
        woo = creds["woocommerce"]
        sources = [add_source(
            s, get_vault(), tenant, name="webshop", system="woocommerce",
            base_url=woo["base_url"], key_owner=woo["key_owner"], poll_interval_s=10,
            credentials={"consumer_key": woo["consumer_key"],
                         "consumer_secret": woo["consumer_secret"]},
            settings={"use_oauth1": False}, start_date=HISTORY).id]
        bc = creds["bigcommerce"]
        sources.append(add_source(
            s, get_vault(), tenant, name="bcstore", system="bigcommerce",
            base_url=bc["base_url"], poll_interval_s=10,
            credentials={k: bc[k] for k in ("store_hash", "access_token", "client_id",
                                            "client_secret")},
            start_date=HISTORY).id)
        return tenant.id, sources


def _seed_colliding_customer(sandbox: Any, woo_source_id: int) -> str | None:
    """An IFS customer of another company (20) with the id our tenant would give a WooCommerce
    buyer (docs/money.md §3): the connector must refuse it, with a reason, not link it."""
    from connector.models import Source
    from connector.pipeline.targets import mapping_context
    from connector.stores.mapping import customer_id

    buyers = sorted({o["customer_id"] for o in sandbox.woo.orders() if o["customer_id"]})
    if not buyers:
        return None
    with session_scope() as s:
        source = s.get(Source, woo_source_id)
        tenant = s.get(Tenant, source.tenant_id) if source is not None else None
        assert source is not None and tenant is not None
        cid = customer_id(mapping_context(tenant, source).customer_prefix, buyers[0])
    sandbox.ifs.seed_customer({"CustomerId": cid, "Name": "Customer of company 20",
                               "Company": "20", "Country": "SE"})
    return cid


def run_demo(opts: DemoOptions) -> int:
    """Run the demo; returns the process exit code."""
    from connector.operations.progress import tenant_progress
    from connector.operations.reconcile import reconcile, render
    from connector.runtime import bootstrap
    from sandbox.server import start_all

    os.environ.setdefault("MLC_DISPATCH_INTERVAL_S", "2")
    os.environ.setdefault("MLC_SWEEP_AFTER_S", "60")
    settings = bootstrap()
    url = settings.database_url
    assert url
    migrate.upgrade(url)
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    _say(opts, "starting the sandbox (IFS Cloud, WooCommerce, BigCommerce simulators)")
    sandbox = start_all()
    sandbox.ifs.seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in customer",
                               "Company": "10"})
    summary = sandbox.woo.seed(customers=opts.customers, orders=opts.orders, seed=opts.seed,
                               guest_ratio=0.2, invalid=opts.invalid, silent=True,
                               bulk_ratio=0.2)
    _say(opts, f"seeded WooCommerce: {opts.customers} customers, {opts.orders} orders "
               f"({len(summary.get('invalid', []))} invalid on purpose; some with bulk lines "
               "at odd unit prices and fee lines)")
    tenant_id, source_ids = _setup_tenant(sandbox)
    sandbox.bc.seed(customers=max(10, opts.customers // 4), orders=max(20, opts.orders // 5),
                    seed=opts.seed, extras_ratio=0.3)
    _say(opts, "seeded BigCommerce: orders with payments, shipments and refunds; some with "
               "fees, gift wrapping, handling, store credit and bulk lines")
    colliding = _seed_colliding_customer(sandbox, source_ids[0])
    if colliding:
        _say(opts, f"seeded IFS: customer {colliding} of company 20, whose id collides with a "
                   "WooCommerce customer of this tenant (company 10): it must not be touched")
    procs = [
        _spawn(["worker", "--concurrency", "4"], data_dir / "demo-worker.log"),
        _spawn(["beat"], data_dir / "demo-beat.log"),
    ]
    started = time.time()
    try:
        with session_scope() as s:
            request_now(s, source_ids)
        deadline = started + opts.timeout
        last = ""
        while True:
            if any(p.poll() is not None for p in procs):
                _say(opts, f"a worker or beat process exited; see {data_dir}/demo-*.log")
                return 1
            progress = tenant_progress(tenant_id, since=started, source_ids=source_ids)
            line = progress.line()
            if line != last:
                _say(opts, f"[{time.time() - started:5.1f}s] {line}")
                last = line
            if progress.settled:
                break
            if time.time() > deadline:
                _say(opts, f"not settled after {opts.timeout}s")
                return 1
            time.sleep(1.0)
        _say(opts, f"settled in {time.time() - started:.1f}s")
        result = reconcile(DEMO_TENANT)
    finally:
        for proc in procs:
            _stop(proc)
        sandbox.stop()
    if opts.as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        click.echo(render(result))
    return 0 if result.unexplained == 0 and not result.errors else 1


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the reconciliation as JSON.")
@click.option("--customers", default=120, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--orders", default=300, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--invalid", default=5, show_default=True, type=click.IntRange(0, 1000),
              help="Orders seeded invalid on purpose (they must fail with a reason).")
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--timeout", default=900, show_default=True, type=int)
def demo(as_json: bool, customers: int, orders: int, invalid: int, seed: int,
         timeout: int) -> None:
    """Full sync against the sandbox on the embedded default, then a reconciliation.

    Exit code 0 when every difference between the stores and IFS is explained.
    """
    sys.exit(run_demo(DemoOptions(customers=customers, orders=orders, invalid=invalid,
                                  seed=seed, timeout=timeout, as_json=as_json)))
