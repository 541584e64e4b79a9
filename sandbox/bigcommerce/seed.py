"""Deterministic demo data for the BigCommerce simulator.

The same ``seed`` gives the same customers, orders, lines, amounts, statuses, payments, shipments
and refunds; only timestamps move with the anchor (the simulator clock unless given).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox.bigcommerce.customers import Customer, make_billing_address
from sandbox.bigcommerce.model import FX_PER_USD, TAX_RATES, q2
from sandbox.bigcommerce.store import BcStore

FIRST_NAMES = (
    "Ana", "Bruno", "Chloe", "Daniel", "Emma", "Felix", "Greta", "Hugo", "Ines", "Jonas",
    "Klara", "Liam", "Maria", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tara",
)  # fmt: skip
LAST_NAMES = (
    "Silva", "Muller", "Martin", "Smith", "Jansen", "Berg", "Rossi", "Dubois", "Costa", "Meyer",
    "Brown", "Nilsson", "Weber", "Garcia", "Novak", "Lopez", "Wilson", "Moreau", "Keller", "Young",
)  # fmt: skip
CITIES: dict[str, tuple[tuple[str, str, str], ...]] = {
    # country -> (city, state, zip)
    "US": (("Austin", "Texas", "78701"), ("Denver", "Colorado", "80202")),
    "CA": (("Toronto", "Ontario", "M5H 2N2"),),
    "GB": (("London", "", "EC1A 1BB"), ("Leeds", "", "LS1 4AP")),
    "DE": (("Berlin", "", "10115"), ("Hamburg", "", "20095")),
    "FR": (("Lyon", "", "69001"),),
    "PT": (("Lisboa", "", "1100-148"), ("Porto", "", "4000-322")),
    "NL": (("Utrecht", "", "3511 AB"),),
    "SE": (("Malmo", "", "211 20"),),
    "AU": (("Sydney", "New South Wales", "2000"),),
    "CH": (("Basel", "", "4051"),),
}
STREETS = (
    "Main Street",
    "Rua Augusta",
    "Hauptstrasse",
    "High Street",
    "Rue de la Paix",
    "Kerkstraat",
)
ADJECTIVES = ("Classic", "Organic", "Compact", "Deluxe", "Travel", "Everyday", "Pro", "Mini")
NOUNS = (
    "Mug",
    "Backpack",
    "T-Shirt",
    "Notebook",
    "Lamp",
    "Kettle",
    "Scarf",
    "Bottle",
    "Cap",
    "Tote",
)
# Country -> the currency a shopper there usually pays in.
COUNTRY_CURRENCY = {
    "US": "USD", "CA": "CAD", "GB": "GBP", "DE": "EUR", "FR": "EUR",
    "PT": "EUR", "NL": "EUR", "SE": "SEK", "AU": "AUD", "CH": "CHF",
}  # fmt: skip


def catalog() -> list[dict[str, Any]]:
    """A fixed catalog of 40 products (USD list prices)."""
    products = []
    for i in range(40):
        name = f"{ADJECTIVES[i % len(ADJECTIVES)]} {NOUNS[(i * 3) % len(NOUNS)]}"
        price = Decimal(5 + (i * 37) % 120) + Decimal((i * 13) % 100) / 100
        products.append(
            {"product_id": 101 + i, "name": name, "sku": f"SKU-{101 + i:04d}", "price": price}
        )
    return products


def random_person(rng: random.Random, n: int) -> dict[str, Any]:
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    country = rng.choice(sorted(CITIES))
    city, state, zip_code = rng.choice(CITIES[country])
    return {
        "first_name": first,
        "last_name": last,
        "email": f"{first.lower()}.{last.lower()}.{n}@example.org",
        "phone": f"+1555{rng.randint(1000000, 9999999)}",
        "company": rng.choice(("", "", "", f"{last} Trading")),
        "street_1": f"{rng.randint(1, 250)} {rng.choice(STREETS)}",
        "city": city,
        "state": state,
        "zip": zip_code,
        "country_iso2": country,
    }


#: (quantity, 4-dp unit price ex tax) of bulk lines.
BULK_LINES = ((1000, Decimal("0.0033")), (3, Decimal("0.3333")), (2500, Decimal("0.0031")))


def seed_store(
    store: BcStore,
    *,
    now: datetime,
    customers: int,
    orders: int,
    seed: int = 42,
    payments: bool = True,
    shipments_ratio: float = 0.5,
    refunds_ratio: float = 0.2,
    currencies: tuple[str, ...] = ("USD",),
    guest_ratio: float = 0.2,
    days: float = 30.0,
    incomplete_ratio: float = 0.0,
    archived_ratio: float = 0.0,
    extras_ratio: float = 0.0,
) -> dict[str, Any]:
    """Add ``customers`` and ``orders`` to ``store`` without firing webhooks.

    Orders get 1-10 lines, some a line discount; ``payments`` adds a capture for the full amount
    (status 11, else 7 Awaiting Payment); of the paid orders ``shipments_ratio`` are shipped (some
    only partially) and ``refunds_ratio`` get a partial refund. With several ``currencies`` the
    transactional currency (``default_currency_code``) is drawn from them and about a third of
    the orders are displayed in another one (``currency_code``). ``extras_ratio`` of the orders
    carry the money fields beyond products and shipping (bc "Money fields"): a bulk line at a
    4-dp unit price, a fee line, handling, gift wrapping, and store credit or a gift certificate
    paying part of them; with the default 0 the generator draws exactly as before.
    """
    unknown = [c for c in currencies if c not in FX_PER_USD]
    if unknown or not currencies:
        raise ValueError(f"unsupported currencies {unknown}; known: {sorted(FX_PER_USD)}")
    rng = random.Random(seed)
    products = catalog()
    with store.lock:
        new_customers: list[Customer] = []
        for _ in range(customers):
            n = store.ids.customer + 1
            p = random_person(rng, n)
            created = now - timedelta(days=days + rng.uniform(1, 365))
            customer, _events = store.add_customer(
                now=created,
                email=p["email"],
                first_name=p["first_name"],
                last_name=p["last_name"],
                company=p["company"],
                phone=p["phone"],
                customer_group_id=rng.choice((0, 0, 1)),
                address={
                    "address1": p["street_1"],
                    "city": p["city"],
                    "state_or_province": p["state"],
                    "postal_code": p["zip"],
                    "country_code": p["country_iso2"],
                },
            )
            new_customers.append(customer)
        pool = new_customers or list(store.customers.values())

        offsets = sorted((rng.uniform(0, days) for _ in range(orders)), reverse=True)
        order_ids: list[int] = []
        counts = {"transactions": 0, "shipments": 0, "refunds": 0}
        for offset in offsets:
            created = (now - timedelta(days=offset)).replace(microsecond=0)
            if pool and rng.random() >= guest_ratio:
                customer = rng.choice(pool)
                customer_id = customer.id
                billing = customer.billing_address()
            else:
                customer_id = 0
                p = random_person(rng, 100000 + store.ids.order)
                billing = make_billing_address(
                    first_name=p["first_name"],
                    last_name=p["last_name"],
                    email=p["email"],
                    company=p["company"],
                    phone=p["phone"],
                    street_1=p["street_1"],
                    city=p["city"],
                    state=p["state"],
                    zip_code=p["zip"],
                    country_iso2=p["country_iso2"],
                )
            country = billing["country_iso2"]
            transactional = (
                COUNTRY_CURRENCY.get(country, currencies[0])
                if COUNTRY_CURRENCY.get(country) in currencies
                else rng.choice(currencies)
            )
            display = transactional
            if len(currencies) > 1 and rng.random() < 0.35:
                display = rng.choice([c for c in currencies if c != transactional])
            fx = FX_PER_USD[transactional]
            picked = rng.sample(products, rng.randint(1, 10))
            lines = []
            for prod in picked:
                qty = rng.choice((1, 1, 1, 2, 2, 3))
                price = q2(prod["price"] * fx)
                line = {**prod, "price": price, "quantity": qty}
                if rng.random() < 0.15:
                    line["discount"] = q2(price * qty * Decimal("0.10"))
                lines.append(line)
            extras: dict[str, Any] = {}
            if extras_ratio and rng.random() < extras_ratio:
                qty, unit = rng.choice(BULK_LINES)
                lines.append({"product_id": 990, "name": "Washers (bulk)", "sku": "BULK-WSH",
                              "price": unit, "quantity": qty, "precise": True})
                extras = {
                    "fees": [{"display_name": "Payment surcharge",
                              "cost_ex_tax": q2(Decimal(rng.choice(("1.99", "2.50"))) * fx)}],
                    "handling_cost_ex_tax": q2(Decimal(rng.choice(("0", "1.00"))) * fx),
                    "wrapping_cost_ex_tax": q2(Decimal(rng.choice(("0", "2.50", "4.00"))) * fx),
                }
                credit = q2(Decimal(rng.choice(("0", "5.00"))) * fx)
                extras["store_credit_amount" if rng.random() < 0.5
                       else "gift_certificate_amount"] = credit
            incomplete = bool(incomplete_ratio) and rng.random() < incomplete_ratio
            shipping = Decimal(rng.choice(("0", "4.95", "7.50", "9.99", "14.00")))
            order, _events = store.add_order(
                now=created,
                customer_id=customer_id,
                billing_address=billing,
                lines=lines,
                currency_code=display,
                default_currency_code=transactional,
                status_id=0 if incomplete else 7,
                tax_rate=TAX_RATES.get(country, Decimal("0")),
                shipping_cost_ex_tax=q2(shipping * fx),
                date_created=created,
                **extras,
            )
            order_ids.append(order.id)
            last = created
            if payments and not incomplete:
                paid_at = min(now, created + timedelta(seconds=rng.randint(5, 120)))
                store.capture(order.id, now=paid_at, amount=None)
                counts["transactions"] += 1
                last = paid_at
                if rng.random() < shipments_ratio:
                    ship_at = min(now, last + timedelta(hours=rng.uniform(1, 72)))
                    items = None
                    if len(order.lines) > 1 and rng.random() < 0.3:
                        half = order.lines[: len(order.lines) // 2]
                        items = [
                            {"order_product_id": ln.id, "quantity": ln.quantity} for ln in half
                        ]
                    store.ship(order.id, now=ship_at, items=items)
                    counts["shipments"] += 1
                    last = ship_at
                if rng.random() < refunds_ratio:
                    refund_at = min(now, last + timedelta(hours=rng.uniform(1, 48)))
                    total = order.totals()["total_inc_tax"]
                    share = Decimal(str(round(rng.uniform(0.1, 0.5), 2)))
                    store.refund(
                        order.id,
                        now=refund_at,
                        amount=max(q2("0.01"), q2(total * share)),
                        reason=rng.choice(("Damaged item", "Customer request", "Late delivery")),
                    )
                    counts["refunds"] += 1
                    last = refund_at
            order.date_modified = max(order.date_modified, last)
            if archived_ratio and rng.random() < archived_ratio:
                order.is_deleted = True
        return {
            "customers": len(new_customers),
            "orders": len(order_ids),
            "customer_ids": [c.id for c in new_customers],
            "order_ids": order_ids,
            **counts,
        }
