"""The write-intent journal (design.md §3.4): what lets a create skip the natural-key lookup.

IFS has no idempotency keys (ifs-cloud.md §7): a retried POST duplicates. Before, every load
looked the record up by its natural key before creating it, paying one request per new record
for the rare crash. Now the load first commits an *intent* (tenant, kind, IFS natural key, plan
hash) and then creates:

* no earlier intent: nothing can exist in IFS through us, so the create goes out without a
  lookup (one request per new record);
* an earlier intent without an outcome: an attempt may have created it and died (SIGKILL
  mid-``$batch``, a dropped answer): the record is looked up first and adopted if found;
* an earlier intent with an outcome: the create happened (the key is known).

The tenant setting ``adopt_existing_ifs_records`` keeps the lookup before every create, for a
first sync over history keyed into IFS by hand (and, after the upgrade, for tenants that synced
before the journal existed; see the migration ``0002_14``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, literal_column, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from connector.db import session_scope
from connector.models import Tenant, WriteIntent

ADOPT_SETTING = "adopt_existing_ifs_records"


@dataclass(frozen=True)
class Prior:
    """What the journal knew before this attempt's intent: ``seen`` is False for a record never
    attempted; ``ifs_key`` is set when an earlier attempt's create is known to have happened."""

    seen: bool
    ifs_key: str | None = None

    @property
    def unknown_outcome(self) -> bool:
        return self.seen and self.ifs_key is None


def plan_hash(plan: Any) -> str:
    blob = json.dumps(plan, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def adopts_existing(tenant: Tenant) -> bool:
    """The tenant asked for a lookup before every create (hand-keyed IFS history)."""
    value = (tenant.settings or {}).get(ADOPT_SETTING, False)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


_INSERT = insert(WriteIntent).values(
    tenant_id=bindparam("tenant_id"), kind=bindparam("kind"),
    natural_key=bindparam("natural_key"), plan_hash=bindparam("plan_hash"),
    staged_id=bindparam("staged_id"))
#: Built once: a load writes an intent for every create.
_BEGIN: Any = _INSERT.on_conflict_do_update(
    constraint="uq_write_intents_natural",
    set_={"plan_hash": _INSERT.excluded.plan_hash, "staged_id": _INSERT.excluded.staged_id,
          "attempts": WriteIntent.attempts + 1},
).returning(literal_column("(xmax = 0)").label("inserted"), WriteIntent.ifs_key)


def begin(tenant_id: int, kind: str, natural_key: str, plan: Any,
          staged_id: int | None = None, session: Session | None = None) -> Prior:
    """Write the intent to create ``kind`` ``natural_key`` (one statement) and return what
    the journal held before. It must be committed before the create is sent: in its own
    transaction, or in ``session``, which the caller then commits (the load's planning
    transaction)."""
    params = {"tenant_id": tenant_id, "kind": kind, "natural_key": natural_key[:200],
              "plan_hash": plan_hash(plan), "staged_id": staged_id}
    if session is not None:
        inserted, ifs_key = session.execute(_BEGIN, params).one()
    else:
        with session_scope() as s:
            inserted, ifs_key = s.execute(_BEGIN, params).one()
    if inserted:
        return Prior(seen=False)
    return Prior(seen=True, ifs_key=ifs_key)


def complete(session: Session, tenant_id: int,
             outcomes: Iterable[tuple[str, str, str]]) -> None:
    """Record outcomes ``(kind, natural key, IFS key)``: those records exist in IFS. Written in
    the load's final transaction, beside the record link (an outcome that is lost costs the
    next attempt one lookup, never a duplicate)."""
    for kind, natural_key, ifs_key in outcomes:
        session.execute(update(WriteIntent).where(
            WriteIntent.tenant_id == tenant_id, WriteIntent.kind == kind,
            WriteIntent.natural_key == natural_key[:200])
            .values(ifs_key=ifs_key[:200], completed_at=func.now()))
