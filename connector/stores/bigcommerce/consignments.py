"""An order's lines and shipping addresses from its embedded consignments
(``GET /v2/orders[/{id}]?include=consignments.line_items,fees&consignment_structure=object``,
``reference/bigcommerce.md`` §2), so one request reads what used to take three. Pure functions.

The embedded ``consignments`` object (orders.v2.oas2.yml ``orderConsignment_Get``) holds
``pickups[]``, ``shipping[]``, ``downloads[]`` (digital products) and
``email.gift_certificates[]``; each consignment carries ``line_items`` (full
``/orders/{id}/products`` rows with ``include=consignments.line_items``, resource links with
plain ``include=consignments``). A shipping consignment is also the shipping address (the
``/shipping_addresses`` fields: name, street, city, ``country_iso2``, ``shipping_method``, costs).

The embed is trusted only when it is provably complete; otherwise the caller reads
``/orders/{id}/products`` (paged), so a line is never lost:

* BigCommerce caps a consignment's embedded line items at 50 and then adds
  ``"__warning__": {"message": "Not all line items of this consignment are returned …"}``
  (bigcommerce/docs issue 960, undocumented in the spec): a warning, or a consignment with 50 or
  more embedded lines (the cap reached, warning or not), means "read the products";
* line items that are links, not rows, or a consignment of an unexpected shape;
* the embedded quantities must add up to the order's ``items_total``: orders have been seen
  whose embedded line items are empty although the products are not (bigcommerce/dev-docs
  issue 2052). That ``items_total`` is the sum of the quantities is inferred (the spec says
  "the total number of items in the order"; ``items_shipped`` counts shipped quantities); a
  store where it is not only costs the ``/products`` request;
* no ``consignments`` object at all (the include ignored, the legacy array structure).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "EMBED_CAP",
    "ORDER_INCLUDE",
    "embedded_lines",
    "embedded_shipping_addresses",
    "has_consignments",
]

#: Query parameters that embed consignments with their line items, and the fee lines (the
#: ``object`` structure; the default array structure is legacy, orders.v2.oas2.yml).
ORDER_INCLUDE = {"include": "consignments.line_items,fees", "consignment_structure": "object"}
#: Embedded line items per consignment BigCommerce returns at most (bigcommerce/docs #960).
EMBED_CAP = 50
WARNING_KEY = "__warning__"

Row = dict[str, Any]


def has_consignments(order: Mapping[str, Any]) -> bool:
    """True when the order carries the embedded consignments object (not a link or the legacy
    array)."""
    consignments = order.get("consignments")
    return isinstance(consignments, Mapping) and "url" not in consignments


def _consignments(order: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    """Every consignment of the order, or None when the shape is not the documented one."""
    if not has_consignments(order):
        return None
    raw = order["consignments"]
    out: list[Mapping[str, Any]] = []
    for kind in ("shipping", "pickups", "downloads"):
        group = raw.get(kind) or []
        if not isinstance(group, list):
            return None
        out.extend(group)
    email = raw.get("email") or {}
    if not isinstance(email, Mapping):
        return None
    certificates = email.get("gift_certificates") or []
    if not isinstance(certificates, list):
        return None
    out.extend(certificates)
    if not all(isinstance(c, Mapping) for c in out):
        return None
    return out


def _quantity(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


def embedded_lines(order: Mapping[str, Any]) -> list[Row] | None:
    """The order's product lines from its consignments, or None when the embed is absent,
    truncated or does not add up (then read ``/orders/{id}/products``; module docstring)."""
    consignments = _consignments(order)
    if not consignments:
        return None
    lines: dict[int, Row] = {}
    for consignment in consignments:
        if WARNING_KEY in consignment:
            return None
        items = consignment.get("line_items")
        if not isinstance(items, list) or len(items) >= EMBED_CAP:
            return None
        for item in items:
            if not isinstance(item, Mapping) or "quantity" not in item:
                return None  # a resource link, not a line
            line_id = _quantity(item.get("id"))
            if line_id is None:
                return None
            lines[line_id] = dict(item)
    if not lines:
        return None
    total = sum(_quantity(line.get("quantity")) or 0 for line in lines.values())
    expected = _quantity(order.get("items_total"))
    if expected is None or total != expected:
        return None
    return [lines[k] for k in sorted(lines)]


def embedded_shipping_addresses(order: Mapping[str, Any]) -> list[Row] | None:
    """The shipping consignments as ``/shipping_addresses`` rows (their line items and quote
    links dropped), or None when the order carries no consignments object. An order without
    shipping consignments (digital only, picked up) has none: ``[]``."""
    if not has_consignments(order):
        return None
    group = order["consignments"].get("shipping") or []
    if not isinstance(group, list):
        return None
    out = []
    for consignment in group:
        if isinstance(consignment, Mapping):
            row = {k: v for k, v in consignment.items()
                   if k not in ("line_items", "shipping_quotes", WARNING_KEY)}
            out.append({"order_id": order.get("id"), **row})
    return out
