"""The BigCommerce simulator's store and its mutations; each mutation returns the
webhook events it implies (§5). Knows nothing about HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sandbox.bigcommerce.customers import Customer, CustomerAddress
from sandbox.bigcommerce.model import (
    ORDER_STATUSES,
    ZERO,
    BcError,
    Event,
    number,
    order_event,
    q2,
    status_event,
)
from sandbox.bigcommerce.orders import Order, OrderLine, Shipment
from sandbox.bigcommerce.payments import Refund, Transaction

# --------------------------------------------------------------------------- the store


@dataclass
class Counters:
    customer: int = 0
    address: int = 0
    order: int = 99  # BC order ids start at 100
    line: int = 0
    order_address: int = 0
    shipment: int = 0
    transaction: int = 0
    refund: int = 0
    payment: int = 0

    def next(self, name: str) -> int:
        value = int(getattr(self, name)) + 1
        setattr(self, name, value)
        return value


class BcStore:
    """The simulated store's records. All access holds ``lock`` (the simulator's RLock).

    Mutations take ``now`` (the simulator clock) and return the webhook events they fire; the
    caller hands those to the webhook dispatcher.
    """

    def __init__(self, lock: threading.RLock, default_currency: str = "USD") -> None:
        self.lock = lock
        self.default_currency = default_currency
        self.customers: dict[int, Customer] = {}
        self.orders: dict[int, Order] = {}
        self.ids = Counters()

    def clear(self) -> None:
        with self.lock:
            self.customers.clear()
            self.orders.clear()
            self.ids = Counters()

    # ----------------------------------------------------------------- lookups

    def order(self, order_id: int) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise BcError(404, "The requested resource was not found.")
        return order

    def customer(self, customer_id: int) -> Customer:
        customer = self.customers.get(customer_id)
        if customer is None:
            raise BcError(404, "The requested resource was not found.")
        return customer

    def all_refunds(self) -> Iterable[Refund]:
        for order in self.orders.values():
            yield from order.refunds

    # ----------------------------------------------------------------- customers

    def add_customer(
        self,
        *,
        now: datetime,
        email: str,
        first_name: str,
        last_name: str,
        company: str = "",
        phone: str = "",
        customer_group_id: int = 0,
        address: dict[str, Any] | None = None,
        date_created: datetime | None = None,
    ) -> tuple[Customer, list[Event]]:
        if not email or "@" not in email:
            raise BcError(422, "email is invalid", {"email": "error.email.invalid"})
        if any(c.email.lower() == email.lower() for c in self.customers.values()):
            raise BcError(409, f"The email {email} is already in use.", {"email": "duplicate"})
        cid = self.ids.next("customer")
        created = date_created or now
        customer = Customer(
            id=cid,
            email=email,
            first_name=first_name,
            last_name=last_name,
            company=company,
            phone=phone,
            customer_group_id=customer_group_id,
            date_created=created,
            date_modified=created,
        )
        if address:
            customer.addresses.append(
                CustomerAddress(
                    id=self.ids.next("address"),
                    customer_id=cid,
                    first_name=first_name,
                    last_name=last_name,
                    company=company,
                    address1=str(address.get("address1", "")),
                    address2=str(address.get("address2", "")),
                    city=str(address.get("city", "")),
                    state_or_province=str(address.get("state_or_province", "")),
                    postal_code=str(address.get("postal_code", "")),
                    country_code=str(address.get("country_code", "US")),
                    phone=phone,
                )
            )
        self.customers[cid] = customer
        return customer, [("store/customer/created", {"type": "customer", "id": cid})]

    def update_customer(
        self, customer_id: int, *, now: datetime, fields: dict[str, Any]
    ) -> tuple[Customer, list[Event]]:
        customer = self.customer(customer_id)
        allowed = {"email", "first_name", "last_name", "company", "phone", "customer_group_id"}
        unknown = set(fields) - allowed
        if unknown:
            raise BcError(422, f"unknown customer fields {sorted(unknown)}")
        for key, value in fields.items():
            setattr(customer, key, value)
        customer.date_modified = max(now, customer.date_modified)
        return customer, [("store/customer/updated", {"type": "customer", "id": customer_id})]

    # ----------------------------------------------------------------- orders

    def add_order(
        self,
        *,
        now: datetime,
        customer_id: int,
        billing_address: dict[str, Any],
        lines: list[dict[str, Any]],
        currency_code: str,
        default_currency_code: str,
        status_id: int,
        tax_rate: Decimal,
        shipping_cost_ex_tax: Decimal,
        payment_method: str = "Credit Card",
        channel_id: int = 1,
        date_created: datetime | None = None,
        customer_message: str = "",
        staff_notes: str = "",
        handling_cost_ex_tax: Decimal = Decimal("0"),
        wrapping_cost_ex_tax: Decimal = Decimal("0"),
        fees: list[dict[str, Any]] | None = None,
        store_credit_amount: Decimal = Decimal("0"),
        gift_certificate_amount: Decimal = Decimal("0"),
    ) -> tuple[Order, list[Event]]:
        """Create an order. ``lines`` items: product_id, name, sku, quantity, price (ex tax;
        4 dp with ``precise``, else cents), optional variant_id and discount (ex-tax amount on
        that line). ``fees``: ``{"display_name", "cost_ex_tax"}`` each."""
        if customer_id and customer_id not in self.customers:
            raise BcError(422, f"customer {customer_id} does not exist")
        if status_id not in ORDER_STATUSES:
            raise BcError(422, f"unknown status_id {status_id}")
        if not lines:
            raise BcError(422, "an order needs at least one product line")
        oid = self.ids.next("order")
        created = date_created or now
        ship_addr_id = self.ids.next("order_address")
        shipping_address = {
            "id": ship_addr_id,
            **{k: v for k, v in billing_address.items() if k != "form_fields"},
        }
        order = Order(
            id=oid,
            customer_id=customer_id,
            date_created=created,
            date_modified=created,
            status_id=status_id,
            currency_code=currency_code,
            default_currency_code=default_currency_code,
            store_default_currency_code=self.default_currency,
            billing_address=dict(billing_address),
            shipping_address=shipping_address,
            tax_rate=tax_rate,
            shipping_cost_ex_tax=q2(shipping_cost_ex_tax),
            payment_method=payment_method,
            channel_id=channel_id,
            customer_message=customer_message,
            staff_notes=staff_notes,
            cart_id=f"cart-{oid:08d}",
            handling_cost_ex_tax=q2(handling_cost_ex_tax),
            wrapping_cost_ex_tax=q2(wrapping_cost_ex_tax),
            fees=[{**f, "cost_ex_tax": q2(f["cost_ex_tax"])} for f in fees or []],
            store_credit_amount=q2(store_credit_amount),
            gift_certificate_amount=q2(gift_certificate_amount),
        )
        for spec in lines:
            quantity = int(spec.get("quantity", 1))
            # BigCommerce keeps unit prices at 4 dp (bulk items can cost 0.0033 each).
            price = (Decimal(str(spec.get("price", "0"))).quantize(Decimal("0.0001"))
                     if spec.get("precise") else q2(spec.get("price", "0")))
            if quantity < 1 or price < 0:
                raise BcError(422, "line quantity must be >= 1 and price >= 0")
            kind = str(spec.get("type", "physical"))
            if kind not in ("physical", "digital"):
                raise BcError(422, "line type must be physical or digital")
            line = OrderLine(
                id=self.ids.next("line"),
                order_id=oid,
                product_id=int(spec.get("product_id", 0)),
                variant_id=int(spec.get("variant_id", spec.get("product_id", 0))),
                name=str(spec.get("name", "Product")),
                sku=str(spec.get("sku", "")),
                quantity=quantity,
                price_ex_tax=price,
                tax_rate=tax_rate,
                order_address_id=0 if kind == "digital" else ship_addr_id,
                discount=q2(spec.get("discount", "0")),
                type=kind,
            )
            if line.discount > line.total_ex_tax:
                raise BcError(422, "a line discount cannot exceed the line total")
            order.lines.append(line)
        self.orders[oid] = order
        return order, [order_event("store/order/created", oid)]

    def _touch(self, order: Order, now: datetime, new_status: int | None) -> list[Event]:
        """Bump ``date_modified``; return updated (+ statusUpdated when the status changes)."""
        order.date_modified = max(now, order.date_modified)
        events = [order_event("store/order/updated", order.id)]
        if new_status is not None and new_status != order.status_id:
            previous = order.status_id
            order.status_id = new_status
            events.append(status_event(order.id, previous, new_status))
        return events

    def update_order(
        self, order_id: int, *, now: datetime, fields: dict[str, Any]
    ) -> tuple[Order, list[Event]]:
        order = self.order(order_id)
        allowed = {"status_id", "customer_message", "staff_notes", "payment_method", "channel_id"}
        allowed |= {"billing_address"}
        unknown = set(fields) - allowed
        if unknown:
            raise BcError(422, f"unknown order fields {sorted(unknown)}")
        status = fields.get("status_id")
        if status is not None and int(status) not in ORDER_STATUSES:
            raise BcError(422, f"unknown status_id {status}")
        for key in ("customer_message", "staff_notes", "payment_method"):
            if key in fields:
                setattr(order, key, str(fields[key]))
        if "channel_id" in fields:
            order.channel_id = int(fields["channel_id"])
        if "billing_address" in fields:
            order.billing_address = {**order.billing_address, **dict(fields["billing_address"])}
        return order, self._touch(order, now, None if status is None else int(status))

    def archive_order(self, order_id: int, *, now: datetime) -> tuple[Order, list[Event]]:
        order = self.order(order_id)
        order.is_deleted = True
        order.date_modified = max(now, order.date_modified)
        return order, [order_event("store/order/archived", order_id)]

    def capture(
        self, order_id: int, *, now: datetime, amount: Decimal | None
    ) -> tuple[Transaction, list[Event]]:
        """A capture transaction; a fully paid order waiting for payment moves to 11."""
        order = self.order(order_id)
        total = order.amount_due()
        remaining = total - order.captured
        value = remaining if amount is None else q2(amount)
        if value <= 0 or value > remaining:
            raise BcError(422, f"capture amount must be in (0, {remaining}]")
        txn = Transaction(
            id=self.ids.next("transaction"),
            order_id=order_id,
            event="capture",
            amount=value,
            currency=order.default_currency_code,
            date_created=now,
            gateway_transaction_id=f"gw-{order_id}-{self.ids.transaction}",
        )
        order.transactions.append(txn)
        new_status = None
        if order.captured >= total and order.status_id in (0, 1, 7):
            new_status = 11
        events: list[Event] = [
            (
                "store/order/transaction/created",
                {
                    "type": "transaction",
                    "order_id": order_id,
                    "transaction_id": txn.id,
                    "transaction_type": txn.event,
                },
            )
        ]
        return txn, events + self._touch(order, now, new_status)

    def ship(
        self,
        order_id: int,
        *,
        now: datetime,
        items: list[dict[str, Any]] | None,
        tracking_number: str | None = None,
    ) -> tuple[Shipment, list[Event]]:
        """A shipment of ``items`` ([{order_product_id, quantity}], default: all unshipped)."""
        order = self.order(order_id)
        if order.status_id in (0, 4, 5, 6):
            status_name = ORDER_STATUSES[order.status_id]
            raise BcError(422, f"cannot ship an order in status {status_name}")
        by_id = {ln.id: ln for ln in order.lines}
        wanted: list[tuple[OrderLine, int]] = []
        if items is None:
            wanted = [
                (ln, ln.quantity - ln.quantity_shipped)
                for ln in order.lines
                if ln.quantity > ln.quantity_shipped
            ]
        else:
            for item in items:
                line = by_id.get(int(item.get("order_product_id", 0)))
                qty = int(item.get("quantity", 0))
                if line is None:
                    raise BcError(422, f"order product {item.get('order_product_id')} not found")
                if qty < 1 or qty > line.quantity - line.quantity_shipped:
                    raise BcError(422, f"cannot ship {qty} of order product {line.id}")
                wanted.append((line, qty))
        if not wanted:
            raise BcError(422, "nothing left to ship")
        for line, qty in wanted:
            line.quantity_shipped += qty
        sid = self.ids.next("shipment")
        shipment = Shipment(
            id=sid,
            order_id=order_id,
            customer_id=order.customer_id,
            order_address_id=order.order_address_id,
            date_created=now,
            tracking_number=tracking_number or f"1Z{order_id:08d}{sid:06d}",
            items=[
                {"order_product_id": ln.id, "product_id": ln.product_id, "quantity": q}
                for ln, q in wanted
            ],
            billing_address={k: v for k, v in order.billing_address.items() if k != "form_fields"},
            shipping_address={k: v for k, v in order.shipping_address.items() if k != "id"},
        )
        order.shipments.append(shipment)
        order.date_shipped = now
        all_shipped = all(ln.quantity_shipped >= ln.quantity for ln in order.lines)
        new_status = order.status_id
        if order.status_id not in (13, 14):
            new_status = 2 if all_shipped else 3
        events: list[Event] = [
            ("store/shipment/created", {"type": "shipment", "id": sid, "orderId": order_id})
        ]
        return shipment, events + self._touch(order, now, new_status)

    def refund(
        self,
        order_id: int,
        *,
        now: datetime,
        amount: Decimal | None,
        items: list[dict[str, Any]] | None = None,
        reason: str = "",
    ) -> tuple[Refund, list[Event]]:
        """A refund of captured money: either an amount against the whole order (item_type
        ``ORDER``) or product quantities (``PRODUCT``, priced at the line's unit price inc tax)."""
        order = self.order(order_id)
        totals = order.totals()
        refundable = order.captured - order.refunded
        refund_items: list[dict[str, Any]] = []
        if items:
            by_id = {ln.id: ln for ln in order.lines}
            value = ZERO
            tax = ZERO
            for item in items:
                line = by_id.get(int(item.get("order_product_id", 0)))
                qty = int(item.get("quantity", 0))
                if line is None:
                    raise BcError(422, f"order product {item.get('order_product_id')} not found")
                if qty < 1 or qty > line.quantity - line.quantity_refunded:
                    raise BcError(422, f"cannot refund {qty} of order product {line.id}")
                line_amount = line.price_inc_tax * qty
                value += line_amount
                tax += line.price_tax * qty
                refund_items.append(
                    {
                        "item_type": "PRODUCT",
                        "item_id": line.id,
                        "quantity": qty,
                        "requested_amount": number(line_amount),
                        "reason": reason,
                    }
                )
            if amount is not None and q2(amount) != value:
                raise BcError(422, f"amount {amount} does not match the items ({value})")
        else:
            if amount is None:
                raise BcError(422, "amount or items is required")
            value = q2(amount)
            total = totals["total_inc_tax"]
            tax = q2(value * totals["total_tax"] / total) if total else ZERO
            refund_items.append(
                {
                    "item_type": "ORDER",
                    "item_id": order_id,
                    "quantity": 1,
                    "requested_amount": number(value),
                    "reason": reason,
                }
            )
        if value <= 0 or value > refundable:
            raise BcError(422, f"refund amount must be in (0, {refundable}] (captured funds)")
        if items:
            by_id = {ln.id: ln for ln in order.lines}
            for item in refund_items:
                line = by_id[item["item_id"]]
                line.quantity_refunded += item["quantity"]
                line.refund_amount += Decimal(str(item["requested_amount"]))
        refund = Refund(
            id=self.ids.next("refund"),
            order_id=order_id,
            created=now,
            reason=reason,
            total_amount=value,
            total_tax=tax,
            items=refund_items,
            payment_id=self.ids.next("payment"),
        )
        order.refunds.append(refund)
        order.transactions.append(
            Transaction(
                id=self.ids.next("transaction"),
                order_id=order_id,
                event="refund",
                amount=value,
                currency=order.default_currency_code,
                date_created=now,
                gateway_transaction_id=f"gw-{order_id}-{self.ids.transaction}",
            )
        )
        new_status = 4 if order.refunded >= totals["total_inc_tax"] else 14
        events: list[Event] = [
            (
                "store/order/refund/created",
                {"type": "order", "id": order_id, "refund": {"refund_id": refund.id}},
            )
        ]
        return refund, events + self._touch(order, now, new_status)


def now_seconds(epoch: float) -> datetime:
    """Simulator-clock datetime truncated to seconds (BC dates have second resolution)."""
    return datetime.fromtimestamp(int(epoch), tz=UTC)
