"""Transform and load (design.md §3.3–3.4): the heart of the pipeline.

*Transform* validates a staged record and maps it to a plan (pure functions in
``connector.mapping``); invalid data ends here as a failed record with a plain-words reason.

*Load* executes the plan against IFS, one record at a time (a Postgres advisory lock per store
record, so two versions of one record never load at once), idempotently:

1. the record link first (we created it before → update with ``If-Match``);
2. otherwise the natural-key lookup in IFS (``CustomerId``, ``CustomerPoNo``, voucher text) —
   a crash between an IFS create and our commit is healed here by adopting the record;
3. only then a create (customer with addresses and contacts, or order header with lines and
   charges, as one atomic ``$batch`` change set by default).

An older version never overwrites a newer one: versions are compared with the link's
``last_version`` and with newer staged versions. On 412 the loader re-reads and re-applies only
the fields the connector owns, a bounded number of times.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from connector.db import get_engine, session_scope
from connector.errors import Conflict, ConnectorError, DataError, Transient
from connector.ifs.batch import BatchRequest
from connector.ifs.client import IfsODataClient
from connector.ifs.odata import filter_eq, odata_key
from connector.mapping.common import MappingError
from connector.models import (
    FAILED,
    PARKED,
    PENDING,
    CustomerIndex,
    RecordLink,
    Source,
    StagedRecord,
    Tenant,
)
from connector.ratelimit import PrepaidBudget, RedisBudget
from connector.services import records
from connector.services.audit import audit
from connector.services.targets import ifs_actor, ifs_client

log = logging.getLogger(__name__)
T = TypeVar("T")

CUSTOMERS = "CustomerHandling"
ORDERS = "CustomerOrderHandling"
MAX_CONFLICT_ROUNDS = 3
PLAN_COST = 2  # IFS requests of a typical load: natural-key lookup + one change set


class Busy(Conflict):
    """Another worker holds this store record's lock: try again shortly."""


class Parked(Exception):
    """The record waits for an operator (e.g. BigCommerce skip policy, no IFS customer)."""


# Planners per (system, entity), registered by the source packages' planning modules.
Planner = Callable[[Session, Tenant, Source, StagedRecord], dict[str, Any]]
PLANNERS: dict[tuple[str, str], Planner] = {}


def planner(system: str, entity: str) -> Callable[[Planner], Planner]:
    def register(fn: Planner) -> Planner:
        PLANNERS[(system, entity)] = fn
        return fn

    return register


# --- transform ------------------------------------------------------------------------------


def transform(staged_id: int) -> bool:
    """Plan one staged record. True when it is ready to load; False when it ended here."""
    with session_scope() as s:
        rec = s.get(StagedRecord, staged_id)
        if rec is None or rec.state != PENDING:
            return False
        return _plan(s, rec)


def _plan(s: Session, rec: StagedRecord) -> bool:
    source = s.get(Source, rec.source_id)
    tenant = s.get(Tenant, rec.tenant_id)
    assert source is not None and tenant is not None
    from importlib import import_module

    from connector.services.fetch import SYSTEM_MODULES

    import_module(SYSTEM_MODULES[source.system])  # registers the system's planners
    fn = PLANNERS.get((source.system, rec.entity))
    if fn is None:
        records.mark_failed(s, rec, f"no mapping for {source.system} {rec.entity} records")
        return False
    try:
        rec.plan = fn(s, tenant, source, rec)
    except MappingError as exc:
        records.mark_failed(s, rec, "; ".join(exc.problems), kind="data")
        return False
    except Parked as exc:
        records.mark_parked(s, rec, str(exc))
        return False
    return True


# --- locking --------------------------------------------------------------------------------


def _lock_key(source_id: int, entity: str, external_id: str) -> int:
    digest = hashlib.sha256(f"mlc:{source_id}:{entity}:{external_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def record_lock(source_id: int, entity: str, external_id: str) -> Iterator[None]:
    """A session-level advisory lock on one store record, held across the IFS calls. A dead
    worker's connection closes and the lock goes with it."""
    key = _lock_key(source_id, entity, external_id)
    with get_engine().connect() as conn:
        got = bool(conn.execute(select(func.pg_try_advisory_lock(key))).scalar())
        conn.commit()
        if not got:
            raise Busy(f"{entity} {external_id} is being loaded by another worker",
                       retry_after=1.0)
        try:
            yield
        finally:
            conn.execute(select(func.pg_advisory_unlock(key)))
            conn.commit()


# --- audit of remote writes -----------------------------------------------------------------


@dataclass
class WriteContext:
    """Who writes what: every remote write gets one audit row, committed on its own so it
    survives whatever happens to the record's transaction."""

    tenant_id: int
    source_id: int | None
    entity: str
    external_id: str | None
    actor: str
    system: str = "ifs"

    def record(self, action: str, outcome: str, *, ifs_key: str | None = None,
               http_status: int | None = None, detail: str | None = None) -> None:
        with session_scope() as s:
            audit(s, tenant_id=self.tenant_id, source_id=self.source_id, system=self.system,
                  entity=self.entity, external_id=self.external_id, ifs_key=ifs_key,
                  action=action, actor=self.actor, outcome=outcome, http_status=http_status,
                  detail=detail)

    def write(self, action: str, ifs_key: str | None, fn: Callable[[], T]) -> T:
        try:
            result = fn()
        except ConnectorError as exc:
            self.record(action, "error", ifs_key=ifs_key, http_status=exc.status,
                        detail=str(exc))
            raise
        status = 201 if action.startswith("create") else 200
        self.record(action, "ok", ifs_key=ifs_key, http_status=status)
        return result


# --- load -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    state: str
    ifs_key: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class LinkSnapshot:
    ifs_key: str
    etag: str | None
    last_version: str | None
    content_hash: str | None
    details: dict[str, Any]


def load(staged_id: int) -> LoadResult:
    """Load one staged record into IFS (idempotent; safe to call again after any failure)."""
    with session_scope() as s:
        rec = s.get(StagedRecord, staged_id)
        if rec is None:
            return LoadResult("missing")
        if rec.state != PENDING:
            return LoadResult(rec.state, detail="already finished")
        key = (rec.source_id, rec.entity, rec.external_id)
    with record_lock(*key):
        return _load_locked(staged_id)


def _load_locked(staged_id: int) -> LoadResult:
    with session_scope() as s:
        rec = s.get(StagedRecord, staged_id)
        assert rec is not None
        if rec.state != PENDING:
            return LoadResult(rec.state, detail="already finished")
        if rec.plan is None and not _plan(s, rec):
            return LoadResult(rec.state, detail=rec.last_error or "")
        link = _link(s, rec.source_id, rec.entity, rec.external_id)
        if link is not None and link.last_version is not None and rec.version <= link.last_version:
            records.mark_superseded(
                s, rec, f"version {rec.version} is not newer than the applied {link.last_version}")
            return LoadResult(rec.state)
        if records.newer_version_exists(s, rec):
            records.mark_superseded(s, rec, "a newer version of this record is staged")
            return LoadResult(rec.state)
        tenant = s.get(Tenant, rec.tenant_id)
        source = s.get(Source, rec.source_id)
        assert tenant is not None and source is not None
        plan = dict(rec.plan or {})
        snapshot = _snapshot(link)
        ctx = WriteContext(tenant.id, source.id, rec.entity, rec.external_id,
                           ifs_actor(tenant, source))
        version, chash = rec.version, rec.content_hash
    client = ifs_client(tenant)
    if isinstance(client.budget, RedisBudget):
        # Reserve the plan's usual cost before any request (raises RateLimited to defer).
        # A plan that knows it needs more (a GL voucher: lookup, header, rows, action) says
        # so, so that it never starts without the tokens to finish.
        cost = int(plan.get("ifs_requests") or PLAN_COST)
        client.budget = PrepaidBudget.reserve(client.budget, cost)
    executor = PlanExecutor(client, ctx, tenant, source)
    try:
        ifs_key, etag, details = executor.execute(plan, snapshot, chash)
    except Parked as exc:
        with session_scope() as s:
            rec = s.get(StagedRecord, staged_id)
            assert rec is not None
            records.mark_parked(s, rec, str(exc))
        return LoadResult(PARKED, detail=str(exc))
    with session_scope() as s:
        rec = s.get(StagedRecord, staged_id)
        assert rec is not None
        save_link(s, tenant_id=tenant.id, source_id=source.id, entity=rec.entity,
                  external_id=rec.external_id, ifs_key=ifs_key, etag=etag, version=version,
                  content_hash=chash, details=details)
        if plan.get("kind") == "customer" and plan.get("email"):
            index_customer(s, tenant.id, str(plan["email"]), ifs_key, origin="connector")
        records.mark_done(s, rec)
    return LoadResult("done", ifs_key=ifs_key)


def _link(s: Session, source_id: int, entity: str, external_id: str) -> RecordLink | None:
    return s.scalar(select(RecordLink).where(
        RecordLink.source_id == source_id, RecordLink.entity == entity,
        RecordLink.external_id == external_id))


def _snapshot(link: RecordLink | None) -> LinkSnapshot | None:
    if link is None:
        return None
    return LinkSnapshot(link.ifs_key, link.etag, link.last_version, link.content_hash,
                        dict(link.details or {}))


def save_link(s: Session, *, tenant_id: int, source_id: int, entity: str, external_id: str,
              ifs_key: str, etag: str | None, version: str | None, content_hash: str | None,
              details: dict[str, Any]) -> None:
    """Upsert the store record → IFS key link (one IFS record per store record)."""
    values = {"tenant_id": tenant_id, "source_id": source_id, "entity": entity,
              "external_id": external_id, "ifs_key": ifs_key, "etag": etag,
              "last_version": version, "content_hash": content_hash, "details": details}
    stmt = insert(RecordLink).values(**values)
    stmt = stmt.on_conflict_do_update(
        constraint="uq_record_links_natural",
        set_={k: stmt.excluded[k] for k in ("ifs_key", "etag", "last_version", "content_hash",
                                            "details")} | {"updated_at": func.now()},
    )
    s.execute(stmt)


def index_customer(s: Session, tenant_id: int, email: str, customer_id: str,
                   origin: str) -> None:
    stmt = insert(CustomerIndex).values(tenant_id=tenant_id, email=email.strip().lower(),
                                        customer_id=customer_id, origin=origin)
    s.execute(stmt.on_conflict_do_update(
        constraint="uq_customer_index_email",
        set_={"customer_id": stmt.excluded.customer_id, "origin": stmt.excluded.origin,
              "updated_at": func.now()}))


def lookup_customer_by_email(s: Session, tenant_id: int, email: str) -> str | None:
    return s.scalar(select(CustomerIndex.customer_id).where(
        CustomerIndex.tenant_id == tenant_id, CustomerIndex.email == email.strip().lower()))


class PlanExecutor:
    """Runs one plan against IFS. Returns (IFS key, ETag, link details)."""

    def __init__(self, client: IfsODataClient, ctx: WriteContext, tenant: Tenant,
                 source: Source) -> None:
        self.client = client
        self.ctx = ctx
        self.tenant = tenant
        self.source = source

    def execute(self, plan: dict[str, Any], link: LinkSnapshot | None,
                content_hash: str) -> tuple[str, str | None, dict[str, Any]]:
        kind = plan.get("kind")
        if kind == "customer":
            return self.customer(plan, link, content_hash)
        if kind == "order":
            return self.order(plan, link)
        if kind == "voucher":
            from connector.services.vouchers import execute_voucher

            result: tuple[str, str | None, dict[str, Any]] = execute_voucher(self, plan, link)
            return result
        raise DataError(f"unknown plan kind {kind!r}")

    # -- shared --------------------------------------------------------------------------------

    def patch_owned(self, projection: str, entity_set: str, key: dict[str, str | int],
                    owned: dict[str, Any], etag: str | None) -> tuple[dict[str, Any], str | None]:
        """PATCH the connector-owned fields with If-Match; on 412 re-read and re-apply them
        (only them), at most ``MAX_CONFLICT_ROUNDS`` times (ifs-cloud.md Decisions 3)."""
        path = f"{entity_set}{odata_key(**key)}"
        ifs_key = ",".join(str(v) for v in key.values())
        for _ in range(MAX_CONFLICT_ROUNDS):
            if etag is None:
                fresh = self.client.get(projection, entity_set, key)
                if fresh is None:
                    raise DataError(f"{entity_set} {ifs_key} no longer exists in IFS")
                entity, etag = fresh
                if all(entity.get(k) == v for k, v in owned.items()):
                    return entity, etag
            current = etag or "*"  # an entity IFS served without an ETag: unconditional
            try:
                return self.ctx.write(
                    "update", ifs_key,
                    partial(self.client.patch, projection, path, owned, current))
            except Conflict:
                log.info("412 on %s %s: re-reading and re-applying owned fields", entity_set,
                         ifs_key)
                etag = None
        raise Conflict(f"{entity_set} {ifs_key} kept changing in IFS ({MAX_CONFLICT_ROUNDS} "
                       "re-reads); will try again")

    # -- customers -----------------------------------------------------------------------------

    def customer(self, plan: dict[str, Any], link: LinkSnapshot | None,
                 content_hash: str | None) -> tuple[str, str | None, dict[str, Any]]:
        cid = str(plan["customer_id"])
        key: dict[str, str | int] = {"CustomerId": cid}
        owned = dict(plan.get("owned") or {})
        if link is not None:
            if link.content_hash == content_hash and link.etag:
                return cid, link.etag, link.details
            _, etag = self.patch_owned(CUSTOMERS, "CustomerInfoSet", key, owned, link.etag)
            return cid, etag, {"owned": owned}
        found = self.client.get(CUSTOMERS, "CustomerInfoSet", key)
        if found is None and plan.get("email"):
            # A customer keyed in IFS by hand with the same e-mail (found by enrichment) is
            # the same buyer: link to it instead of creating a duplicate.
            with session_scope() as s:
                known = lookup_customer_by_email(s, self.tenant.id, str(plan["email"]))
            if known and known != cid:
                matched = self.client.get(CUSTOMERS, "CustomerInfoSet", {"CustomerId": known})
                if matched is not None:
                    self.ctx.record("adopt", "ok", ifs_key=known, http_status=200,
                                    detail=f"matched existing IFS customer {known} by e-mail")
                    return known, matched[1], {"owned": owned, "matched_by": "email"}
        if found is not None:
            entity, etag = found
            self.ctx.record("adopt", "ok", ifs_key=cid, http_status=200,
                            detail="customer already in IFS; linked instead of created")
            if any(entity.get(k) != v for k, v in owned.items()):
                _, etag = self.patch_owned(CUSTOMERS, "CustomerInfoSet", key, owned, etag)
            return cid, etag, {"owned": owned}
        requests = [BatchRequest("POST", "CustomerInfoSet", plan["create"], content_id="1")]
        for i, address in enumerate(plan.get("addresses") or [], start=2):
            requests.append(BatchRequest("POST", "$1/CustomerInfoAddresses", address,
                                         content_id=str(i)))
        offset = len(requests) + 1
        for i, method in enumerate(plan.get("comm_methods") or [], start=offset):
            requests.append(BatchRequest("POST", "$1/CommunicationMethods", method,
                                         content_id=str(i)))
        try:
            responses = self.ctx.write("create", cid,
                                       lambda: self.client.batch(CUSTOMERS, requests))
        except ConnectorError:
            # Created meanwhile by another worker (two orders of one buyer loading at once, or
            # the buyer's own customer record): adopt it instead of failing.
            again = self.client.get(CUSTOMERS, "CustomerInfoSet", key)
            if again is None:
                raise
            self.ctx.record("adopt", "ok", ifs_key=cid, http_status=200,
                            detail="customer created concurrently; linked instead of created")
            return cid, again[1], {"owned": owned}
        return cid, responses[0].etag, {"owned": owned}

    def ensure_inline_customer(self, plan: dict[str, Any]) -> str:
        """A customer that has no store record of its own (a guest): lookup, else create."""
        cid = str(plan["customer_id"])
        if self.client.get(CUSTOMERS, "CustomerInfoSet", {"CustomerId": cid}) is None:
            self.customer(plan, None, None)
        if plan.get("email"):
            with session_scope() as s:
                index_customer(s, self.tenant.id, plan["email"], cid, origin="connector")
        return cid

    # -- orders --------------------------------------------------------------------------------

    def resolve_customer(self, ref: dict[str, Any]) -> str:
        if ref.get("customer_id"):
            return str(ref["customer_id"])
        if ref.get("inline"):
            return self.ensure_inline_customer(ref["inline"])
        entity, external_id = ref["entity"], str(ref["external_id"])
        with session_scope() as s:
            link = _link(s, self.source.id, entity, external_id)
            if link is not None:
                return link.ifs_key
            pending = s.scalar(
                select(StagedRecord).where(
                    StagedRecord.source_id == self.source.id, StagedRecord.entity == entity,
                    StagedRecord.external_id == external_id)
                .order_by(StagedRecord.version.desc()).limit(1))
            pending_id = pending.id if pending is not None else None
            state = pending.state if pending is not None else None
            reason = pending.last_error if pending is not None else None
        if pending_id is None:
            raise Transient(f"{entity} {external_id} has not been fetched yet; the order waits "
                            "for it")
        if state == FAILED:
            raise DataError(f"{entity} {external_id} failed ({reason}); fix and replay it, then "
                            "replay this order")
        # Load the customer first, in this task (it takes the customer's own lock).
        result = load(pending_id)
        if result.state not in ("done", "superseded") or result.ifs_key is None:
            with session_scope() as s:
                link = _link(s, self.source.id, entity, external_id)
                if link is not None:
                    return link.ifs_key
            raise Transient(f"{entity} {external_id} is not in IFS yet ({result.state})")
        return result.ifs_key

    def find_order(self, po: str, site: str) -> tuple[dict[str, Any], str | None] | None:
        rows = list(self.client.query(ORDERS, "CustomerOrderSet",
                                      filter=filter_eq(CustomerPoNo=po, Contract=site), top=2))
        if not rows:
            return None
        if len(rows) > 1:
            raise DataError(f"IFS holds {len(rows)} orders with CustomerPoNo {po}; resolve the "
                            "duplicate in IFS, then replay")
        entity = rows[0]
        return entity, entity.get("@odata.etag")

    def order(self, plan: dict[str, Any],
              link: LinkSnapshot | None) -> tuple[str, str | None, dict[str, Any]]:
        header = dict(plan["header"])
        owned = dict(plan.get("owned") or {})
        if link is not None:
            if link.details.get("owned") == owned and link.etag:
                return link.ifs_key, link.etag, link.details
            key: dict[str, str | int] = {"OrderNo": link.ifs_key}
            _, etag = self.patch_owned(ORDERS, "CustomerOrderSet", key, owned, link.etag)
            return link.ifs_key, etag, {**link.details, "owned": owned}
        header["CustomerNo"] = self.resolve_customer(plan["customer"])
        po, site = str(plan["customer_po_no"]), str(header["Contract"])
        found = self.find_order(po, site)
        mode = str((self.tenant.settings or {}).get("order_mode", "batch"))
        if found is not None:
            entity, etag = found
            order_no = str(entity["OrderNo"])
            self.ctx.record("adopt", "ok", ifs_key=order_no, http_status=200,
                            detail=f"order {po} already in IFS; linked instead of created")
            self.complete_lines(order_no, plan)
            if any(entity.get(k) != v for k, v in owned.items()):
                _, etag = self.patch_owned(ORDERS, "CustomerOrderSet", {"OrderNo": order_no},
                                           owned, etag)
            return order_no, etag, {"owned": owned, "lines": len(plan["lines"])}
        if mode == "sequential":
            entity, etag = self.ctx.write(
                "create", po, lambda: self.client.create(ORDERS, "CustomerOrderSet", header))
            order_no = str(entity["OrderNo"])
            self.complete_lines(order_no, plan)
            return order_no, etag, {"owned": owned, "lines": len(plan["lines"])}
        requests = [BatchRequest("POST", "CustomerOrderSet", header, content_id="1")]
        for i, line in enumerate(plan["lines"], start=2):
            requests.append(BatchRequest("POST", "$1/OrderLinesArray", line, content_id=str(i)))
        offset = len(requests) + 1
        for i, charge in enumerate(plan.get("charges") or [], start=offset):
            requests.append(BatchRequest("POST", "$1/CustomerOrderChargeArray", charge,
                                         content_id=str(i)))
        responses = self.ctx.write("create", po, lambda: self.client.batch(ORDERS, requests))
        order_no = str(responses[0].body["OrderNo"])
        return order_no, responses[0].etag, {"owned": owned, "lines": len(plan["lines"])}

    def complete_lines(self, order_no: str, plan: dict[str, Any]) -> None:
        """Add the lines (and charges) IFS does not have yet: a resumed sequential load adds
        only what is missing. Lines are recognised by ``CustomerPoLineNo`` (their position in
        the store order)."""
        existing = {
            str(row.get("CustomerPoLineNo"))
            for row in self.client.query(ORDERS, "CustomerOrderLineSet",
                                         filter=filter_eq(OrderNo=order_no),
                                         select=["OrderNo", "LineNo", "CustomerPoLineNo"])
        }
        base = f"CustomerOrderSet{odata_key(OrderNo=order_no)}"
        for line in plan["lines"]:
            if str(line.get("CustomerPoLineNo")) in existing:
                continue
            self.ctx.write("create-line", order_no, partial(
                self.client.create, ORDERS, f"{base}/OrderLinesArray", line))
        charges = plan.get("charges") or []
        if charges:
            have = [(row.get("ChargeType"), row.get("ChargeAmount")) for row in
                    self.client.query(ORDERS, f"{base}/CustomerOrderChargeArray")]
            for charge in charges:
                sig = (charge.get("ChargeType"), charge.get("ChargeAmount"))
                if sig in have:
                    have.remove(sig)
                    continue
                self.ctx.write("create-charge", order_no, partial(
                    self.client.create, ORDERS, f"{base}/CustomerOrderChargeArray", charge))
