"""BigCommerce simulator: order includes (§2; orders.v2.oas2.yml ``order_includes``,
``consignment_structure``, ``orderConsignment_Get``): consignments with their line items on the
order list and the single order, the 50-line cap with ``__warning__``, fees embedded on request."""

from __future__ import annotations

from typing import Any

from tests.sandbox.bigcommerce.support import Sim

EMBED = {"include": "consignments.line_items,fees", "consignment_structure": "object"}
LINES = [{"sku": "SKU-0101", "name": "Linen apron", "quantity": 2, "price": "12.50"},
         {"sku": "SKU-0102", "name": "Oak board", "quantity": 1, "price": "7.00"}]


def _order(bc: Sim, oid: int, **params: Any) -> dict[str, Any]:
    r = bc.get(f"{bc.v2}/orders/{oid}", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_plain_order_links_its_consignments_and_fees(bc: Sim) -> None:
    oid = bc.sim.create_order(lines=LINES, shipping_cost="4.00")["id"]
    order = _order(bc, oid)
    assert order["consignments"]["resource"] == f"/orders/{oid}/consignments"
    assert order["fees"]["resource"] == f"/orders/{oid}/fees"  # only with include=fees


def test_consignments_with_line_items_on_the_single_order_and_the_list(bc: Sim) -> None:
    oid = bc.sim.create_order(lines=LINES, shipping_cost="4.00", tax_rate="0.25")["id"]
    products = bc.get(f"{bc.v2}/orders/{oid}/products").json()
    address = bc.get(f"{bc.v2}/orders/{oid}/shipping_addresses").json()[0]
    for order in (_order(bc, oid, **EMBED), bc.get(f"{bc.v2}/orders", params=EMBED).json()[0]):
        consignments = order["consignments"]
        assert set(consignments) == {"pickups", "shipping", "downloads", "email"}
        assert consignments["email"] == {"gift_certificates": []}
        (shipping,) = consignments["shipping"]
        assert shipping["line_items"] == products  # the /products rows themselves
        assert shipping["id"] == address["id"] == products[0]["order_address_id"]
        for field in ("first_name", "last_name", "street_1", "city", "zip", "country_iso2",
                      "shipping_method"):
            assert shipping[field] == address[field], field
        assert shipping["items_total"] == order["items_total"] == 3
        assert shipping["cost_ex_tax"] == 4.0 and shipping["cost_inc_tax"] == 5.0  # numbers
        assert "__warning__" not in shipping
        assert isinstance(order["fees"], list)


def test_plain_consignments_carry_line_links_and_legacy_structure_is_an_array(bc: Sim) -> None:
    oid = bc.sim.create_order(lines=LINES)["id"]
    linked = _order(bc, oid, include="consignments", consignment_structure="object")
    items = linked["consignments"]["shipping"][0]["line_items"]
    assert [i["resource"] for i in items] == [
        f"/orders/{oid}/products/{p['id']}"
        for p in bc.get(f"{bc.v2}/orders/{oid}/products").json()]
    legacy = _order(bc, oid, include="consignments.line_items")
    assert isinstance(legacy["consignments"], list)  # without consignment_structure=object


def test_embedded_line_items_stop_at_fifty_with_a_warning(bc: Sim) -> None:
    many = [{"sku": f"SKU-{n:04d}", "name": f"Item {n}", "quantity": 1, "price": "1.00"}
            for n in range(1, 56)]
    oid = bc.sim.create_order(lines=many)["id"]
    for order in (_order(bc, oid, **EMBED), bc.get(f"{bc.v2}/orders", params=EMBED).json()[0]):
        (shipping,) = order["consignments"]["shipping"]
        assert len(shipping["line_items"]) == 50
        assert "only 50 are included" in shipping["__warning__"]["message"]
        assert shipping["items_total"] == order["items_total"] == 55
    assert len(bc.get(f"{bc.v2}/orders/{oid}/products", params={"limit": 250}).json()) == 55


def test_a_digital_only_order_has_a_download_consignment_and_no_shipping(bc: Sim) -> None:
    oid = bc.sim.create_order(lines=[{"sku": "SKU-0103", "name": "E-book", "quantity": 1,
                                      "price": "9.00", "type": "digital"}],
                              email="reader@example.org")["id"]
    order = _order(bc, oid, **EMBED)
    consignments = order["consignments"]
    assert consignments["shipping"] == [] and order["order_is_digital"] is True
    (download,) = consignments["downloads"]
    assert download["recipient_email"] == "reader@example.org"
    assert [i["type"] for i in download["line_items"]] == ["digital"]
    assert order["shipping_address_count"] == 0
    assert bc.get(f"{bc.v2}/orders/{oid}/shipping_addresses").status_code == 204
