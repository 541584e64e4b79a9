"""Side by side for one record: the stored payload, what the store holds now, the IFS command
the store's planner maps it to, and the IFS record as it is now — with the differences.

Nothing here writes: the planner runs inside a savepoint that is always rolled back, the
store and IFS are only read (an operator's one-off reads, outside the fleet budget, like a
reconciliation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from connector.errors import ConnectorError
from connector.ifs.odata import filter_eq
from connector.models import RecordLink, Source, StagedRecord, Tenant
from connector.pipeline.executor import CUSTOMERS, ORDERS
from connector.pipeline.records import Incoming, Parked
from connector.pipeline.targets import ifs_client
from connector.stores.mapping import MappingError
from connector.stores.registry import get_store

MAX_FIELDS = 400
NEVER_PLANNED = ("not in IFS: the record was never mapped, so the connector never wrote it "
                 "(no IFS key)")


@dataclass
class PlanPreview:
    """What a (re)play of a payload would do: ``ready`` with the plan, or why it would not."""

    outcome: str  # ready | failed | parked | error
    plan: dict[str, Any] | None = None
    problem: str | None = None

    @property
    def plan_json(self) -> str:
        return json.dumps(self.plan, indent=2, sort_keys=True, default=str) if self.plan else ""


def preview_plan(session: Session, tenant: Tenant, source: Source, entity: str,
                 external_id: str, version: str, payload: dict[str, Any]) -> PlanPreview:
    """Run the store's planner (the transform step) on ``payload`` without writing anything."""
    fn = get_store(source.system).planners.get(entity)
    if fn is None:
        return PlanPreview("failed", problem=f"no mapping for {source.system} {entity} records")
    rec = StagedRecord(tenant_id=tenant.id, source_id=source.id, entity=entity,
                       external_id=external_id, version=version, payload=payload,
                       origin="replay", state="pending")
    savepoint = session.begin_nested()
    try:
        return PlanPreview("ready", plan=fn(session, tenant, source, rec))
    except MappingError as exc:
        return PlanPreview("failed", problem="; ".join(exc.problems))
    except Parked as exc:
        return PlanPreview("parked", problem=str(exc))
    except ConnectorError as exc:
        return PlanPreview("error", problem=str(exc))
    finally:
        savepoint.rollback()


def read_current(source: Source, rec: StagedRecord) -> tuple[Incoming | None, str | None]:
    """The record as the store holds it now: (version, error). None when it is gone."""
    reader = get_store(source.system).read_one
    if reader is None:
        return None, f"{source.system} cannot read one record"
    try:
        rows = reader(source.id, rec.entity, rec.external_id)
    except ConnectorError as exc:
        return None, f"could not read the store: {exc}"
    for row in rows:
        if row.entity == rec.entity and row.external_id == rec.external_id:
            return row, None
    return None, "the store no longer has this record"


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """``{"billing.email": "…", "line_items[0].sku": "…"}`` (scalars as JSON text)."""
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for k in sorted(value):
            out.update(flatten(value[k], f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{i}]"))
        if not value:
            out[prefix] = "[]"
    else:
        out[prefix] = value if isinstance(value, str) else json.dumps(value, default=str)
    return out


@dataclass
class FieldRow:
    name: str
    left: str | None
    right: str | None

    @property
    def differs(self) -> bool:
        return self.left != self.right


def diff_fields(left: dict[str, str], right: dict[str, str] | None,
                only_left: bool = False) -> list[FieldRow]:
    names = list(left) if only_left or right is None else sorted(set(left) | set(right))
    return [FieldRow(n, left.get(n), (right or {}).get(n)) for n in names[:MAX_FIELDS]]


def _ifs_view(plan: dict[str, Any] | None, link: RecordLink | None, tenant: Tenant,
              entity: str) -> tuple[dict[str, str], dict[str, str] | None, str | None]:
    """(mapped command fields, IFS fields now or None, note)."""
    mapped: dict[str, str] = {}
    kind = (plan or {}).get("kind") or ("order" if entity == "order" else
                                        "customer" if entity == "customer" else "voucher")
    if plan and kind == "order":
        mapped = {k: str(v) for k, v in dict(plan.get("header") or {}).items()}
        mapped["(lines)"] = str(len(plan.get("lines") or []))
        mapped["(net ex tax)"] = str((plan.get("totals") or {}).get("net", ""))
    elif plan and kind == "customer":
        mapped = {k: str(v) for k, v in dict(plan.get("create") or {}).items()}
    elif plan:
        mapped = flatten({k: v for k, v in plan.items() if k not in ("ifs_requests",)})
    try:
        client = ifs_client(tenant)
        client.budget = None  # an operator's one-off read
        if kind == "order":
            if link is not None:
                flt = filter_eq(OrderNo=link.ifs_key)
            elif plan:
                flt = filter_eq(CustomerPoNo=str(plan["customer_po_no"]),
                                Contract=str((plan.get("header") or {}).get("Contract", "")))
            else:
                return mapped, None, NEVER_PLANNED
            rows = list(client.query(ORDERS, "CustomerOrderSet", filter=flt, top=2))
            if not rows:
                return mapped, None, "not in IFS"
            order = rows[0]
            now = {k: str(v) for k, v in order.items() if not k.startswith("@")}
            lines = list(client.query(ORDERS, "CustomerOrderLineSet",
                                      filter=filter_eq(OrderNo=str(order["OrderNo"])),
                                      select=["OrderNo", "BuyQtyDue", "SaleUnitPrice"]))
            net = sum((Decimal(str(r.get("BuyQtyDue") or 0))
                       * Decimal(str(r.get("SaleUnitPrice") or 0)) for r in lines), Decimal(0))
            now["(lines)"] = str(len(lines))
            now["(net ex tax)"] = str(net.quantize(Decimal("0.01")))
            return mapped, now, None
        if kind == "customer":
            cid = link.ifs_key if link is not None else (plan or {}).get("customer_id")
            if not cid:
                return mapped, None, NEVER_PLANNED
            found = client.get(CUSTOMERS, "CustomerInfoSet", {"CustomerId": str(cid)})
            if found is None:
                return mapped, None, "not in IFS"
            return mapped, {k: str(v) for k, v in found[0].items()
                            if not k.startswith("@")}, None
    except ConnectorError as exc:
        return mapped, None, f"could not read IFS: {exc}"
    return mapped, None, "vouchers are shown by their IFS key only"


@dataclass
class Comparison:
    stored: dict[str, str]
    current: Incoming | None
    current_note: str | None
    store_changes: list[FieldRow]
    preview: PlanPreview
    mapped_vs_ifs: list[FieldRow] = field(default_factory=list)
    ifs_note: str | None = None

    @property
    def store_changed(self) -> bool:
        return bool(self.store_changes)


def compare(session: Session, rec: StagedRecord, tenant: Tenant, source: Source,
            link: RecordLink | None) -> Comparison:
    """Everything the record page shows side by side for a failed or parked record."""
    stored = flatten(rec.payload)
    current, note = read_current(source, rec)
    changes = ([r for r in diff_fields(stored, flatten(current.payload)) if r.differs]
               if current is not None else [])
    basis = current if current is not None else Incoming(rec.entity, rec.external_id,
                                                         rec.version, rec.payload)
    preview = preview_plan(session, tenant, source, rec.entity, rec.external_id,
                           basis.version, basis.payload)
    mapped, now, ifs_note = _ifs_view(preview.plan or rec.plan, link, tenant, rec.entity)
    rows = diff_fields(mapped, now, only_left=True) if mapped else []
    return Comparison(stored, current, note, changes, preview, rows, ifs_note)
