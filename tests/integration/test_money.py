"""Money to the smallest unit, end to end (issue 13, seen 1 and 2): the sandbox stores generate
bulk lines at odd unit prices, fee lines, BigCommerce fees, handling, gift wrapping and store
credit; every IFS order the pipeline creates must hold exactly the store's net."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.integration.bigcommerce_harness import (  # noqa: F401 - fixtures
    add_bc_source,
    bc_pipeline_fixture,
    bc_sim_fixture,
    make_bc_tenant,
    web_fixture,
)
from tests.integration.harness import add_woo_source, make_tenant, states, sync_and_settle

pytestmark = pytest.mark.integration


def ifs_net(ifs: Any, order: dict[str, Any]) -> Decimal:
    """Σ quantity × unit price of the IFS order's lines + Σ its charges, as IFS holds them."""
    lines = sum((Decimal(str(ln["BuyQtyDue"])) * Decimal(str(ln["SaleUnitPrice"]))
                 for ln in ifs.order_lines(order["OrderNo"])), Decimal(0))
    charges = sum((Decimal(str(c.get("ChargedQty", 1))) * Decimal(str(c["ChargeAmount"]))
                   for c in order["Charges"]), Decimal(0))
    return lines + charges


def test_woocommerce_bulk_odd_prices_and_fees_reach_ifs_to_the_cent(
        pipeline: dict[str, Any]) -> None:
    ifs, woo = pipeline["ifs"], pipeline["woo"]
    ifs.seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    woo.seed(customers=6, orders=30, seed=13, silent=True, bulk_ratio=0.6)
    bulk = [o for o in woo.orders() if any(li["sku"] == "SKU-BULK" for li in o["line_items"])]
    assert bulk and any(o["fee_lines"] for o in woo.orders())
    tenant = make_tenant(pipeline["ifs_url"])
    source = add_woo_source(tenant, pipeline["woo_url"])
    sync_and_settle(tenant, source)
    assert states(tenant, "order") == {"done": 30}
    by_po = {o["CustomerPoNo"]: o for o in ifs.orders()}
    for order in woo.orders():
        placed = by_po[f"W{source}-{order['number']}"]
        store_net = Decimal(order["total"]) - Decimal(order["total_tax"])
        assert ifs_net(ifs, placed) == store_net, order["number"]
    rounding = [c for o in by_po.values() for c in o["Charges"] if c["ChargeType"] == "ROUNDING"]
    assert rounding  # 3.33 for 1000 units: 0.0033 per unit and 0.03 of rounding


def test_bigcommerce_fees_wrapping_handling_and_store_credit_reach_ifs_to_the_cent(
        bc_pipeline: dict[str, Any]) -> None:
    p = bc_pipeline
    bc, ifs = p["bc"], p["ifs"]
    tenant = make_bc_tenant(p["ifs_url"], policy="create")
    source = add_bc_source(tenant, p["bc_url"])
    bc.set_webhook_mode("off")
    bc.seed(customers=4, orders=16, seed=5, extras_ratio=0.7, currencies=("EUR",),
            shipments_ratio=0.0, refunds_ratio=0.0)
    with bc.store.lock:
        orders = [o.render("http://x", "h") for o in bc.store.orders.values()]
    assert any(o["fees"] for o in orders) and any(o["wrapping_cost_ex_tax"] != "0.0000"
                                                  for o in orders)
    assert any(o["store_credit_amount"] != "0.0000" or o["gift_certificate_amount"] != "0.0000"
               for o in orders)
    sync_and_settle(tenant, source, ("orders",))
    assert states(tenant, "order") == {"done": len(orders)}
    by_po = {o["CustomerPoNo"]: o for o in ifs.orders()}
    for order in orders:
        placed = by_po[f"B{source}-{order['id']}"]
        assert ifs_net(ifs, placed) == Decimal(order["total_ex_tax"]), order["id"]
