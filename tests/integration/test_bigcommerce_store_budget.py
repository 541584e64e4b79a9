"""BigCommerce requests per order (issue 14, store budget: at most 2 per webhook-driven order),
counted from the BigCommerce simulator's request log while the real pipeline runs: a signed
webhook into a real ``web`` process, the fetch and the load on a real worker, the IFS simulator
over HTTP. The order is read with its consignments (lines and shipping address) and fee lines
embedded; ``/products`` only when the embed is cut at 50 lines; transactions only when a
payment voucher needs them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.integration.bigcommerce_harness import (  # noqa: F401 - fixtures
    POSTING_RULES,
    add_bc_source,
    bc_pipeline_fixture,
    bc_sim_fixture,
    delivery,
    hook_secret,
    hook_url,
    make_bc_tenant,
    post,
    wait_for,
    web_fixture,
)
from tests.integration.harness import settled, states, sync_and_settle

pytestmark = pytest.mark.integration

LINES = [{"sku": "SKU-0101", "name": "Linen apron", "quantity": 2, "price": "12.50"},
         {"sku": "SKU-0102", "name": "Oak board", "quantity": 1, "price": "7.00"}]


def _buyer(email: str) -> dict[str, Any]:
    return {"first_name": "Rosa", "last_name": "Lind", "street_1": "Storgatan 1",
            "city": "Uppsala", "zip": "75320", "country": "Sweden", "country_iso2": "SE",
            "email": email}


def _store_requests(bc: Any, mark: int = 0) -> list[dict[str, Any]]:
    """The store API requests (not the admin routes) logged since ``mark``."""
    return [r for r in list(bc.state.requests)[mark:] if r["path"].startswith("/stores/")]


def _about(reqs: list[dict[str, Any]], order_id: int) -> list[str]:
    """``METHOD tail`` of the requests about one order (``/v2/orders/7``, ``…/products``)."""
    out = []
    for r in reqs:
        for marker in (f"/v2/orders/{order_id}", f"/v3/orders/{order_id}"):
            if r["path"].endswith(marker) or f"{marker}/" in r["path"]:
                tail = r["path"].split(marker, 1)[1]
                out.append(f"{r['method']} {marker.split('/')[1]}/orders/{{id}}{tail}")
    return out


def _ifs_order(ifs: Any, po: str) -> dict[str, Any] | None:
    found = [o for o in ifs.orders() if o["CustomerPoNo"] == po]
    assert len(found) <= 1, found
    return found[0] if found else None


def _net(ifs: Any, order: dict[str, Any]) -> Decimal:
    lines = ifs.order_lines(order["OrderNo"])
    net = sum((Decimal(str(x["BuyQtyDue"])) * Decimal(str(x["SaleUnitPrice"])) for x in lines),
              Decimal(0))
    return net + sum((Decimal(str(c["ChargeAmount"])) for c in order["Charges"]), Decimal(0))


def _deliver_created(p: dict[str, Any], source: int, order_id: int) -> None:
    """One ``store/order/created`` callback, signed as BigCommerce signs it."""
    from sandbox.bigcommerce import DEFAULT_CLIENT_SECRET

    body, headers = delivery("store/order/created", {"type": "order", "id": order_id},
                             secret=DEFAULT_CLIENT_SECRET, custom_secret=hook_secret(source))
    assert post(hook_url(p["web"]), body, headers).status_code == 200


def test_a_webhook_driven_order_costs_at_most_two_store_requests(
        bc_pipeline: dict[str, Any]) -> None:
    p = bc_pipeline
    bc, ifs = p["bc"], p["ifs"]
    tenant = make_bc_tenant(p["ifs_url"], policy="create")  # with a payment posting rule
    source = add_bc_source(tenant, p["bc_url"])
    bc.set_webhook_mode("off")  # one delivery, by hand: one fetch to count
    order = bc.create_order(lines=LINES, billing_address=_buyer("budget@example.org"),
                            default_currency_code="EUR", shipping_cost="4.00", tax_rate="0.25",
                            paid=True)
    oid = order["id"]
    mark = len(bc.state.requests)
    _deliver_created(p, source, oid)
    po = f"B{source}-{oid}"
    wait_for(lambda: _ifs_order(ifs, po), "the IFS order")
    wait_for(lambda: settled(tenant), "the pipeline to settle")

    # The order with its lines, shipping address and fees in one request, and the
    # transactions the payment voucher is built from: 2 (it was 4: order, products,
    # shipping addresses, transactions).
    assert _about(_store_requests(bc, mark), oid) == [
        "GET v2/orders/{id}", "GET v3/orders/{id}/transactions"]
    placed = _ifs_order(ifs, po)
    assert placed is not None
    assert _net(ifs, placed) == Decimal(bc.store.order(oid).totals()["total_ex_tax"])
    assert len(ifs.order_lines(placed["OrderNo"])) >= len(LINES)
    assert any(v["VoucherText2"].startswith("bc:sbx1:payment:") for v in ifs.vouchers())
    assert set(states(tenant)) <= {"done", "superseded"}, states(tenant)



def test_without_payment_vouchers_a_webhook_driven_order_costs_one_request(
        bc_pipeline: dict[str, Any]) -> None:
    p = bc_pipeline
    bc, ifs = p["bc"], p["ifs"]
    rules = {k: v for k, v in POSTING_RULES.items() if k != "payment"}
    tenant = make_bc_tenant(p["ifs_url"], policy="create", rules=rules)
    source = add_bc_source(tenant, p["bc_url"])
    bc.set_webhook_mode("off")
    oid = bc.create_order(lines=LINES, billing_address=_buyer("novoucher@example.org"),
                          default_currency_code="EUR", paid=True)["id"]
    mark = len(bc.state.requests)
    _deliver_created(p, source, oid)
    wait_for(lambda: _ifs_order(ifs, f"B{source}-{oid}"), "the IFS order")
    wait_for(lambda: settled(tenant), "the pipeline to settle")
    # No plan is built from transactions here: they are not read.
    assert _about(_store_requests(bc, mark), oid) == ["GET v2/orders/{id}"]
    assert ifs.vouchers() == []


def test_an_order_of_more_than_fifty_lines_keeps_every_line(bc_pipeline: dict[str, Any]) -> None:
    p = bc_pipeline
    bc, ifs = p["bc"], p["ifs"]
    tenant = make_bc_tenant(p["ifs_url"], policy="create")
    source = add_bc_source(tenant, p["bc_url"])
    bc.set_webhook_mode("off")
    many = [{"sku": f"SKU-{n:04d}", "name": f"Item {n}", "quantity": 1 + n % 3,
             "price": f"{n}.{n % 100:02d}"} for n in range(1, 58)]
    order = bc.create_order(lines=many, billing_address=_buyer("bulk@example.org"),
                            default_currency_code="EUR", tax_rate="0.25", paid=True)
    oid = order["id"]
    mark = len(bc.state.requests)
    _deliver_created(p, source, oid)
    po = f"B{source}-{oid}"
    wait_for(lambda: _ifs_order(ifs, po), "the IFS order", timeout=120)
    wait_for(lambda: settled(tenant), "the pipeline to settle")

    # The embed stops at 50 lines with a __warning__: the products are read (all pages).
    assert _about(_store_requests(bc, mark), oid) == [
        "GET v2/orders/{id}", "GET v2/orders/{id}/products", "GET v3/orders/{id}/transactions"]
    placed = _ifs_order(ifs, po)
    assert placed is not None
    assert _net(ifs, placed) == Decimal(bc.store.order(oid).totals()["total_ex_tax"])
    quantities = sum(Decimal(str(x["BuyQtyDue"])) for x in ifs.order_lines(placed["OrderNo"]))
    assert quantities == sum(line["quantity"] for line in many)


def test_a_polled_page_of_orders_costs_no_request_per_order_for_lines(
        bc_pipeline: dict[str, Any]) -> None:
    p = bc_pipeline
    bc, ifs = p["bc"], p["ifs"]
    rules = {k: v for k, v in POSTING_RULES.items() if k != "payment"}
    tenant = make_bc_tenant(p["ifs_url"], policy="create", rules=rules)
    source = add_bc_source(tenant, p["bc_url"])
    bc.set_webhook_mode("off")
    ids = [bc.create_order(lines=LINES, billing_address=_buyer(f"poll{n}@example.org"),
                           default_currency_code="EUR", paid=True)["id"] for n in range(6)]
    digital = bc.create_order(lines=[{"sku": "SKU-0103", "name": "E-book", "quantity": 1,
                                      "price": "9.00", "type": "digital"}],
                              billing_address=_buyer("reader@example.org"),
                              default_currency_code="EUR", paid=True)["id"]
    mark = len(bc.state.requests)
    sync_and_settle(tenant, source, ("orders",))

    reqs = [r for r in _store_requests(bc, mark) if "/orders" in r["path"]]
    # Only order list pages: no products, shipping addresses, fees or transactions per order
    # (it was 3 more per order).
    for oid in [*ids, digital]:
        assert _about(reqs, oid) == [], (oid, _about(reqs, oid))
    assert {r["path"].rsplit("/", 1)[1] for r in reqs} == {"orders"}
    assert all("include=consignments.line_items" in r["query"] for r in reqs)
    for oid in [*ids, digital]:
        placed = _ifs_order(ifs, f"B{source}-{oid}")
        assert placed is not None, oid
        assert _net(ifs, placed) == Decimal(bc.store.order(oid).totals()["total_ex_tax"])
    assert states(tenant, "order") == {"done": len(ids) + 1}


def test_every_fetch_driven_by_the_stores_own_webhooks_costs_at_most_two(
        bc_pipeline: dict[str, Any]) -> None:
    from click.testing import CliRunner

    from connector.cli import cli

    p = bc_pipeline
    bc, ifs = p["bc"], p["ifs"]
    tenant = make_bc_tenant(p["ifs_url"], policy="create")
    source = add_bc_source(tenant, p["bc_url"])
    synced = CliRunner().invoke(cli, ["bigcommerce", "hooks", "sync", "--tenant", "acme",
                                      "--source", "bc", "--destination", hook_url(p["web"])])
    assert synced.exit_code == 0, synced.output
    mark = len(bc.state.requests)
    # created, transaction/created and statusUpdated: each event is a fetch of the order
    oid = bc.create_order(lines=LINES, billing_address=_buyer("hooks@example.org"),
                          default_currency_code="EUR", paid=True)["id"]
    wait_for(lambda: _ifs_order(ifs, f"B{source}-{oid}"), "the IFS order")
    bc.flush_webhooks()
    wait_for(lambda: settled(tenant), "the pipeline to settle")
    reads = _about(_store_requests(bc, mark), oid)
    fetches = reads.count("GET v2/orders/{id}")
    assert fetches >= 1 and len(reads) <= 2 * fetches, reads
    assert set(reads) == {"GET v2/orders/{id}", "GET v3/orders/{id}/transactions"}, reads
