"""Business validation of BigCommerce orders: what stops an order from reaching IFS, in plain
words (shape problems are the schemas' :class:`~connector.stores.schemas.InvalidPayload`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from connector.stores.bigcommerce.order_schemas import BcOrder, BcOrderProduct
from connector.stores.schemas import is_valid_email

__all__ = ["validate_bc_order"]


def validate_bc_order(
    order: BcOrder,
    lines: Sequence[BcOrderProduct] | None = None,
    *,
    allowed_currencies: Collection[str] = (),
    require_email: bool = True,
) -> list[str]:
    """Business problems that stop this order from reaching IFS, in plain words (empty = ok).

    ``lines`` are the order's product lines when already fetched (``None`` skips line checks).
    The transactional currency (``default_currency_code``) is what is checked against
    ``allowed_currencies`` (empty = any). A billing e-mail is required when ``require_email``
    is set (IFS customers are matched by e-mail, bc decision 6) and always for guests.
    """
    problems: list[str] = []
    if order.status_id == 0:
        problems.append("the order is Incomplete (status 0): the shopper never finished checkout")
    if order.is_deleted:
        problems.append("the order is archived in BigCommerce")
    if allowed_currencies and order.currency.upper() not in {c.upper() for c in
                                                             allowed_currencies}:
        allowed = ", ".join(sorted(allowed_currencies))
        problems.append(f"currency {order.currency or '(none)'} is not one of the allowed "
                        f"currencies ({allowed})")
    email = order.billing_address.email.strip()
    if not email:
        if require_email or order.is_guest:
            problems.append("billing e-mail is missing")
    elif not is_valid_email(email):
        problems.append(f"billing e-mail {email!r} is not a valid address")
    if order.total_inc_tax < 0:
        problems.append(f"order total {order.total_inc_tax} is negative")
    if lines is not None:
        if not lines:
            problems.append("the order has no product lines")
        for index, line in enumerate(lines, start=1):
            where = f"line {index}" + (f" ({line.name})" if line.name else "")
            if not line.sku.strip():
                problems.append(f"{where} has no SKU")
            if line.quantity < 0:
                problems.append(f"quantity {line.quantity} on {where} is negative")
            elif line.quantity == 0:
                problems.append(f"quantity on {where} is zero")
            if line.order_id and line.order_id != order.id:
                problems.append(f"{where} belongs to order {line.order_id}, not {order.id}")
    return problems
