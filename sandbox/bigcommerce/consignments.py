"""Order includes of the BigCommerce simulator (§2): ``include=consignments``,
``consignments.line_items`` and ``fees`` on ``GET /v2/orders`` and ``/v2/orders/{id}``, with
``consignment_structure=object`` (orders.v2.oas2.yml ``order_includes``,
``consignment_structure``, ``orderConsignment_Get``).

* ``consignments``: the object ``{pickups, shipping, downloads, email: {gift_certificates}}``;
  physical lines are in one shipping consignment (the order's shipping address, id
  ``order_address_id``), digital lines in one download consignment. Line items are resource
  links, or full ``/products`` rows with ``consignments.line_items``.
* At most :data:`EMBED_CAP` line items per consignment; a longer one is cut there and carries
  ``__warning__`` (bigcommerce/docs issue 960, as real BigCommerce does on the list).
* Without ``consignment_structure=object`` the legacy "array structure" is sent; its shape is
  undocumented, the simulator wraps the object in a one-element array.
* Without ``include=fees`` the order's ``fees`` is the sub-resource link.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.bigcommerce.orders import Order, OrderLine

__all__ = ["EMBED_CAP", "WARNING", "Includes", "parse_includes", "render_with_includes"]

EMBED_CAP = 50
WARNING = (
    "Not all line items of this consignment are returned with this response, only 50 are "
    "included. Please use the `/v2/orders/{order_id}/products` endpoint to fetch all line items."
)


@dataclass(frozen=True)
class Includes:
    consignments: bool = False
    line_items: bool = False
    fees: bool = False
    object_structure: bool = False


def parse_includes(args: Mapping[str, str]) -> Includes:
    """``include`` is a comma-separated list (``style: form, explode: false``); unknown values
    are ignored."""
    wanted = {part.strip() for part in (args.get("include") or "").split(",") if part.strip()}
    line_items = "consignments.line_items" in wanted
    return Includes(
        consignments=line_items or "consignments" in wanted,
        line_items=line_items,
        fees="fees" in wanted,
        object_structure=(args.get("consignment_structure") or "") == "object",
    )


def _link(base: str, resource: str) -> dict[str, str]:
    return {"url": f"{base}{resource}", "resource": resource}


def _line_items(order: Order, lines: list[OrderLine], base: str, full: bool) -> dict[str, Any]:
    """``line_items`` (capped) and the warning when the cap cut them."""
    shown = lines[:EMBED_CAP]
    items = [ln.render() if full else _link(base, f"/orders/{order.id}/products/{ln.id}")
             for ln in shown]
    out: dict[str, Any] = {"line_items": items}
    if len(lines) > EMBED_CAP:
        out["__warning__"] = {"message": WARNING}
    return out


def _number(value: Any) -> float:
    return float(value)


def render_consignments(order: Order, base: str, full: bool) -> dict[str, Any]:
    """The ``orderConsignment_Get`` object of ``order``."""
    physical = [ln for ln in order.lines if ln.type != "digital"]
    digital = [ln for ln in order.lines if ln.type == "digital"]
    shipping = []
    if physical:
        t = order.totals()
        address = {k: v for k, v in order.shipping_address.items() if k != "id"}
        quotes = (f"/orders/{order.id}/consignments/shipping/{order.order_address_id}"
                  "/shipping_quotes")
        shipping.append({
            "id": order.order_address_id,
            **address,
            "form_fields": [],
            "shipping_method": order.shipping_method,
            **_line_items(order, physical, base, full),
            "items_total": sum(ln.quantity for ln in physical),
            "items_shipped": sum(ln.quantity_shipped for ln in physical),
            "base_cost": _number(t["shipping_cost_ex_tax"]),
            "cost_ex_tax": _number(t["shipping_cost_ex_tax"]),
            "cost_inc_tax": _number(t["shipping_cost_inc_tax"]),
            "cost_tax": _number(t["shipping_cost_tax"]),
            "cost_tax_class_id": 2,
            "base_handling_cost": 0.0,
            "handling_cost_ex_tax": 0.0,
            "handling_cost_inc_tax": 0.0,
            "handling_cost_tax": 0.0,
            "handling_cost_tax_class_id": 2,
            "shipping_zone_id": 1,
            "shipping_zone_name": "Default",
            "shipping_quotes": _link(base, quotes),
        })
    downloads = []
    if digital:
        downloads.append({"recipient_email": order.billing_address.get("email", ""),
                          **_line_items(order, digital, base, full)})
    return {"pickups": [], "shipping": shipping, "downloads": downloads,
            "email": {"gift_certificates": []}}


def render_with_includes(order: Order, rendered: dict[str, Any], base: str,
                         includes: Includes) -> dict[str, Any]:
    """``rendered`` (the plain v2 order) with what ``includes`` asks for."""
    out = dict(rendered)
    if not includes.fees:
        out["fees"] = _link(base, f"/orders/{order.id}/fees")
    if includes.consignments:
        embedded = render_consignments(order, base, includes.line_items)
        out["consignments"] = embedded if includes.object_structure else [embedded]
    else:
        out["consignments"] = _link(base, f"/orders/{order.id}/consignments")
    return out
