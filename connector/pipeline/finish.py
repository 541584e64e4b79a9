"""A load's final writes in one round trip (issue 14: "one database round trip where there
are three").

After the IFS write, the load records, atomically: the deferred audit rows of its successful
writes, the write-intent outcomes, the record link, the customer e-mail index (a customer),
and the record's done state with its plan. They touch different tables and none reads what
another writes, so they go as data-modifying CTEs of one statement, whose ``SELECT`` returns
the tenant's open "IFS rejects our credentials" alerts, which the caller then resolves (IFS
took a write). Postgres runs every part of the statement, or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from connector import metrics
from connector.logs import scrub
from connector.models import (
    DONE,
    Alert,
    AuditEvent,
    CustomerIndex,
    RecordLink,
    StagedRecord,
    WriteIntent,
)
from connector.pipeline.audit import IFS_AUTH_FAILED, WriteContext, close_alert


@dataclass(frozen=True)
class Done:
    """What a successful load writes."""

    staged_id: int
    ifs_key: str
    etag: str | None
    version: str | None
    content_hash: str | None
    details: dict[str, Any]
    plan: dict[str, Any] | None  # stored when this load planned the record
    email: str | None = None  # a customer's e-mail, for the index


def finish_done(s: Session, ctx: WriteContext, outcomes: list[tuple[str, str, str]],
                done: Done) -> None:
    """Write everything of a successful load in one statement (then resolve, rarely, an open
    IFS-credentials alert). The caller commits."""
    tenant_id = ctx.tenant_id
    ctes: list[Any] = []
    for i, (kind, natural_key, ifs_key) in enumerate(outcomes):
        ctes.append(update(WriteIntent).where(
            WriteIntent.tenant_id == tenant_id, WriteIntent.kind == kind,
            WriteIntent.natural_key == natural_key[:200])
            .values(ifs_key=ifs_key[:200], completed_at=func.now()).cte(f"intent_{i}"))
    rows = [{"tenant_id": tenant_id, "source_id": ctx.source_id, "direction": "store->ifs",
             "system": ctx.system, "entity": ctx.entity, "external_id": ctx.external_id,
             "actor": ctx.actor, "action": row["action"], "outcome": row["outcome"],
             "ifs_key": row["ifs_key"], "http_status": row["http_status"],
             "detail": scrub(row["detail"] or None, 2000)} for row in ctx.pending]
    ctx.pending.clear()
    if rows:
        ctes.append(insert(AuditEvent).values(rows).cte("audit"))
    link = pg_insert(RecordLink).values(
        tenant_id=tenant_id, source_id=ctx.source_id, entity=ctx.entity,
        external_id=str(ctx.external_id), ifs_key=done.ifs_key, etag=done.etag,
        last_version=done.version, content_hash=done.content_hash, details=done.details)
    ctes.append(link.on_conflict_do_update(
        constraint="uq_record_links_natural",
        set_={k: link.excluded[k] for k in ("ifs_key", "etag", "last_version", "content_hash",
                                            "details")} | {"updated_at": func.now()})
        .cte("link"))
    if done.email:
        index = pg_insert(CustomerIndex).values(
            tenant_id=tenant_id, email=done.email.strip().lower(), customer_id=done.ifs_key,
            origin="connector")
        ctes.append(index.on_conflict_do_update(
            constraint="uq_customer_index_email",
            set_={"customer_id": index.excluded.customer_id, "origin": index.excluded.origin,
                  "updated_at": func.now()}).cte("email"))
    values: dict[str, Any] = {"state": DONE, "last_error": None, "error_kind": None,
                              "enqueued_at": None, "failing_since": None}
    if done.plan is not None:
        values["plan"] = done.plan
    ctes.append(update(StagedRecord).where(StagedRecord.id == done.staged_id)
                .values(**values).cte("done"))
    open_alerts = (select(Alert.id).where(
        Alert.tenant_id == tenant_id, Alert.source_id.is_(None),
        Alert.kind == IFS_AUTH_FAILED, Alert.state == "open").add_cte(*ctes))
    alert_ids = list(s.scalars(open_alerts))
    metrics.record_finished(DONE)
    for alert_id in alert_ids:  # IFS took a write: the credentials alert is over
        alert = s.get(Alert, alert_id)
        if alert is not None and alert.state == "open":
            close_alert(s, alert)
