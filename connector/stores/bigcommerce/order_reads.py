"""Which BigCommerce requests an order costs (issue 14, store budget: at most 2 per
webhook-driven order; ``reference/bigcommerce.md`` §2, §3).

* ``embedded`` (the default ``bc_order_reads``): the order is read with its consignments and fee
  lines embedded (one request, :mod:`~connector.stores.bigcommerce.consignments`); its products
  are read separately (``/products``, paged) only when the embed is absent, truncated at 50
  lines per consignment, or does not add up to ``items_total``; its shipping addresses come
  from the shipping consignments.
* ``sub_resources``: the pre-issue-14 reads, one request each for the order, its products, its
  shipping addresses (and fees when only linked) and its transactions: for a store where the
  embed misbehaves.

Transactions (v3, one request) are read only when a plan needs them: the payment voucher is the
only record built from them, so they are read when the tenant has a ``payment`` posting rule
(or ``bc_read_transactions=always``, or in ``sub_resources`` mode). Without the rule, captured
payments are not staged at all; after adding the rule, ``sync --order ID`` / ``backfill``
re-read the orders concerned and stage their payments.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connector.models import Source, Tenant
from connector.stores.bigcommerce.client import BigCommerceClient
from connector.stores.bigcommerce.consignments import (
    embedded_lines,
    embedded_shipping_addresses,
    has_consignments,
)
from connector.stores.bigcommerce.settings import setting

__all__ = ["MODES", "OrderReads", "order_reads", "read_order", "read_order_parts"]

log = logging.getLogger(__name__)

MODES = ("embedded", "sub_resources")
TRANSACTION_MODES = ("auto", "always")


@dataclass(frozen=True, slots=True)
class OrderReads:
    """What to read per order: ``embedded`` (consignments in the order request) and
    ``transactions`` (the v3 transactions of each order)."""

    embedded: bool = True
    transactions: bool = True


def _choice(tenant: Tenant, source: Source, name: str, allowed: tuple[str, ...],
            fallback: str) -> str:
    default = allowed[0]
    value = str(setting(tenant, source, name, default) or default).strip().lower()
    if value not in allowed:
        # Never a lost record over a typo: the complete (older, costlier) reads.
        log.warning("source %s: %s is %r, not one of %s; using %s", source.name, name, value,
                    ", ".join(allowed), fallback)
        return fallback
    return value


def order_reads(tenant: Tenant, source: Source) -> OrderReads:
    """The reads of this tenant's source (settings ``bc_order_reads``,
    ``bc_read_transactions``; module docstring)."""
    mode = _choice(tenant, source, "bc_order_reads", MODES, "sub_resources")
    txns = _choice(tenant, source, "bc_read_transactions", TRANSACTION_MODES, "always")
    rules: Mapping[str, Any] = tenant.posting_rules or {}
    needed = isinstance(rules, Mapping) and isinstance(rules.get("payment"), Mapping)
    return OrderReads(embedded=mode == "embedded",
                      transactions=mode == "sub_resources" or txns == "always" or needed)


def read_order(client: BigCommerceClient, order_id: int, reads: OrderReads) -> dict[str, Any]:
    """``GET /v2/orders/{id}``, with the embed when ``reads.embedded``."""
    return client.get_order(order_id, embed=reads.embedded)


def read_order_parts(client: BigCommerceClient, order: Mapping[str, Any],
                     reads: OrderReads) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The order's product lines and shipping addresses: from its embedded consignments when
    they are complete, else from ``/products`` and ``/shipping_addresses``."""
    oid = int(order["id"])
    if not reads.embedded:
        return client.get_order_products(oid), client.get_shipping_addresses(oid)
    lines = embedded_lines(order)
    if lines is None:
        if has_consignments(order):
            log.info("order %s: embedded line items incomplete (capped at 50 per consignment, "
                     "or not adding up to items_total); reading /products", oid)
        lines = client.get_order_products(oid)
    addresses = embedded_shipping_addresses(order)
    if addresses is None:
        addresses = client.get_shipping_addresses(oid)
    return lines, addresses
