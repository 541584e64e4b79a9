"""The ``/v2/orders`` query of the BigCommerce simulator (and ``/count``): §2 filters and sort."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.bigcommerce.orders import Order
from sandbox.bigcommerce.responses import _bool_arg, _date_arg, _int_arg, _sort_spec

__all__ = ["query_orders"]


def query_orders(orders: Iterable[Order], args: Any) -> list[Order]:
    """§2 filters and sort over ``/v2/orders`` (and ``/count``)."""
    min_id, max_id = _int_arg(args, "min_id"), _int_arg(args, "max_id")
    customer_id = _int_arg(args, "customer_id")
    status_id = _int_arg(args, "status_id")
    channel_id = _int_arg(args, "channel_id")
    email = (args.get("email") or "").lower() or None
    min_c, max_c = _date_arg(args, "min_date_created"), _date_arg(args, "max_date_created")
    min_m, max_m = _date_arg(args, "min_date_modified"), _date_arg(args, "max_date_modified")
    is_deleted = _bool_arg(args, "is_deleted")
    sort_field, desc = _sort_spec(
        args.get("sort"),
        ("id", "customer_id", "date_created", "date_modified", "status_id", "channel_id"),
        "id:asc",
    )
    out = []
    for o in orders:
        # Archived and Incomplete (0) orders are hidden unless asked for (§2).
        if o.is_deleted != bool(is_deleted):
            continue
        if status_id is None and o.status_id == 0:
            continue
        if status_id is not None and o.status_id != status_id:
            continue
        if (min_id is not None and o.id < min_id) or (max_id is not None and o.id > max_id):
            continue
        if customer_id is not None and o.customer_id != customer_id:
            continue
        if channel_id is not None and o.channel_id != channel_id:
            continue
        if email is not None and str(o.billing_address.get("email", "")).lower() != email:
            continue
        if (min_c and o.date_created < min_c) or (max_c and o.date_created > max_c):
            continue
        if (min_m and o.date_modified < min_m) or (max_m and o.date_modified > max_m):
            continue
        out.append(o)
    if sort_field == "id":
        # Orders are stored in id order already.
        return out[::-1] if desc else out
    out.sort(key=lambda o: (getattr(o, sort_field), o.id), reverse=desc)
    return out
