"""Reconciliation: what the store holds against what IFS holds, with every difference either
explained (a failed or parked record with its reason) or reported as unexplained.

Each store's reconciler (its plugin's ``reconcile``, built from the pieces in
:mod:`connector.stores.reconciling`) compares one source; this module runs them for a tenant
and renders the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from connector.db import session_scope
from connector.models import Source, Tenant
from connector.pipeline.targets import ifs_client
from connector.stores.reconciling import SourceReport
from connector.stores.registry import get_store


@dataclass
class Reconciliation:
    tenant: str
    sources: list[SourceReport]

    @property
    def unexplained(self) -> int:
        return sum(s.unexplained for s in self.sources)

    def as_dict(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "unexplained": self.unexplained,
                "sources": [s.as_dict() for s in self.sources]}


def reconcile(tenant_name: str) -> Reconciliation:
    with session_scope() as s:
        tenant = s.scalar(select(Tenant).where(Tenant.name == tenant_name))
        if tenant is None:
            raise ValueError(f"unknown tenant {tenant_name!r}")
        sources = list(s.scalars(select(Source).where(Source.tenant_id == tenant.id)
                                 .order_by(Source.id)))
    client = ifs_client(tenant)
    client.budget = None  # an operator's one-off read; not worth throttling against the fleet
    reports = []
    for source in sources:
        fn = get_store(source.system).reconcile
        if fn is not None:
            reports.append(fn(tenant, source, client))
    return Reconciliation(tenant.name, reports)


def format_amount(amount: Decimal | str) -> str:
    """``17037.2`` -> ``17,037.20``: exact (Decimal), two places, thousands separated."""
    return f"{Decimal(str(amount)).quantize(Decimal('0.01')):,.2f}"


def format_money(currency: str, amount: Decimal | str) -> str:
    """``("EUR", "17037.21")`` -> ``EUR 17,037.21``."""
    return f"{currency} {format_amount(amount)}"


def format_nets(nets: dict[str, str]) -> str:
    """Net totals per currency, e.g. ``EUR 17,037.21, USD 90.00`` (``-`` when empty)."""
    return ", ".join(format_money(c, v) for c, v in sorted(nets.items())) or "-"


def render(rec: Reconciliation) -> str:
    """The human-readable reconciliation."""
    out = [f"Reconciliation for tenant {rec.tenant}"]
    for r in rec.sources:
        out.append(f"  {r.source} ({r.system})")
        out.append(f"    orders in store: {r.store_orders:>6}   net {format_nets(r.store_net)}")
        out.append(f"    orders in IFS:   {r.ifs_orders:>6}   net {format_nets(r.ifs_net)}")
        if r.vouchers:
            out.append("    vouchers: " + ", ".join(f"{k} {v}" for k, v in r.vouchers.items()))
        out.append(f"    customers linked: {r.store_customers_linked}")
        if r.explained:
            out.append(f"    explained differences ({len(r.explained)}):")
            for e in r.explained:
                out.append(f"      {e['entity']} {e['store_id']} [{e['state']}]: {e['reason']}")
        for sid in r.missing:
            out.append(f"    UNEXPLAINED: store record {sid} is not in IFS and has no failed "
                       "record")
        for m in r.mismatched:
            out.append(f"    UNEXPLAINED: order {m['store_id']} net "
                       f"{format_amount(m['store_net'])} in the store but "
                       f"{format_amount(m['ifs_net'])} in IFS")
        for po in r.extra:
            out.append(f"    UNEXPLAINED: IFS record {po} has no store counterpart")
    out.append(f"Unexplained differences: {rec.unexplained}")
    return "\n".join(out)
