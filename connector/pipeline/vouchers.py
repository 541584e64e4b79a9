"""Load step for plans of kind ``voucher`` (BigCommerce payments, shipments and refunds,
issue 5 §5) — called by :class:`connector.pipeline.executor.PlanExecutor`.

Exactly one voucher per store event, across retries and crashes (ifs-cloud.md Decisions 6–7):
the voucher text (``VoucherText2``) is the event's natural key. The write intent is committed
before the voucher is posted (``intents.py``); only an event attempted before without a known
outcome (a task that crashed between ``CreateVoucher`` and our commit) is looked up by its text
first and adopted if found. The voucher goes out as one change set (header, rows and
``CreateVoucher``), or step by step with ``voucher_mode=steps`` (the wizard then removes its
temporary voucher when a step fails). The record lock held by the loader means one event is
never loaded twice at once.

Afterwards, where the tenant maps a label for the event (``bc_order_labels``), the IFS order's
``LabelNote`` is updated with the ETag stored on the order's link (the link also remembers the
label), so an order nobody else touched costs one PATCH; on 412 the order is re-read and the
label re-decided. A label from a later event is not overwritten by an earlier one (a refunded
order stays "refunded" when its shipment is processed late).
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from connector.db import session_scope
from connector.errors import Conflict, DataError, Transient
from connector.ifs.odata import odata_key
from connector.ifs.vouchers import VoucherPlan, VoucherRow, VoucherWizard
from connector.models import FAILED, PARKED, RecordLink, StagedRecord
from connector.pipeline import records
from connector.pipeline.links import LinkSnapshot, remember_order_label
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
        look_up, _ = executor.intend("voucher", vplan.text, plan)
        existing = wizard.find_voucher_by_text(vplan.company, vplan.text) if look_up else None
        if existing is not None:
            # A previous attempt posted it and died before our commit: adopt, never repost.
            executor.ctx.record("adopt", "ok", ifs_key=str(existing), http_status=200,
                                detail=f"voucher {existing} already posted for {text}")
            number = existing
        else:
            steps = str((executor.tenant.settings or {}).get("voucher_mode", "batch")) == "steps"
            post = wizard.create if steps else wizard.create_in_one_changeset
            number = executor.ctx.write("create-voucher", text, lambda: post(vplan))
        executor.completed("voucher", vplan.text, str(number))
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
        order_link = s.scalar(select(RecordLink).where(
            RecordLink.source_id == executor.source.id, RecordLink.entity == "order",
            RecordLink.external_id == order_id))
        order_key = order_link.ifs_key if order_link is not None else None
        link_etag = order_link.etag if order_link is not None else None
        known = dict(order_link.details or {}) if order_link is not None else {}
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
    outranked = label.get("outranked_by") or []
    if link_etag and "label_note" in known:
        # The order's link knows its label and ETag: decide without reading the order, PATCH
        # with that ETag; a 412 (someone changed the order) falls back to re-reading it.
        current = known["label_note"]
        if current == value or current in outranked:
            return str(current)
        path = f"CustomerOrderSet{odata_key(**key)}"
        try:
            _, etag = executor.ctx.write("update", order_key, partial(
                executor.client.patch, ORDERS, path, {"LabelNote": value}, link_etag))
        except Conflict:
            log.info("412 on order %s: re-reading it to set the %s label", order_key, event)
        else:
            _remember(executor, order_id, link_etag, etag, value)
            return value
    found = executor.client.get(ORDERS, "CustomerOrderSet", key)
    if found is None:
        raise DataError(f"IFS order {order_key} (store order {order_id}) no longer exists; the "
                        f"{event} label cannot be set")
    entity, etag = found
    current = entity.get("LabelNote")
    if current == value or current in outranked:
        _remember(executor, order_id, link_etag, etag, str(current))
        return str(current)
    _, new_etag = executor.patch_owned(ORDERS, "CustomerOrderSet", key, {"LabelNote": value},
                                       etag)
    _remember(executor, order_id, link_etag, new_etag, value)
    return value


def _remember(executor: PlanExecutor, order_id: str, old_etag: str | None,
              new_etag: str | None, label: str) -> None:
    with session_scope() as s:
        remember_order_label(s, executor.source.id, order_id, old_etag, new_etag, label)
