"""Load step for plans of kind ``voucher`` (BigCommerce payments, shipments and refunds,
issue 5 §5) — called by :class:`connector.pipeline.executor.PlanExecutor`.

Exactly one voucher per store event, across retries and crashes (ifs-cloud.md Decisions 6–7):
the voucher text (``VoucherText2``) is the event's natural key and is looked up before anything
is created, so a task that crashed between ``CreateVoucher`` and our commit adopts the voucher
on its retry; the wizard removes its temporary voucher when a step fails. The record lock held
by the loader means one event is never loaded twice at once.

Afterwards, where the tenant maps a label for the event (``bc_order_labels``), the IFS order's
``LabelNote`` is updated with If-Match (``PlanExecutor.patch_owned``: re-read and re-apply on
412). A label from a later event is not overwritten by an earlier one (a refunded order stays
"refunded" when its shipment is processed late).
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from connector.db import session_scope
from connector.errors import DataError, Transient
from connector.ifs.vouchers import VoucherPlan, VoucherRow, VoucherWizard
from connector.models import FAILED, PARKED, RecordLink, StagedRecord
from connector.pipeline import records
from connector.pipeline.links import LinkSnapshot
from connector.pipeline.records import Parked

if TYPE_CHECKING:  # the executor calls this module; it is only a type here
    from connector.pipeline.executor import PlanExecutor

log = logging.getLogger(__name__)

ORDERS = "CustomerOrderHandling"


def voucher_plan(plan: dict[str, Any]) -> VoucherPlan:
    """The wizard's :class:`VoucherPlan` from the JSON plan (amounts travel as strings so they
    stay exact Decimals)."""
    try:
        rows = [VoucherRow(account=str(r["account"]), debit=Decimal(str(r.get("debit") or "0")),
                           credit=Decimal(str(r.get("credit") or "0")),
                           codes=dict(r.get("codes") or {}), text=r.get("text"))
                for r in plan.get("rows") or []]
        return VoucherPlan(company=str(plan["company"]), voucher_type=str(plan["voucher_type"]),
                           voucher_date=date.fromisoformat(str(plan["voucher_date"])),
                           currency=str(plan["currency"]), text=str(plan["text"]), rows=rows)
    except (KeyError, ValueError, ArithmeticError) as exc:
        raise DataError(f"the voucher plan is incomplete ({exc}); replay the record") from None


def execute_voucher(executor: PlanExecutor, plan: dict[str, Any],
                    link: LinkSnapshot | None) -> tuple[str, str | None, dict[str, Any]]:
    """Post the event's voucher (or find the one posted before) and apply the order label.
    Returns (voucher number, None, link details)."""
    text = str(plan.get("text") or "")
    if link is not None:
        # This event has its voucher already; a newer version of the event changes nothing in
        # the books (one voucher per store event). Only a label mapped since then is applied.
        _apply_label(executor, plan)
        return link.ifs_key, link.etag, link.details
    if plan.get("skip_reason") or not plan.get("rows"):
        reason = str(plan.get("skip_reason") or "nothing to post")
        executor.ctx.record("skip", "ok", detail=reason)
        details: dict[str, Any] = {"text": text, "skipped": reason}
        key = f"none:{text}"[:200]
    else:
        vplan = voucher_plan(plan)
        vplan.validate()  # debit == credit, accounts present: before any request
        wizard = VoucherWizard(executor.client)
        existing = wizard.find_voucher_by_text(vplan.company, vplan.text)
        if existing is not None:
            # A previous attempt posted it and died before our commit: adopt, never repost.
            executor.ctx.record("adopt", "ok", ifs_key=str(existing), http_status=200,
                                detail=f"voucher {existing} already posted for {text}")
            number = existing
        else:
            number = executor.ctx.write("create-voucher", text,
                                        lambda: wizard.create(vplan))
        key = str(number)
        details = {"text": text, "voucher_no": number, "company": vplan.company,
                   "voucher_type": vplan.voucher_type, "amount": str(plan.get("amount")),
                   "currency": vplan.currency}
    label = _apply_label(executor, plan)
    if label:
        details["label"] = label
    return key, None, details


def _apply_label(executor: PlanExecutor, plan: dict[str, Any]) -> str | None:
    """Set the IFS order's ``LabelNote`` for this event, if the tenant maps one."""
    label = plan.get("label")
    if not isinstance(label, dict) or not label.get("value"):
        return None
    value = str(label["value"])
    order_id = str(label.get("order_external_id") or "")
    with session_scope() as s:
        order_key = s.scalar(select(RecordLink.ifs_key).where(
            RecordLink.source_id == executor.source.id, RecordLink.entity == "order",
            RecordLink.external_id == order_id))
        latest = s.scalar(select(StagedRecord).where(
            StagedRecord.source_id == executor.source.id, StagedRecord.entity == "order",
            StagedRecord.external_id == order_id)
            .order_by(*records.newest_first()).limit(1))
        state = latest.state if latest is not None else None
        reason = latest.last_error if latest is not None else None
    event = plan.get("event", "event")
    if order_key is None:
        if state in (PARKED, FAILED):
            raise Parked(f"the {event} voucher is posted; the order label waits for order "
                         f"{order_id}, which is {state} ({reason}); replay the order, then "
                         "this record")
        # No wait hint: the task's exponential backoff gives a slow order load minutes.
        raise Transient(f"order {order_id} is not in IFS yet; the {event} label waits for it")
    key: dict[str, str | int] = {"OrderNo": order_key}
    found = executor.client.get(ORDERS, "CustomerOrderSet", key)
    if found is None:
        raise DataError(f"IFS order {order_key} (store order {order_id}) no longer exists; the "
                        f"{event} label cannot be set")
    entity, etag = found
    current = entity.get("LabelNote")
    if current == value or current in (label.get("outranked_by") or []):
        return str(current)
    executor.patch_owned(ORDERS, "CustomerOrderSet", key, {"LabelNote": value}, etag)
    return value
