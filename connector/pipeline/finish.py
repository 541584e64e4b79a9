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

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from connector import metrics
from connector.logs import scrub
from connector.models import (
    DONE,
    Alert,
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


#: One fixed statement (no per-call SQL construction or compilation: that was most of the
#: load's final step in a py-spy profile). Lists go in as JSON documents.
FINISH = text("""
WITH intents AS (
  UPDATE write_intents w SET ifs_key = o.ifs_key, completed_at = now()
  FROM jsonb_to_recordset(CAST(:outcomes AS jsonb)) AS o(kind text, natural_key text, ifs_key text)
  WHERE w.tenant_id = :tenant AND w.kind = o.kind AND w.natural_key = o.natural_key
), audit AS (
  INSERT INTO audit_events (tenant_id, source_id, direction, system, entity, external_id, ifs_key,
                            action, actor, outcome, http_status, detail)
  SELECT :tenant, :source, 'store->ifs', :system, :entity, :external_id, a.ifs_key, a.action,
         :actor, a.outcome, a.http_status, a.detail
  FROM jsonb_to_recordset(CAST(:audits AS jsonb))
       AS a(ifs_key text, action text, outcome text, http_status int, detail text)
), link AS (
  INSERT INTO record_links (tenant_id, source_id, entity, external_id, ifs_key, etag, last_version,
                            content_hash, details)
  VALUES (:tenant, :source, :entity, :external_id, :ifs_key, :etag, :version, :content_hash,
          CAST(:details AS jsonb))
  ON CONFLICT ON CONSTRAINT uq_record_links_natural DO UPDATE SET
    ifs_key = EXCLUDED.ifs_key, etag = EXCLUDED.etag, last_version = EXCLUDED.last_version,
    content_hash = EXCLUDED.content_hash, details = EXCLUDED.details, updated_at = now()
), email AS (
  INSERT INTO customer_index (tenant_id, email, customer_id, origin)
  SELECT :tenant, CAST(:email AS text), :ifs_key, 'connector' WHERE CAST(:email AS text) IS NOT NULL
  ON CONFLICT ON CONSTRAINT uq_customer_index_email DO UPDATE SET
    customer_id = EXCLUDED.customer_id, origin = EXCLUDED.origin, updated_at = now()
), done AS (
  UPDATE staged_records SET state = 'done', last_error = NULL, error_kind = NULL,
    enqueued_at = NULL, failing_since = NULL, plan = COALESCE(CAST(:plan AS jsonb), plan),
    updated_at = now()
  WHERE id = :staged_id
)
SELECT id FROM alerts
WHERE tenant_id = :tenant AND source_id IS NULL AND kind = :alert_kind AND state = 'open'
""")


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def finish_done(s: Session, ctx: WriteContext, outcomes: list[tuple[str, str, str]],
                done: Done) -> None:
    """Write everything of a successful load in one statement (then resolve, rarely, an open
    IFS-credentials alert). The caller commits."""
    audits = [{"ifs_key": row["ifs_key"], "action": row["action"], "outcome": row["outcome"],
               "http_status": row["http_status"], "detail": scrub(row["detail"] or None, 2000)}
              for row in ctx.pending]
    ctx.pending.clear()
    params = {
        "tenant": ctx.tenant_id, "source": ctx.source_id, "system": ctx.system,
        "entity": ctx.entity, "external_id": str(ctx.external_id), "actor": ctx.actor,
        "outcomes": _json([{"kind": kind, "natural_key": key[:200], "ifs_key": ifs_key[:200]}
                           for kind, key, ifs_key in outcomes]),
        "audits": _json(audits), "ifs_key": done.ifs_key, "etag": done.etag,
        "version": done.version, "content_hash": done.content_hash,
        "details": _json(done.details),
        "email": done.email.strip().lower() if done.email else None,
        "plan": _json(done.plan) if done.plan is not None else None,
        "staged_id": done.staged_id, "alert_kind": IFS_AUTH_FAILED,
    }
    alert_ids = list(s.scalars(FINISH, params))
    metrics.record_finished(DONE)
    for alert_id in alert_ids:  # IFS took a write: the credentials alert is over
        alert = s.get(Alert, alert_id)
        if alert is not None and alert.state == "open":
            close_alert(s, alert)
