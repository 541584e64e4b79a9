"""Deterministic shop data for the WooCommerce simulator: a product catalogue, customers with
addresses, and orders (registered and guest) whose amounts always add up.

``generate`` is a pure function of its arguments and the store's id sequences: the same seed on
a fresh simulator gives the same customers and orders (dates are relative to ``anchor``).
"""

from __future__ import annotations

import hashlib
import itertools
import random
import string
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sandbox.woocommerce.models import (
    BILLING_FIELDS,
    SHIPPING_FIELDS,
    CouponLine,
    FeeLine,
    LineItem,
    Order,
    Product,
    Refund,
    ShippingLine,
    WpUser,
)
from sandbox.woocommerce.store import WooState

# --------------------------------------------------------------------------- catalogue

_ADJECTIVES = (
    "Classic", "Organic", "Vintage", "Nordic", "Urban", "Rustic", "Premium", "Compact",
    "Deluxe", "Everyday",
)  # fmt: skip
_NOUNS = (
    "Mug", "T-Shirt", "Hoodie", "Notebook", "Tote Bag", "Water Bottle", "Candle", "Scarf",
    "Cap", "Poster", "Backpack", "Socks",
)  # fmt: skip


def catalogue(size: int = 60) -> list[Product]:
    """The shop's products: ids 101.., SKUs ``SKU-0001``.., prices excl. tax. Fixed (seedless)."""
    rng = random.Random(20250314)
    products = []
    for i in range(1, size + 1):
        name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        price = rng.choice((499, 750, 999, 1250, 1490, 1999, 2490, 2999, 3950, 4990, 7900, 12900))
        products.append(Product(id=100 + i, sku=f"SKU-{i:04d}", name=name, price=price))
    return products


PRODUCTS: list[Product] = catalogue()
PRODUCTS_BY_ID: dict[int, Product] = {p.id: p for p in PRODUCTS}
PRODUCTS_BY_SKU: dict[str, Product] = {p.sku: p for p in PRODUCTS}
# A product without a SKU (custom work): real shops have them; the connector must reject lines
# that cannot be mapped to an IFS part.
NO_SKU_PRODUCT = Product(id=99, sku="", name="Custom Engraving", price=1500)

# --------------------------------------------------------------------------- people, places

_FIRST = (
    "Ana", "João", "María", "Lucía", "Chloé", "Émile", "Jürgen", "Lena", "Sofia", "Giulia",
    "Sven", "Aoife", "Liam", "Noah", "Emma", "Olivia", "Mateo", "Inês", "Zoë", "Björn",
    "Tomás", "Hannah", "Lars", "Margaux",
)  # fmt: skip
_LAST = (
    "Silva", "Santos", "García", "Martínez", "Dubois", "Lefèvre", "Müller", "Schmidt",
    "de Vries", "Janssens", "Rossi", "Bianchi", "Murphy", "O'Brien", "Smith", "Jones",
    "Johansson", "Lindqvist", "Pereira", "Fernández", "Novak", "Byrne",
)  # fmt: skip
_COMPANIES = ("Acme Lda", "Nordwind GmbH", "Atelier Lumière SARL", "Brightside Ltd", "Koala BV")


@dataclass(frozen=True)
class _Place:
    country: str
    city: str
    state: str
    postcode: str  # pattern: # = digit, @ = capital letter
    street: str
    phone: str


_PLACES = (
    _Place("PT", "Lisboa", "", "1###-###", "Rua Augusta", "+351 21"),
    _Place("PT", "Porto", "", "4###-###", "Rua de Santa Catarina", "+351 22"),
    _Place("ES", "Madrid", "M", "28###", "Calle Mayor", "+34 91"),
    _Place("ES", "Barcelona", "B", "08###", "Carrer de Balmes", "+34 93"),
    _Place("FR", "Paris", "", "75###", "Rue de Rivoli", "+33 1"),
    _Place("FR", "Lyon", "", "69###", "Rue de la République", "+33 4"),
    _Place("DE", "Berlin", "", "10###", "Hauptstraße", "+49 30"),
    _Place("DE", "München", "", "80###", "Leopoldstraße", "+49 89"),
    _Place("NL", "Amsterdam", "", "10## @@", "Keizersgracht", "+31 20"),
    _Place("BE", "Bruxelles", "", "10##", "Rue Neuve", "+32 2"),
    _Place("IT", "Milano", "MI", "20###", "Via Roma", "+39 02"),
    _Place("IE", "Dublin", "D", "D0# @###", "Grafton Street", "+353 1"),
    _Place("GB", "London", "", "SW1@ #@@", "High Street", "+44 20"),
    _Place("US", "New York", "NY", "100##", "Main Street", "+1 212"),
    _Place("US", "Austin", "TX", "787##", "Congress Avenue", "+1 512"),
    _Place("SE", "Stockholm", "", "111 ##", "Drottninggatan", "+46 8"),
)

_NOTES = (
    "Please leave at the door.",
    "Gift — no invoice in the box, please.",
    "Call before delivery.",
)
_PAYMENTS = (
    ("stripe", "Credit Card (Stripe)"),
    ("paypal", "PayPal"),
    ("bacs", "Direct bank transfer"),
    ("cod", "Cash on delivery"),
)
_STATUS_WEIGHTS = (
    ("processing", 45),
    ("completed", 33),
    ("on-hold", 5),
    ("pending", 5),
    ("cancelled", 4),
    ("refunded", 4),
    ("failed", 4),
)
_STATUSES = tuple(s for s, _ in _STATUS_WEIGHTS)
_STATUS_CUM_WEIGHTS = tuple(itertools.accumulate(w for _, w in _STATUS_WEIGHTS))
#: (quantity, subtotal in cents) of bulk lines: prices below a cent that do not divide.
BULK_LINES = ((1000, 333), (300, 100), (2500, 777), (3, 1000), (7000, 1999))
BULK_PRODUCT_ID = 98
INVALID_PROBLEMS = ("line_without_sku", "negative_quantity", "guest_missing_email")


def _ascii(text: str) -> str:
    norm = unicodedata.normalize("NFKD", text)
    return "".join(c for c in norm if c.isascii() and c.isalnum()).lower()


def _pattern(rng: random.Random, pattern: str) -> str:
    return "".join(
        str(rng.randint(0, 9))
        if ch == "#"
        else rng.choice(string.ascii_uppercase)
        if ch == "@"
        else ch
        for ch in pattern
    )


@dataclass
class _Person:
    first: str
    last: str
    email: str
    billing: dict[str, str]
    shipping: dict[str, str]


def _person(rng: random.Random, email_domain: str, serial: int) -> _Person:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    place = rng.choice(_PLACES)
    email = f"{_ascii(first)}.{_ascii(last)}{serial}@{email_domain}"
    billing = {
        "first_name": first,
        "last_name": last,
        "company": rng.choice(_COMPANIES) if rng.random() < 0.12 else "",
        "address_1": f"{place.street} {rng.randint(1, 240)}",
        "address_2": f"Apt {rng.randint(1, 40)}" if rng.random() < 0.2 else "",
        "city": place.city,
        "state": place.state,
        "postcode": _pattern(rng, place.postcode),
        "country": place.country,
        "email": email,
        "phone": f"{place.phone} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
    }
    shipping = {k: billing.get(k, "") for k in SHIPPING_FIELDS}
    if rng.random() < 0.15:  # ships elsewhere (a gift, the office)
        other = rng.choice(_PLACES)
        shipping.update(
            first_name=rng.choice(_FIRST),
            address_1=f"{other.street} {rng.randint(1, 240)}",
            address_2="",
            city=other.city,
            state=other.state,
            postcode=_pattern(rng, other.postcode),
            country=other.country,
        )
    return _Person(first, last, email, billing, shipping)


_KEY_ALPHABET = string.ascii_letters + string.digits
_QUANTITIES = (1, 2, 3, 4, 5)
_QUANTITY_CUM_WEIGHTS = (50, 75, 87, 95, 100)


def _order_key(rng: random.Random) -> str:
    return "wc_order_" + "".join(rng.choices(_KEY_ALPHABET, k=13))


def _seconds(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(seconds=int(rng.uniform(low, high)))


# --------------------------------------------------------------------------- generation


def generate(
    state: WooState,
    *,
    customers: int,
    orders: int,
    seed: int,
    guest_ratio: float,
    invalid: int,
    currencies: tuple[str, ...],
    anchor: datetime,
    days: int = 90,
    prices_include_tax: bool = False,
    bulk_ratio: float = 0.0,
) -> tuple[list[WpUser], list[Order], dict[str, Any]]:
    """Create ``customers`` users and ``orders`` orders (not yet stored: the caller stores them
    under the lock). Orders are spread over ``days`` days before ``anchor``; ids grow with
    ``date_created``. ``invalid`` orders carry one problem each (see ``INVALID_PROBLEMS``).
    ``bulk_ratio`` of the orders get one more line: a bulk quantity at an odd price below a cent
    per unit (3.33 for 1000 washers), whose subtotal does not divide by the quantity; with the
    default 0 the generator draws exactly as before (same seed, same data)."""
    if invalid > orders:
        raise ValueError("invalid cannot exceed orders")
    if not currencies:
        raise ValueError("currencies must not be empty")
    rng = random.Random(seed)
    anchor = anchor.replace(microsecond=0)
    domain = "example.org"

    new_users: list[WpUser] = []
    for _ in range(customers):
        uid = state.user_id()
        p = _person(rng, domain, uid)
        created = anchor - timedelta(days=days) - _seconds(rng, 86400, 400 * 86400)
        modified = min(created + _seconds(rng, 0, 300 * 86400), anchor)
        new_users.append(
            WpUser(
                id=uid,
                username=p.email.split("@", 1)[0],
                email=p.email,
                role="customer",
                first_name=p.first,
                last_name=p.last,
                created=created,
                modified=modified,
                billing=p.billing,
                shipping=p.shipping,
            )
        )

    created_times = sorted(anchor - _seconds(rng, 120, days * 86400) for _ in range(orders))
    invalid_at = dict(
        zip(
            sorted(rng.sample(range(orders), invalid)),
            (INVALID_PROBLEMS[i % len(INVALID_PROBLEMS)] for i in range(invalid)),
            strict=True,
        )
    )
    guest_serial = 0
    new_orders: list[Order] = []
    refunds: list[tuple[Order, int, timedelta, str]] = []
    for n, created in enumerate(created_times):
        problem = invalid_at.get(n)
        guest = not new_users or rng.random() < guest_ratio or problem == "guest_missing_email"
        if guest:
            guest_serial += 1
            p = _person(rng, "guest.example.net", guest_serial)
            customer_id, billing, shipping = 0, p.billing, p.shipping
        else:
            u = rng.choice(new_users)
            customer_id, billing, shipping = u.id, dict(u.billing), dict(u.shipping)
        status = rng.choices(_STATUSES, cum_weights=_STATUS_CUM_WEIGHTS)[0]
        if problem:
            status = "processing"  # something a connector would pick up and must reject
        method, method_title = rng.choice(_PAYMENTS)
        order = Order(
            id=state.post_id(),
            status=status,
            currency=rng.choice(currencies),
            created=created,
            modified=created,
            order_key=_order_key(rng),
            customer_id=customer_id,
            billing=billing,
            shipping=shipping,
            prices_include_tax=prices_include_tax,
            payment_method=method,
            payment_method_title=method_title,
            customer_ip_address=".".join(
                str(rng.randint(lo, hi)) for lo, hi in ((11, 223), (0, 255), (0, 255), (1, 254))
            ),
            customer_user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
            customer_note=rng.choice(_NOTES) if rng.random() < 0.1 else "",
            meta_data=[
                {
                    "id": state.meta_id(),
                    "key": "_wc_order_attribution_source_type",
                    "value": rng.choice(("typein", "organic", "referral", "utm")),
                }
            ],
        )
        for product in rng.sample(PRODUCTS, rng.randint(1, 10)):
            order.line_items.append(
                LineItem(
                    id=state.item_id(),
                    name=product.name,
                    product_id=product.id,
                    variation_id=0,
                    quantity=rng.choices(_QUANTITIES, cum_weights=_QUANTITY_CUM_WEIGHTS)[0],
                    unit_price=product.price,
                    sku=product.sku,
                )
            )
        if bulk_ratio and rng.random() < bulk_ratio:
            qty, cents = rng.choice(BULK_LINES)
            order.line_items.append(LineItem(
                id=state.item_id(), name=f"Washer M{qty // 100} (bulk)", product_id=BULK_PRODUCT_ID,
                variation_id=0, quantity=qty, unit_price=0, sku="SKU-BULK",
                bulk_subtotal=cents))
        if rng.random() < 0.15:
            order.coupon_lines.append(
                CouponLine(id=state.item_id(), code=rng.choice(("save10", "fiveoff", "spring15")))
            )
        roll = rng.random()
        items_subtotal = sum(li.unit_price * li.quantity for li in order.line_items)
        if roll < 0.70:
            if items_subtotal >= 5000:
                order.shipping_lines.append(
                    ShippingLine(state.item_id(), "free_shipping", "Free shipping", 0, "2")
                )
            else:
                order.shipping_lines.append(
                    ShippingLine(state.item_id(), "flat_rate", "Flat rate", 495, "1")
                )
        elif roll < 0.75:
            order.shipping_lines.append(
                ShippingLine(state.item_id(), "local_pickup", "Local pickup", 0, "3")
            )
        if method == "cod":
            order.fee_lines.append(FeeLine(state.item_id(), "Cash on delivery fee", 150))
        elif rng.random() < 0.06:
            order.fee_lines.append(FeeLine(state.item_id(), "Gift wrap", 300))

        if problem == "line_without_sku":
            first = order.line_items[0]
            first.product_id, first.name, first.sku = (
                NO_SKU_PRODUCT.id,
                NO_SKU_PRODUCT.name,
                NO_SKU_PRODUCT.sku,
            )
            first.unit_price = NO_SKU_PRODUCT.price
        elif problem == "negative_quantity":
            order.line_items[0].quantity = -order.line_items[0].quantity
            order.coupon_lines.clear()
        elif problem == "guest_missing_email":
            order.billing["email"] = ""
        order.tax_line_id = state.item_id()
        order.reprice()

        last = created
        if status in ("processing", "completed", "refunded") or (
            status == "cancelled" and rng.random() < 0.3
        ):
            order.paid = min(created + _seconds(rng, 5, 600), anchor)
            last = order.paid
            if method in ("stripe", "paypal"):
                order.transaction_id = ("ch_" if method == "stripe" else "") + hashlib.sha256(
                    f"{seed}-{order.id}".encode()
                ).hexdigest()[:24].upper()
        if status in ("completed", "refunded"):
            order.completed = min(last + _seconds(rng, 3600, 5 * 86400), anchor)
            last = order.completed
        if status == "refunded":
            refunds.append((order, order.totals()["total"], _seconds(rng, 60, 86400), "Returned"))
        elif status == "completed" and rng.random() < 0.05 and order.line_items:
            li = order.line_items[-1]
            refunds.append((order, li.total + li.total_tax, _seconds(rng, 60, 86400), "Damaged"))
        modified = last + _seconds(rng, 0, 120)
        if rng.random() < 0.1:  # an admin touched it later (note, status tweak)
            modified += _seconds(rng, 3600, 20 * 86400)
        order.modified = min(modified, anchor)
        order.created_via = "checkout"
        order.cart_hash = hashlib.md5(f"{seed}-{order.id}".encode()).hexdigest()  # noqa: S324
        new_orders.append(order)

    # Refunds are posts created after the orders they refund: they take later ids.
    for order, amount, delay, reason in refunds:
        at = min(order.modified + delay, anchor)
        order.refunds.append(Refund(id=state.post_id(), created=at, amount=amount, reason=reason))
        order.modified = at

    paying = {o.customer_id for o in new_orders if o.paid is not None and o.customer_id}
    for u in new_users:
        u.is_paying_customer = u.id in paying

    currency_counts: dict[str, int] = {}
    for o in new_orders:
        currency_counts[o.currency] = currency_counts.get(o.currency, 0) + 1
    summary: dict[str, Any] = {
        "seed": seed,
        "anchor_gmt": anchor.strftime("%Y-%m-%dT%H:%M:%S"),
        "customers": len(new_users),
        "orders": len(new_orders),
        "guest_orders": sum(1 for o in new_orders if o.customer_id == 0),
        "customer_ids": [u.id for u in new_users],
        "order_ids": [o.id for o in new_orders],
        "invalid": [
            {"id": new_orders[n].id, "problem": problem} for n, problem in invalid_at.items()
        ],
        "refunds": len(refunds),
        "currencies": currency_counts,
    }
    return new_users, new_orders, summary


def blank_billing() -> dict[str, str]:
    return dict.fromkeys(BILLING_FIELDS, "")
