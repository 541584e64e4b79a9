"""BigCommerce simulator: admin seed, reset, order lifecycle and concurrency."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any

import requests

from tests.sandbox.bigcommerce.support import Receiver, Sim, all_orders, make_hook

# --------------------------------------------------------------------------- admin (§7 of brief)


def test_admin_seed_is_deterministic_and_reset_clears(bc: Sim) -> None:
    params = {"customers": 5, "orders": 20, "seed": 9, "currencies": ["USD", "EUR"]}

    def strip(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        drop = {"date_created", "date_modified", "date_shipped"}
        return [{k: v for k, v in o.items() if k not in drop} for o in orders]

    first = requests.post(f"{bc.admin}/seed", json=params, timeout=10).json()
    assert first["orders"] == 20 and len(first["order_ids"]) == 20
    snapshot = strip(all_orders(bc))
    state = requests.get(f"{bc.admin}/state", timeout=10).json()
    assert state["customers"] == 5 and state["orders"] == 20
    assert state["transactions"] >= 20
    assert requests.post(f"{bc.url}/_sandbox/reset", timeout=10).json() == {"reset": True}
    state = requests.get(f"{bc.admin}/state", timeout=10).json()
    assert state["customers"] == 0 and state["orders"] == 0 and state["hooks"] == 0
    assert bc.get(f"{bc.v2}/orders").status_code == 204
    requests.post(f"{bc.admin}/seed", json=params, timeout=10)
    assert strip(all_orders(bc)) == snapshot
    requests.post(f"{bc.url}/_sandbox/reset", timeout=10)
    requests.post(f"{bc.admin}/seed", json={**params, "seed": 10}, timeout=10)
    assert strip(all_orders(bc)) != snapshot


def test_admin_order_lifecycle_fires_events(bc: Sim, receiver: Receiver) -> None:
    make_hook(bc, "store/order/*", receiver.url())
    order = requests.post(
        f"{bc.admin}/orders",
        json={"lines": [{"sku": "A", "price": "25.00", "quantity": 2}], "tax_rate": "0.1"},
        timeout=10,
    ).json()
    oid = order["id"]
    assert order["total_inc_tax"] == "55.0000" and order["status_id"] == 7
    bc.sim.state.clock.advance(5)
    r = requests.patch(f"{bc.admin}/orders/{oid}", json={"status_id": 9}, timeout=10)
    assert r.status_code == 200
    updated = bc.get(f"{bc.v2}/orders/{oid}").json()
    before = datetime.strptime(order["date_modified"], "%a, %d %b %Y %H:%M:%S %z")
    after = datetime.strptime(updated["date_modified"], "%a, %d %b %Y %H:%M:%S %z")
    assert after - before >= timedelta(seconds=5) and updated["status"] == "Awaiting Shipment"
    since = format_datetime(after)
    assert [
        o["id"] for o in bc.get(f"{bc.v2}/orders", params={"min_date_modified": since}).json()
    ] == [oid]
    assert requests.post(f"{bc.admin}/orders/{oid}/capture", json={}, timeout=10).status_code == 201
    assert requests.post(f"{bc.admin}/orders/{oid}/ship", json={}, timeout=10).status_code == 201
    r = requests.post(f"{bc.admin}/orders/{oid}/refund", json={"amount": "5"}, timeout=10)
    assert r.status_code == 201 and r.json()["total_amount"] == 5.0
    assert requests.post(f"{bc.admin}/orders/999/capture", json={}, timeout=10).status_code == 404
    bc.sim.flush_webhooks()
    scopes = sorted(p["scope"] for p in receiver.payloads())  # delivery order is not guaranteed
    assert scopes == sorted(
        ["store/order/created"]
        + ["store/order/updated"] * 4  # patch, capture, ship, refund
        + ["store/order/statusUpdated"] * 3  # 7 -> 9 (patch), 9 -> 2 (ship), 2 -> 14 (refund)
        + ["store/order/transaction/created", "store/order/refund/created"]
    )
    r = requests.get(f"{bc.admin}/deliveries", params={"outcome": "success"}, timeout=10)
    assert r.json()["count"] == len(scopes)


def test_concurrent_reads_and_writes(bc: Sim) -> None:
    bc.sim.seed(customers=5, orders=50)
    errors: list[str] = []

    def writer() -> None:
        for _ in range(20):
            r = requests.post(f"{bc.admin}/orders", json={"paid": True}, timeout=10)
            if r.status_code != 201:
                errors.append(r.text)

    def reader() -> None:
        for _ in range(20):
            r = bc.get(f"{bc.v2}/orders", params={"limit": 250, "sort": "id:desc"})
            if r.status_code != 200:
                errors.append(str(r.status_code))

    threads = [threading.Thread(target=fn) for fn in (writer, writer, reader, reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ids = [o["id"] for o in all_orders(bc)]
    assert len(ids) == 90 and len(set(ids)) == 90
