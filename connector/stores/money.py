"""The money of one order plan: store amounts → IFS lines and charges, exactly (docs/money.md).

Pure and ``Decimal`` end to end. An :class:`OrderLedger` is filled by a store's mapping with
every money field of the store order, each one *posted* (an IFS line or charge), *not posted*
with the reason (tax that IFS computes itself, a payment means such as store credit, a refund
that is not part of the order) or *refused* (the record fails naming the field). Closing the
ledger (:meth:`OrderLedger.close`) adds the rounding charge, sums what will be posted and
compares it with the store's net: a plan that would post a different amount than the store
says, by even the smallest unit, is never loaded — the record fails naming both figures.

Line prices (docs/money.md): the line total the store charged (WooCommerce ``subtotal``,
BigCommerce ``total_ex_tax``) is what must arrive. The unit price sent as ``SaleUnitPrice`` is
that total divided by the quantity when that division is exact at ``price_decimals`` places;
otherwise a unit price whose line amount lands on the currency's grid, and the remainder of all
such lines travels as one rounding charge (``rounding_charge_type``), so that
Σ(quantity × unit price) + Σ charges equals the store's net to the smallest unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from connector.stores.mapping import MappingContext, MappingError, as_json_number

__all__ = [
    "CURRENCY_DECIMALS",
    "OrderLedger",
    "currency_decimals",
    "posted_sum",
]

#: Minor units of the currencies that do not have two decimals (ISO 4217). Every other currency
#: has two. A tenant can override with the ``currency_decimals`` setting.
CURRENCY_DECIMALS: dict[str, int] = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

ROUNDING_DESCRIPTION = "Rounding of unit prices"


def currency_decimals(code: str, overrides: dict[str, int] | None = None) -> int:
    """Decimals of ``code``'s minor unit (``overrides`` first, then ISO 4217, else 2)."""
    code = code.upper()
    if overrides and code in overrides:
        return int(overrides[code])
    return CURRENCY_DECIMALS.get(code, 2)


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _grid(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def posted_sum(lines: list[dict[str, Any]], charges: list[dict[str, Any]]) -> Decimal:
    """What IFS will hold for these lines and charges: Σ quantity × unit price + Σ charged
    quantity × charge amount, read back from the JSON numbers the plan sends."""
    total = Decimal(0)
    for line in lines:
        total += Decimal(str(line["BuyQtyDue"])) * Decimal(str(line["SaleUnitPrice"]))
    for charge in charges:
        total += Decimal(str(charge.get("ChargedQty", 1))) * Decimal(str(charge["ChargeAmount"]))
    return total


def unit_price(line_total: Decimal, quantity: Decimal, price_decimals: int,
               currency_places: int) -> Decimal:
    """The ``SaleUnitPrice`` for a line whose store total is ``line_total``.

    Exact when ``line_total / quantity`` has at most ``price_decimals`` places. Otherwise the
    rounded unit price is used only if quantity × it still lands on the currency's grid (IFS
    rounds line amounts to the currency); failing that, the unit price rounded down to the
    currency's grid, whose line amount always does. The caller posts the remainder.
    """
    exact = line_total / quantity
    price_grid = _grid(price_decimals)
    rounded = exact.quantize(price_grid, rounding=ROUND_HALF_UP)
    if rounded * quantity == line_total:
        return rounded
    amount_grid = _grid(currency_places)
    if (rounded * quantity) == (rounded * quantity).quantize(amount_grid):
        return rounded
    return exact.quantize(_grid(min(currency_places, price_decimals)), rounding=ROUND_DOWN)


@dataclass
class OrderLedger:
    """Collects one order's IFS lines and charges and accounts for every store money field."""

    label: str
    currency: str
    ctx: MappingContext
    lines: list[dict[str, Any]] = field(default_factory=list)
    charges: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    accounting: list[dict[str, str]] = field(default_factory=list)
    rounding: Decimal = Decimal(0)

    @property
    def currency_places(self) -> int:
        return currency_decimals(self.currency, self.ctx.currency_decimals)

    # -- what the store order holds ------------------------------------------------------------

    def line(self, *, part: str, description: str, quantity: Decimal, line_total: Decimal,
             position: int, field: str) -> None:
        """A product line: posted at the store's line total (the unit price may leave a
        remainder, which goes to the rounding charge)."""
        unit = unit_price(line_total, quantity, self.ctx.price_decimals, self.currency_places)
        remainder = line_total - unit * quantity
        self.rounding += remainder
        self.lines.append({
            "CatalogNo": part,
            "CatalogDesc": description[:200],
            "BuyQtyDue": as_json_number(quantity),
            "SaleUnitPrice": as_json_number(unit),
            "CustomerPoLineNo": str(position),
        })
        how = "line"
        if remainder:
            how += f" at {unit} per unit; {remainder} in the rounding charge"
        self._account(field, line_total, how)

    def charge(self, kind: str, amount: Decimal, description: str, field: str) -> None:
        """Shipping, a fee, handling, wrapping or a discount (negative): one IFS charge (or, in
        ``lines`` mode, a sales-part line when positive — IFS refuses negative prices)."""
        if not amount:
            return
        ctx = self.ctx
        if ctx.charges_mode == "lines" and amount > 0 and kind != "discount":
            part = ctx.shipping_part if kind == "shipping" else ctx.fee_part
            unit = unit_price(amount, Decimal(1), ctx.price_decimals, self.currency_places)
            self.rounding += amount - unit
            self.lines.append({"CatalogNo": part, "CatalogDesc": description[:200],
                               "BuyQtyDue": 1, "SaleUnitPrice": as_json_number(unit)})
            self._account(field, amount, f"line {part}")
            return
        charge_type = {
            "shipping": ctx.shipping_charge_type, "fee": ctx.fee_charge_type,
            "handling": ctx.handling_charge_type, "wrapping": ctx.wrapping_charge_type,
            "discount": ctx.discount_charge_type,
        }[kind]
        self.charges.append({"ChargeType": charge_type, "ChargeAmount": as_json_number(amount),
                             "ChargedQty": 1, "Company": ctx.company})
        self._account(field, amount, f"charge {charge_type}")

    def not_posted(self, field: str, amount: Decimal, why: str) -> None:
        """A money field that is deliberately not part of the IFS order value (listed on the
        plan so an operator sees it)."""
        if amount:
            self._account(field, amount, f"not posted: {why}")

    def refuse(self, field: str, amount: Decimal, why: str) -> None:
        """A money field the connector cannot post: the record fails naming it."""
        if amount:
            self.problems.append(f"{self.label}: {field} {amount} {self.currency} cannot be "
                                 f"posted ({why})")

    def _account(self, field: str, amount: Decimal, how: str) -> None:
        self.accounting.append({"field": field, "amount": str(amount), "how": how})

    def show(self, amount: Decimal) -> str:
        """``amount`` at the currency's places (more only when it has more)."""
        return str(amount.quantize(_grid(max(self.currency_places, _places(amount)))))

    # -- closing -------------------------------------------------------------------------------

    def close(self, *, net: Decimal, gross: Decimal) -> dict[str, Any]:
        """Add the rounding charge, check that what will be posted equals the store's net
        exactly, and return the plan's ``totals``. Raises :class:`MappingError` otherwise."""
        if self.problems:
            raise MappingError(self.problems)
        if self.rounding:
            self.charges.append({"ChargeType": self.ctx.rounding_charge_type,
                                 "ChargeAmount": as_json_number(self.rounding),
                                 "ChargedQty": 1, "Company": self.ctx.company})
            self._account("unit price rounding", self.rounding,
                          f"charge {self.ctx.rounding_charge_type}")
        posted = posted_sum(self.lines, self.charges)
        show = self.show
        if posted != net:
            raise MappingError([
                f"{self.label}: the IFS order would total {show(posted)} {self.currency} net "
                f"but the store's net is {show(net)} {self.currency} (difference "
                f"{show(posted - net)}); nothing was sent to IFS — check the order's amounts in "
                f"the store ({', '.join(a['field'] for a in self.accounting) or 'no amounts'})"])
        return {
            "currency": self.currency,
            "net": show(net),
            "total": show(gross),
            "tax": show(gross - net),
            "posted": show(posted),
            "rounding": format(self.rounding.normalize(), "f"),
            "money": list(self.accounting),
        }
