"""BigCommerce store events → IFS GL vouchers: pure functions from a captured payment, a
shipment or a refund (``reference/bigcommerce.md`` §3) to one balanced voucher plan following
the tenant's posting rules (issue 5 §5, ``reference/ifs-cloud.md`` §6). No I/O.

Amounts are in the order's **transactional** currency, ``default_currency_code`` (bc §2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from connector.stores.bigcommerce.order_schemas import BcOrderProduct
from connector.stores.bigcommerce.voucher_schemas import BcRefund, BcShipment, BcTransaction
from connector.stores.mapping import MappingContext, MappingError, po_number, q2

__all__ = [
    "EVENTS",
    "VOUCHER_TEXT_MAX",
    "bc_payment_to_voucher",
    "bc_refund_to_voucher",
    "bc_shipment_to_voucher",
    "shipment_value",
    "voucher_text",
]

#: Store events that become vouchers, in the order they happen to an order. A later event's
#: order label outranks an earlier one's (a refunded order stays "refunded" even when its
#: shipment is processed afterwards).
EVENTS = ("payment", "shipment", "refund")
#: ``VoucherText2`` length in the IFS voucher wizard (sandbox/ifs/model.py, 200).
VOUCHER_TEXT_MAX = 200
LABEL_MAX = 50  # CustomerOrder.LabelNote
_CODE_PARTS = "BCDEFGHIJ"  # posting dimensions CodeB…CodeJ (ifs-cloud.md §6)
_EVENT_WORDS = {"payment": "payments", "shipment": "shipments", "refund": "refunds"}



def voucher_text(store_hash: str, event: str, event_id: int | str) -> str:
    """The voucher's natural key (``VoucherText2``): ``bc:{store}:{event}:{id}``, looked up
    before creating so one store event never posts twice (ifs-cloud.md Decisions 6)."""
    text = f"bc:{store_hash}:{event}:{event_id}"
    if len(text) > VOUCHER_TEXT_MAX:
        raise MappingError([f"voucher text {text[:40]}… is longer than IFS allows "
                            f"({VOUCHER_TEXT_MAX})"])
    return text


def _code_name(name: str) -> str | None:
    part = name.strip().removeprefix("Code")
    if len(part) == 1 and part.upper() in _CODE_PARTS:
        return f"Code{part.upper()}"
    return None


def _rule(event: str, rules: Mapping[str, Any]) -> tuple[str, str, str, dict[str, str]]:
    """(debit account, credit account, voucher type, dimensions) of the tenant's posting rule
    for ``event``, or a :class:`MappingError` an operator can act on."""
    how = ("set it with `ml-connector tenant set <tenant> --posting-rules FILE` (e.g. "
           f'{{"{event}": {{"debit": "1930", "credit": "2990", "voucher_type": "M"}}}}), '
           "then replay")
    rule = rules.get(event) if isinstance(rules, Mapping) else None
    if not isinstance(rule, Mapping):
        raise MappingError([f"the tenant has no posting rule for BigCommerce "
                            f"{_EVENT_WORDS.get(event, event)}; {how}"])
    problems = []
    values: dict[str, str] = {}
    for name in ("debit", "credit", "voucher_type"):
        value = rule.get(name)
        if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
            word = {"debit": "debit account", "credit": "credit account",
                    "voucher_type": "voucher type"}[name]
            problems.append(f"the posting rule for {_EVENT_WORDS.get(event, event)} has no "
                            f"{word}; {how}")
        else:
            values[name] = str(value).strip()
    dimensions: dict[str, str] = {}
    raw = rule.get("dimensions") or {}
    if not isinstance(raw, Mapping):
        problems.append(f"the posting rule for {_EVENT_WORDS.get(event, event)} has "
                        "dimensions that are not an object of CodeB … CodeJ values")
        raw = {}
    for key, value in raw.items():
        code = _code_name(str(key))
        if code is None:
            problems.append(f"the posting rule for {_EVENT_WORDS.get(event, event)} names an "
                            f"unknown dimension {key!r}: use CodeB … CodeJ")
        elif value not in (None, ""):
            dimensions[code] = str(value)[:20]
    if values.get("debit") and values.get("debit") == values.get("credit"):
        problems.append(f"the posting rule for {_EVENT_WORDS.get(event, event)} debits and "
                        "credits the same account")
    if problems:
        raise MappingError(problems)
    return values["debit"], values["credit"], values["voucher_type"], dimensions


def _label_update(event: str, order_id: int, labels: Mapping[str, str] | None
                  ) -> dict[str, Any] | None:
    value = (labels or {}).get(event)
    if not value:
        return None
    later = EVENTS[EVENTS.index(event) + 1:]
    return {"order_external_id": str(order_id), "value": str(value)[:LABEL_MAX],
            "outranked_by": [str(labels[e])[:LABEL_MAX] for e in later
                             if labels and labels.get(e)]}


def _voucher_plan(*, event: str, event_id: int, order_id: int, amount: Decimal, currency: str,
                  when: datetime | None, what: str, ctx: MappingContext,
                  rules: Mapping[str, Any], store_hash: str,
                  labels: Mapping[str, str] | None) -> dict[str, Any]:
    problems: list[str] = []
    currency = currency.upper()
    if not currency:
        problems.append(f"{what} has no currency")
    elif currency not in ctx.allowed_currencies:
        problems.append(f"{what}: currency {currency} is not one this tenant accepts "
                        f"({', '.join(ctx.allowed_currencies)})")
    if amount < 0:
        problems.append(f"{what} has a negative amount ({amount})")
    if when is None:
        problems.append(f"{what} has no date")
    if problems:
        raise MappingError(problems)
    debit, credit, voucher_type, dimensions = _rule(event, rules)
    assert when is not None
    value = q2(amount)
    text = voucher_text(store_hash, event, event_id)
    row_text = f"BigCommerce order {order_id} {event} {event_id}"[:200]
    rows = [] if not value else [
        {"account": debit, "debit": str(value), "codes": dimensions, "text": row_text},
        {"account": credit, "credit": str(value), "codes": dimensions, "text": row_text},
    ]
    plan: dict[str, Any] = {
        "kind": "voucher",
        "event": event,
        "event_id": str(event_id),
        "text": text,
        "company": ctx.company,
        "voucher_type": voucher_type,
        "voucher_date": when.date().isoformat(),
        "currency": currency,
        "amount": str(value),
        "rows": rows,
        "order": {"external_id": str(order_id), "customer_po_no": po_number(ctx.prefix,
                                                                             order_id)},
        "label": _label_update(event, order_id, labels),
    }
    # IFS requests of the load (reserved before it starts, so it never stops half-way for
    # budget): voucher lookup, temporary header, one per row, CreateVoucher; label GET + PATCH.
    # One change set for the voucher, one PATCH of the order label (with the stored ETag).
    plan["ifs_requests"] = (1 if rows else 0) + (1 if plan["label"] else 0) or 1
    if not value:
        plan["skip_reason"] = f"{what} has a zero amount: nothing to post"
    return plan


def _order_currency(what: str, order_currency: str, event_currency: str) -> str:
    if event_currency and order_currency and event_currency.upper() != order_currency.upper():
        raise MappingError([f"{what} is in {event_currency.upper()} but the order's "
                            f"transactional currency is {order_currency.upper()}"])
    return order_currency or event_currency


def bc_payment_to_voucher(txn: BcTransaction, *, order_currency: str, ctx: MappingContext,
                          rules: Mapping[str, Any], store_hash: str) -> dict[str, Any]:
    """A captured payment (a ``capture`` or ``purchase`` transaction with status ``ok``, bc §3)
    → one voucher for the transaction amount (posting rule ``payment``)."""
    what = f"payment {txn.id} of order {txn.order_id}"
    if txn.event not in ("capture", "purchase") or txn.status != "ok":
        raise MappingError([f"{what} is a {txn.event} with status {txn.status or '?'}; only "
                            "captured payments are posted"])
    currency = _order_currency(what, order_currency, txn.currency)
    return _voucher_plan(event="payment", event_id=txn.id, order_id=txn.order_id,
                         amount=txn.amount, currency=currency, when=txn.date_created, what=what,
                         ctx=ctx, rules=rules, store_hash=store_hash, labels=None)


def shipment_value(shipment: BcShipment, products: Sequence[BcOrderProduct]) -> Decimal:
    """The ex-tax value of the shipped items: each item's unit ``price_ex_tax`` less its share of
    the line's ``applied_discounts``, times the quantity shipped (bc §2)."""
    by_id = {p.id: p for p in products}
    problems: list[str] = []
    value = Decimal(0)
    for item in shipment.items:
        product = by_id.get(item.order_product_id)
        if product is None:
            problems.append(f"shipment {shipment.id} ships order product "
                            f"{item.order_product_id}, which is not on order "
                            f"{shipment.order_id}")
            continue
        if product.quantity <= 0:
            problems.append(f"order product {product.id} ({product.name}) has quantity "
                            f"{product.quantity}")
            continue
        discount = sum((d.amount for d in product.applied_discounts), Decimal(0))
        unit = product.price_ex_tax - discount / product.quantity
        value += unit * item.quantity
    if problems:
        raise MappingError(problems)
    return value


def bc_shipment_to_voucher(shipment: BcShipment, products: Sequence[BcOrderProduct], *,
                           order_currency: str, ctx: MappingContext,
                           rules: Mapping[str, Any], store_hash: str,
                           labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A shipment → the revenue recognition voucher: the shipped items' ex-tax value from the
    order's product lines (posting rule ``shipment``), plus the order label update when the
    tenant maps one."""
    what = f"shipment {shipment.id} of order {shipment.order_id}"
    if not shipment.items:
        raise MappingError([f"{what} has no items"])
    return _voucher_plan(event="shipment", event_id=shipment.id, order_id=shipment.order_id,
                         amount=shipment_value(shipment, products), currency=order_currency,
                         when=shipment.date_created, what=what, ctx=ctx, rules=rules,
                         store_hash=store_hash, labels=labels)


def bc_refund_to_voucher(refund: BcRefund, *, order_currency: str, ctx: MappingContext,
                         rules: Mapping[str, Any], store_hash: str,
                         labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A refund → the revenue reversal voucher for the refund's ``total_amount`` (partial
    refunds post what was refunded; posting rule ``refund``), plus the order label update."""
    what = f"refund {refund.id} of order {refund.order_id}"
    if refund.total_amount <= 0:
        raise MappingError([f"{what} has no amount ({refund.total_amount})"])
    return _voucher_plan(event="refund", event_id=refund.id, order_id=refund.order_id,
                         amount=refund.total_amount, currency=order_currency,
                         when=refund.created, what=what, ctx=ctx, rules=rules,
                         store_hash=store_hash, labels=labels)
