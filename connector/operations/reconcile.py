"""Reconciliation: what the store holds against what IFS holds, with every difference either
explained (a failed or parked record with its reason) or reported as unexplained.

Each store's reconciler (its plugin's ``reconcile``, built from the pieces in
:mod:`connector.stores.reconciling`) compares one source; this module runs them for a tenant
and renders the result.

A good citizen (issue 10, seen 3): every read goes through the fleet budgets as ``background``
work, and the run is patient — a 429 is waited out with the server's hint (``patience``)
instead of ending the run. Each source is reconciled on its own: one that cannot be read (a
paused store with an unreachable URL, a patience that ran out) is reported with the reason and
the others are reconciled all the same.

Windowed for large tenants: a run covers the orders created in a :class:`Window` (everything by
default here; ``ml-connector reconcile`` defaults to the last days) and reads each source in
chunks of ``chunk_size`` orders, so what it holds is one chunk, not the history
(:mod:`connector.stores.reconciling`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from connector.db import session_scope
from connector.errors import ConnectorError
from connector.models import Source, Tenant
from connector.patience import patience
from connector.pipeline.targets import ifs_client
from connector.stores.reconciling import (
    ALL,
    CHUNK_SIZE,
    ChunkHook,
    ReconcileOptions,
    SourceReport,
    Window,
)
from connector.stores.registry import get_store

log = logging.getLogger(__name__)

#: How long a reconciliation waits out rate limits and outages per source before it reports
#: the source as not reconciled.
PATIENCE_S = 600.0


@dataclass
class Reconciliation:
    tenant: str
    sources: list[SourceReport]
    window: Window = ALL

    @property
    def unexplained(self) -> int:
        return sum(s.unexplained for s in self.sources)

    @property
    def errors(self) -> list[SourceReport]:
        """Sources that could not be reconciled (their ``error`` says why)."""
        return [s for s in self.sources if s.error]

    def as_dict(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "window": self.window.label(),
                "since": self.window.since.isoformat() if self.window.since else None,
                "until": self.window.until.isoformat() if self.window.until else None,
                "unexplained": self.unexplained,
                "not_reconciled": [s.source for s in self.errors],
                "sources": [s.as_dict() for s in self.sources]}


def reconcile(tenant_name: str, *, patience_s: float = PATIENCE_S, window: Window = ALL,
              chunk_size: int = CHUNK_SIZE,
              on_chunk: ChunkHook | None = None) -> Reconciliation:
    """Reconcile every source of the tenant over ``window`` (orders by their creation date
    in the store), reading ``chunk_size`` orders at a time; ``on_chunk`` sees each source's
    report after every chunk (progress)."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    options = ReconcileOptions(window=window, chunk_size=chunk_size, on_chunk=on_chunk)
    with session_scope() as s:
        tenant = s.scalar(select(Tenant).where(Tenant.name == tenant_name))
        if tenant is None:
            raise ValueError(f"unknown tenant {tenant_name!r}")
        sources = list(s.scalars(select(Source).where(Source.tenant_id == tenant.id)
                                 .order_by(Source.id)))
    client = ifs_client(tenant, "background")
    reports = []
    for source in sources:
        fn = get_store(source.system).reconcile
        if fn is None:
            continue
        try:
            with patience(patience_s):
                reports.append(fn(tenant, source, client, options))
        except ConnectorError as exc:
            log.warning("reconcile %s/%s: %s", tenant.name, source.name, exc)
            reports.append(SourceReport(source.name, source.system, error=str(exc),
                                        window=window.label()))
        except Exception as exc:  # a bug or bad data in one source must not hide the others
            log.warning("reconcile %s/%s failed: %s: %s", tenant.name, source.name,
                        type(exc).__name__, exc)
            reports.append(SourceReport(source.name, source.system,
                                        error=f"{type(exc).__name__}: {exc}",
                                        window=window.label()))
    return Reconciliation(tenant.name, reports, window)


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
    out = [f"Reconciliation for tenant {rec.tenant}"
           + ("" if rec.window.everything else f": {rec.window.label()}")]
    for r in rec.sources:
        out.append(f"  {r.source} ({r.system})")
        if r.error:
            out.append(f"    NOT RECONCILED: could not read it: {r.error}")
            continue
        out.append(f"    orders in store: {r.store_orders:>6}   net {format_nets(r.store_net)}")
        out.append(f"    orders in IFS:   {r.ifs_orders:>6}   net {format_nets(r.ifs_net)}")
        out.append(f"    orders equal to the cent: {r.orders_exact} of {r.ifs_orders}")
        if not rec.window.everything:
            out.append(f"    read in {r.chunks} chunk(s) of at most {r.largest_chunk} orders")
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
    if rec.errors:
        out.append(f"Sources not reconciled: {', '.join(r.source for r in rec.errors)}")
    return "\n".join(out)
