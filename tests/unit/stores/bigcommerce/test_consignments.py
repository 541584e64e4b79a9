"""An order's lines and shipping address from its embedded consignments (issue 14 store budget;
bigcommerce.md §2): trusted only when provably complete, else ``/products`` is read."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

from connector.config import Secret
from connector.stores.bigcommerce.address_schemas import parse_bc_shipping_address
from connector.stores.bigcommerce.client import BigCommerceClient
from connector.stores.bigcommerce.consignments import (
    embedded_lines,
    embedded_shipping_addresses,
)
from connector.stores.bigcommerce.order_reads import OrderReads, read_order_parts
from connector.stores.bigcommerce.order_schemas import parse_bc_order_products

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
BASE = "https://api.bigcommerce.com"
V2 = BASE + "/stores/k7p2r9/v2"
WARNING = {"message": "Not all line items of this consignment are returned with this response, "
                      "only 50 are included. Please use the `/v2/orders/{order_id}/products` "
                      "endpoint to fetch all line items."}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def embedded(**shipping_changes: Any) -> dict[str, Any]:
    """The fixture order with ``include=consignments.line_items&consignment_structure=object``
    (orders.v2.oas2.yml ``orderConsignment_Get``): its two lines in one shipping consignment
    that is also its shipping address (costs as JSON numbers, as the spec types them)."""
    order = fixture("bc_order.json")
    order["items_total"] = 3  # 2 aprons and 1 board: the sum of the quantities
    address = fixture("bc_shipping_addresses.json")[0]
    shipping = {k: v for k, v in address.items() if k != "order_id"}
    shipping.update(line_items=fixture("bc_order_products.json"), base_cost=5.1, cost_ex_tax=5.1,
                    cost_inc_tax=6.2, cost_tax=1.1)
    shipping.update(shipping_changes)
    order["consignments"] = {"pickups": [], "shipping": [shipping], "downloads": [],
                             "email": {"gift_certificates": []}}
    return order


def test_complete_embed_gives_the_products_rows_and_the_shipping_address() -> None:
    order = embedded()
    lines = embedded_lines(order)
    assert lines == fixture("bc_order_products.json")
    assert parse_bc_order_products(lines) == parse_bc_order_products(
        fixture("bc_order_products.json"))
    (address,) = embedded_shipping_addresses(order) or []
    parsed = parse_bc_shipping_address(address)
    expected = parse_bc_shipping_address(fixture("bc_shipping_addresses.json")[0])
    assert (parsed.first_name, parsed.city, parsed.zip, parsed.country_iso2,
            parsed.shipping_method) == (expected.first_name, expected.city, expected.zip,
                                        expected.country_iso2, expected.shipping_method)
    assert str(parsed.cost_inc_tax) == "6.2"  # a JSON number read exactly
    assert "line_items" not in address and address["order_id"] == order["id"]


@pytest.mark.parametrize("change", [
    {"__warning__": WARNING},  # cut at 50 by BigCommerce
    {"line_items": [{"url": f"{V2}/orders/3105/products/16",
                     "resource": "/orders/3105/products/16"}]},  # include=consignments only
    {"line_items": []},  # seen empty although the order has products (dev-docs #2052)
    {"line_items": fixture("bc_order_products.json")[:1]},  # does not add up to items_total
    {"line_items": {"url": "x", "resource": "/orders/3105/products"}},
])
def test_an_embed_that_is_not_provably_complete_is_not_trusted(change: dict[str, Any]) -> None:
    assert embedded_lines(embedded(**change)) is None


def test_fifty_embedded_lines_mean_the_cap_was_reached_even_without_a_warning() -> None:
    row = fixture("bc_order_products.json")[0]
    rows = [{**row, "id": n, "quantity": 1} for n in range(1, 51)]
    order = embedded(line_items=rows)
    order["items_total"] = 50
    assert embedded_lines(order) is None
    order["consignments"]["shipping"][0]["line_items"] = rows[:49]
    order["items_total"] = 49
    assert embedded_lines(order) is not None and len(embedded_lines(order) or []) == 49


def test_no_consignments_object_means_no_embed() -> None:
    plain = {**fixture("bc_order.json"), "items_total": 3}
    assert embedded_lines(plain) is None and embedded_shipping_addresses(plain) is None
    legacy = {**plain, "consignments": [embedded()["consignments"]]}
    assert embedded_lines(legacy) is None and embedded_shipping_addresses(legacy) is None
    linked = {**plain, "consignments": {"url": "x", "resource": "/orders/3105/consignments"}}
    assert embedded_lines(linked) is None


def test_lines_of_every_consignment_kind_count_and_digital_orders_ship_nothing() -> None:
    order = embedded()
    lines = order["consignments"]["shipping"][0].pop("line_items")
    order["consignments"]["shipping"] = []
    order["consignments"]["downloads"] = [{"recipient_email": "a@example.org",
                                           "line_items": lines[:1]}]
    order["consignments"]["pickups"] = [{"id": 9, "line_items": lines[1:]}]
    assert [line["id"] for line in embedded_lines(order) or []] == [16, 17]
    assert embedded_shipping_addresses(order) == []


@pytest.fixture
def rsps() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def client() -> BigCommerceClient:
    return BigCommerceClient(BASE, "k7p2r9", Secret("tok"))


def test_get_order_embeds_consignments_and_fees_in_one_request(rsps: Any) -> None:
    rsps.get(V2 + "/orders/3105", json=embedded(), match=[matchers.query_param_matcher({
        "include": "consignments.line_items,fees", "consignment_structure": "object"})])
    order = client().get_order(3105)
    lines, addresses = read_order_parts(client(), order, OrderReads())
    assert [line["id"] for line in lines] == [16, 17] and len(addresses) == 1
    assert len(rsps.calls) == 1


def test_a_truncated_embed_reads_every_product_page(rsps: Any) -> None:
    row = fixture("bc_order_products.json")[0]
    rows = [{**row, "id": n, "quantity": 1} for n in range(1, 301)]
    order = embedded(line_items=copy.deepcopy(rows[:50]), __warning__=WARNING)
    order["items_total"] = 300
    rsps.get(V2 + "/orders/3105/products", json=rows[:250],
             match=[matchers.query_param_matcher({"limit": "250", "page": "1"})])
    rsps.get(V2 + "/orders/3105/products", json=rows[250:],
             match=[matchers.query_param_matcher({"limit": "250", "page": "2"})])
    lines, addresses = read_order_parts(client(), order, OrderReads())
    assert [line["id"] for line in lines] == list(range(1, 301))
    assert len(addresses) == 1  # the address still comes from the consignment


def test_sub_resources_mode_reads_products_and_addresses(rsps: Any) -> None:
    rsps.get(V2 + "/orders/3105/products", json=fixture("bc_order_products.json"))
    rsps.get(V2 + "/orders/3105/shipping_addresses", json=fixture("bc_shipping_addresses.json"))
    lines, addresses = read_order_parts(client(), embedded(), OrderReads(embedded=False))
    assert len(lines) == 2 and addresses[0]["id"] == fixture("bc_shipping_addresses.json")[0]["id"]


# --- which reads a tenant's source makes (settings bc_order_reads, bc_read_transactions) -----


def _reads(tenant_settings: dict[str, Any], rules: dict[str, Any] | None,
           source_settings: dict[str, Any] | None = None) -> OrderReads:
    from connector.models import Source, Tenant
    from connector.stores.bigcommerce.order_reads import order_reads

    tenant = Tenant(name="acme", settings=tenant_settings, posting_rules=rules)
    return order_reads(tenant, Source(name="bc", settings=source_settings or {}))


PAYMENT = {"payment": {"debit": "1930", "credit": "2990", "voucher_type": "M"}}


def test_transactions_are_read_only_when_a_payment_voucher_needs_them() -> None:
    assert _reads({}, PAYMENT) == OrderReads(embedded=True, transactions=True)
    assert _reads({}, {"shipment": PAYMENT["payment"]}) == OrderReads(True, False)
    assert _reads({}, None) == OrderReads(True, False)
    assert _reads({"bc_read_transactions": "always"}, None) == OrderReads(True, True)


def test_sub_resources_mode_and_a_typo_read_everything_one_by_one() -> None:
    assert _reads({"bc_order_reads": "sub_resources"}, None) == OrderReads(False, True)
    # source setting over tenant setting
    assert _reads({"bc_order_reads": "sub_resources"}, None,
                  {"bc_order_reads": "embedded"}) == OrderReads(True, False)
    assert _reads({"bc_order_reads": "embeded"}, None) == OrderReads(False, True)
