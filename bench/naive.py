"""The naive baseline: the plain script a developer would write instead of ml-connector.

    .venv/bin/python bench/naive.py [--orders N] [--customers N] [--ifs-latency-ms MS]

It starts the same sandbox in this process, seeds the WooCommerce store the way ``bench/run.py``
does, then in one loop: pages the orders (``GET /orders?page=N``), and for each order POSTs the
buyer as an IFS customer (the first time the script meets that buyer), POSTs the order header
and POSTs each line. No staging, no idempotency, no retries, no budget: what ml-connector has
to beat on speed (issue 14). Prints one JSON object (orders/s, requests per order, CPU).

It imports nothing of ``connector/``: it is the other way of doing the job.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ODATA = "/main/ifsapplications/projection/v1"


def run(orders: int, customers: int, latency_ms: int, seed: int = 42) -> dict[str, Any]:
    from sandbox.ifs import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REALM, IfsConfig
    from sandbox.server import start_all
    from sandbox.woocommerce import DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET

    sb = start_all(ifs_config=IfsConfig(budget_per_min=10_000_000))
    try:
        sb.ifs.seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
        sb.woo.seed(customers=customers, orders=orders, seed=seed, guest_ratio=0.2, silent=True)
        ifs, woo = sb.urls["ifs"], sb.urls["woocommerce"]
        if latency_ms:
            requests.post(f"{ifs}/_sandbox/faults", json={"latency_ms": latency_ms},
                          timeout=10).raise_for_status()
        with sb.ifs.state.lock:
            sb.ifs.state.requests.clear()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        started = time.time()
        http = requests.Session()
        token = http.post(f"{ifs}/auth/realms/{DEFAULT_REALM}/protocol/openid-connect/token",
                          data={"grant_type": "client_credentials",
                                "client_id": DEFAULT_CLIENT_ID,
                                "client_secret": DEFAULT_CLIENT_SECRET},
                          timeout=30).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        created: set[str] = set()
        done = failed = 0
        page = 1
        while True:
            batch = requests.get(f"{woo}/wp-json/wc/v3/orders",
                                 params={"page": page, "per_page": 100, "order": "asc",
                                         "orderby": "id"},
                                 auth=(DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET),
                                 timeout=30).json()
            if not batch:
                break
            for order in batch:
                try:
                    _post_order(http, ifs, order, created)
                    done += 1
                except (requests.RequestException, KeyError, ValueError):
                    failed += 1
            page += 1
        wall = time.time() - started
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        ifs_requests = [r for r in sb.ifs.state.requests if r["path"].startswith(ODATA)]
        cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
        return {"orders": orders, "customers": customers, "ifs_latency_ms": latency_ms,
                "orders_done": done, "orders_failed": failed, "wall_s": round(wall, 2),
                "orders_per_s": round(done / wall, 2) if wall else None,
                "ifs_requests": len(ifs_requests),
                "ifs_requests_per_order": round(len(ifs_requests) / done, 2) if done else None,
                "cpu_s_script_and_sandbox": round(cpu, 2),
                "cpu_ms_per_order": round(1000 * cpu / done, 1) if done else None}
    finally:
        sb.stop()


def _post_order(http: requests.Session, ifs: str, order: dict[str, Any],
                created: set[str]) -> None:
    billing = order.get("billing") or {}
    if order.get("customer_id"):
        customer_no = f"NAIVE-{order['customer_id']}"
        if customer_no not in created:
            name = f"{billing.get('first_name', '')} {billing.get('last_name', '')}".strip()
            http.post(f"{ifs}{ODATA}/CustomerHandling.svc/CustomerInfoSet", timeout=30, json={
                "CustomerId": customer_no, "Name": name or customer_no,
                "Country": (billing.get("country") or "US")[:2], "DefaultLanguage": "en",
                "PartyType": "Person", "DefaultDomain": True, "Company": "10"})
            created.add(customer_no)
    else:
        customer_no = "WALKIN"
    header = http.post(f"{ifs}{ODATA}/CustomerOrderHandling.svc/CustomerOrderSet", timeout=30,
                       json={"CustomerNo": customer_no, "CustomerPoNo": f"NAIVE-{order['id']}",
                             "Contract": "S1", "CurrencyCode": order.get("currency") or "EUR",
                             "OrderId": "NO",
                             "WantedDeliveryDate": "2030-01-01T00:00:00Z"})
    header.raise_for_status()
    order_no = header.json()["OrderNo"]
    for position, line in enumerate(order.get("line_items") or [], start=1):
        qty = int(line.get("quantity") or 1) or 1
        http.post(f"{ifs}{ODATA}/CustomerOrderHandling.svc/CustomerOrderSet(OrderNo='{order_no}')"
                  "/OrderLinesArray", timeout=30, json={
                      "CatalogNo": (line.get("sku") or "SKU-0001")[:25], "BuyQtyDue": qty,
                      "SaleUnitPrice": round(float(line.get("subtotal") or 0) / qty, 2),
                      "CustomerPoLineNo": str(position)})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--ifs-latency-ms", type=int, default=0)
    parser.add_argument("--seed", type=int, default=42)
    opts = parser.parse_args()
    print(json.dumps(run(opts.orders, opts.customers, opts.ifs_latency_ms, opts.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
