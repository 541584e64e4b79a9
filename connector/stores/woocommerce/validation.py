"""Business validation of a WooCommerce order: what stops it from becoming an IFS customer order.

The problems are phrased for an operator ("line 2 (Mug) has no SKU"); the payload's *shape* was
already checked by :func:`connector.stores.woocommerce.schemas.parse_woo_order`.
"""

from __future__ import annotations

from collections.abc import Collection

from connector.stores.schemas import is_valid_email
from connector.stores.woocommerce.data import WooOrder

__all__ = ["validate_woo_order"]


def _line_name(index: int, name: str) -> str:
    return f"line {index}" + (f" ({name})" if name else "")


def validate_woo_order(
    order: WooOrder,
    *,
    allowed_currencies: Collection[str] = (),
    require_email: bool = False,
) -> list[str]:
    """Business problems that stop this order from becoming an IFS customer order, in plain
    words; empty when the order can go ahead.

    ``allowed_currencies`` empty means "any". A billing e-mail is always required for guest
    orders (it is the only way to identify the buyer) and for every order when
    ``require_email`` is set.
    """
    problems: list[str] = []
    if allowed_currencies and order.currency.upper() not in {c.upper() for c in
                                                             allowed_currencies}:
        allowed = ", ".join(sorted(allowed_currencies))
        problems.append(f"currency {order.currency or '(none)'} is not one of the allowed "
                        f"currencies ({allowed})")
    email = order.billing.email.strip()
    if not email:
        if require_email or order.is_guest:
            problems.append("billing e-mail is missing")
    elif not is_valid_email(email):
        problems.append(f"billing e-mail {email!r} is not a valid address")
    if not order.line_items:
        problems.append("the order has no product lines")
    for index, line in enumerate(order.line_items, start=1):
        where = _line_name(index, line.name)
        if not line.sku.strip():
            problems.append(f"{where} has no SKU")
        if line.quantity < 0:
            problems.append(f"quantity {line.quantity} on {where} is negative")
        elif line.quantity == 0:
            problems.append(f"quantity on {where} is zero")
        if line.total < 0:
            problems.append(f"total {line.total} on {where} is negative")
    if order.total < 0:
        problems.append(f"order total {order.total} is negative")
    return problems
