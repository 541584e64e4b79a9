"""The plan executor (design.md §3.4): runs one plan against IFS, idempotently.

1. the record link first (we created it before → nothing when the owned fields are unchanged,
   else one PATCH with the stored ``If-Match``);
2. otherwise the write-intent journal (``intents.py``): the intent is committed, and only a
   record attempted before without a known outcome (a crash between an IFS create and our
   commit) — or every record of a tenant that adopts existing IFS records — is looked up by
   natural key (``CustomerId``, ``CustomerPoNo``, voucher text) and adopted if found;
3. then a create (customer with addresses and contacts, or order header with lines and
   charges, as one atomic ``$batch`` change set by default): one request per new record.

On 412 the executor re-reads and re-applies only the fields the connector owns, a bounded
number of times. Vouchers (BigCommerce payments, shipments, refunds) are in ``vouchers.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.db import session_scope
from connector.errors import Conflict, ConnectorError, DataError, Transient
from connector.ifs.batch import BatchRequest
from connector.ifs.client import IfsODataClient
from connector.ifs.odata import filter_eq, odata_key
from connector.models import FAILED, Source, StagedRecord, Tenant
from connector.pipeline import intents, records
from connector.pipeline.audit import WriteContext
from connector.pipeline.identity import ensure_own_customer
from connector.pipeline.links import (
    LinkSnapshot,
    get_link,
    index_customer,
    lookup_customer_by_email,
)
from connector.pipeline.vouchers import execute_voucher

log = logging.getLogger(__name__)

CUSTOMERS = "CustomerHandling"
ORDERS = "CustomerOrderHandling"
MAX_CONFLICT_ROUNDS = 3

#: Loads a record this plan depends on (an order's customer) in the same task:
#: ``staged id -> (state, IFS key or None)``.
DependencyLoader = Callable[[int], tuple[str, str | None]]


class PlanExecutor:
    """Runs one plan against IFS. Returns (IFS key, ETag, link details)."""

    def __init__(self, client: IfsODataClient, ctx: WriteContext, tenant: Tenant,
                 source: Source, load_dependency: DependencyLoader,
                 planning: Session | None = None) -> None:
        self.client = client
        self.ctx = ctx
        self.tenant = tenant
        self.source = source
        self.load_dependency = load_dependency
        #: The load's planning transaction, still open: the reads before the first IFS
        #: request and the write intent go in it; it is committed before anything is sent
        #: (:meth:`end_planning`, also called by the loader's budget hook on the first request).
        self.planning = planning
        #: creates known to have happened, for the write-intent journal: (kind, key, IFS key)
        self.outcomes: list[tuple[str, str, str]] = []

    @contextmanager
    def db(self) -> Iterator[Session]:
        """A session for a read or write before the first IFS request: the planning
        transaction while it is open, else a transaction of its own."""
        if self.planning is not None:
            yield self.planning
            return
        with session_scope() as s:
            yield s

    def end_planning(self) -> None:
        """Commit the planning transaction (the write intent becomes durable); idempotent."""
        planning, self.planning = self.planning, None
        if planning is not None:
            planning.commit()

    def execute(self, plan: dict[str, Any], link: LinkSnapshot | None,
                content_hash: str) -> tuple[str, str | None, dict[str, Any]]:
        kind = plan.get("kind")
        if kind == "customer":
            return self.customer(plan, link, content_hash)
        if kind == "order":
            return self.order(plan, link)
        if kind == "voucher":
            return execute_voucher(self, plan, link)
        raise DataError(f"unknown plan kind {kind!r}")

    # -- shared --------------------------------------------------------------------------------

    def intend(self, kind: str, natural_key: str, plan: dict[str, Any]) -> tuple[bool, str | None]:
        """Commit the intent to create (``intents.begin``) and say whether to look the record
        up first: (look up?, IFS key of a create known to have happened earlier).

        The load's budget is taken first: a load deferred for the budget must not leave an
        intent behind, or its next attempt would take it for a create of unknown outcome and
        pay a lookup (seen with several workers, one lookup per deferral)."""
        reserve = getattr(self.client.budget, "reserve_now", None)
        if callable(reserve):
            reserve()
        with self.db() as s:
            prior = intents.begin(self.tenant.id, kind, natural_key, plan, session=s)
        self.end_planning()  # the intent is durable before the create is sent
        return prior.seen or intents.adopts_existing(self.tenant), prior.ifs_key

    def completed(self, kind: str, natural_key: str, ifs_key: str) -> None:
        """Note a create known to have happened; the loader records it (``intents.complete``)
        with the link, or on its own when the load stops afterwards."""
        self.outcomes.append((kind, natural_key, ifs_key))

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
            # Compare what IFS holds of ours (the owned fields), not the store record's whole
            # content: a change of a field we do not own (a phone) costs no request.
            unchanged = (link.content_hash == content_hash
                         or link.details.get("owned") == owned)
            if unchanged and link.etag:
                return cid, link.etag, {**link.details, "owned": owned}
            _, etag = self.patch_owned(CUSTOMERS, "CustomerInfoSet", key, owned, link.etag)
            return cid, etag, {**link.details, "owned": owned}
        look_up, _ = self.intend("customer", cid, plan)
        found = self.own_customer(cid) if look_up else None
        if found is None and plan.get("email"):
            # A customer keyed in IFS by hand with the same e-mail (found by enrichment) is
            # the same buyer: link to it instead of creating a duplicate.
            with self.db() as s:
                known = lookup_customer_by_email(s, self.tenant.id, str(plan["email"]))
            if known and known != cid:
                matched = self.own_customer(known)
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
            self.completed("customer", cid, cid)
            return cid, etag, {"owned": owned}
        return cid, self.create_customer(plan), {"owned": owned}

    def create_customer(self, plan: dict[str, Any]) -> str | None:
        """The customer with its addresses and contacts as one change set; returns its ETag.
        The intent must be committed before."""
        cid = str(plan["customer_id"])
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
            again = self.own_customer(cid)
            if again is None:
                raise
            self.ctx.record("adopt", "ok", ifs_key=cid, http_status=200,
                            detail="customer created concurrently; linked instead of created")
            self.completed("customer", cid, cid)
            return again[1]
        self.completed("customer", cid, cid)
        return responses[0].etag

    def own_customer(self, cid: str) -> tuple[dict[str, Any], str | None] | None:
        """The IFS customer ``cid`` and its ETag when it exists and belongs to the tenant's
        company; None when it does not exist. A customer of another company is never linked
        or patched: the record fails naming the conflict (``identity``, docs/money.md §3)."""
        found = self.client.get(CUSTOMERS, "CustomerInfoSet", {"CustomerId": cid})
        if found is not None:
            ensure_own_customer(self.client, cid, found[0], self.tenant.company,
                                self.tenant.name)
        return found

    def ensure_inline_customer(self, plan: dict[str, Any]) -> str:
        """A customer that has no store record of its own (a guest): the e-mail index first
        (it points only at customers of the tenant's company that exist in IFS), then the
        journal; a lookup only when an earlier attempt's outcome is unknown. Returns the
        customer the order must use."""
        cid = str(plan["customer_id"])
        email = str(plan.get("email") or "")
        if email:
            with self.db() as s:
                known = lookup_customer_by_email(s, self.tenant.id, email)
            if known:
                return known  # a repeat buyer (ours or found in IFS by enrichment): no request
        look_up, done = self.intend("customer", cid, plan)
        if done is None:
            exists = look_up and self.own_customer(cid) is not None
            if exists:
                self.completed("customer", cid, cid)
            else:
                self.create_customer(plan)
        if email:
            with session_scope() as s:
                index_customer(s, self.tenant.id, email, cid, origin="connector")
        return cid

    # -- orders --------------------------------------------------------------------------------

    def resolve_customer(self, ref: dict[str, Any]) -> str:
        if ref.get("customer_id"):
            return str(ref["customer_id"])
        if ref.get("inline"):
            return self.ensure_inline_customer(ref["inline"])
        entity, external_id = ref["entity"], str(ref["external_id"])
        with self.db() as s:
            link = get_link(s, self.source.id, entity, external_id)
            if link is not None:
                return link.ifs_key
            pending = s.scalar(
                select(StagedRecord).where(
                    StagedRecord.source_id == self.source.id, StagedRecord.entity == entity,
                    StagedRecord.external_id == external_id)
                .order_by(*records.newest_first()).limit(1))
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
        self.end_planning()
        state, ifs_key = self.load_dependency(pending_id)
        if state not in ("done", "superseded") or ifs_key is None:
            with session_scope() as s:
                link = get_link(s, self.source.id, entity, external_id)
                if link is not None:
                    return link.ifs_key
            raise Transient(f"{entity} {external_id} is not in IFS yet ({state})")
        return ifs_key

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
            entity, etag = self.patch_owned(ORDERS, "CustomerOrderSet", key, owned, link.etag)
            return link.ifs_key, etag, _with_label({**link.details, "owned": owned}, entity)
        header["CustomerNo"] = self.resolve_customer(plan["customer"])
        po, site = str(plan["customer_po_no"]), str(header["Contract"])
        look_up, _ = self.intend("order", po, plan)
        found = self.find_order(po, site) if look_up else None
        mode = str((self.tenant.settings or {}).get("order_mode", "batch"))
        details: dict[str, Any] = {"owned": owned, "lines": len(plan["lines"])}
        if found is not None:
            entity, etag = found
            order_no = str(entity["OrderNo"])
            self.ctx.record("adopt", "ok", ifs_key=order_no, http_status=200,
                            detail=f"order {po} already in IFS; linked instead of created")
            self.complete_lines(order_no, plan)
            details = _with_label(details, entity)
            if any(entity.get(k) != v for k, v in owned.items()):
                entity, etag = self.patch_owned(ORDERS, "CustomerOrderSet",
                                                {"OrderNo": order_no}, owned, etag)
                details = _with_label(details, entity)
            self.completed("order", po, order_no)
            return order_no, etag, details
        if mode == "sequential":
            entity, etag = self.ctx.write(
                "create", po, lambda: self.client.create(ORDERS, "CustomerOrderSet", header))
            order_no = str(entity["OrderNo"])
            details = _with_label(details, entity)
            self.complete_lines(order_no, plan)
            self.completed("order", po, order_no)
            return order_no, etag, details
        requests = [BatchRequest("POST", "CustomerOrderSet", header, content_id="1")]
        for i, line in enumerate(plan["lines"], start=2):
            requests.append(BatchRequest("POST", "$1/OrderLinesArray", line, content_id=str(i)))
        offset = len(requests) + 1
        for i, charge in enumerate(plan.get("charges") or [], start=offset):
            requests.append(BatchRequest("POST", "$1/CustomerOrderChargeArray", charge,
                                         content_id=str(i)))
        responses = self.ctx.write("create", po, lambda: self.client.batch(ORDERS, requests))
        order_no = str(responses[0].body["OrderNo"])
        details = _with_label(details, responses[0].body)
        self.completed("order", po, order_no)
        return order_no, responses[0].etag, details

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


def _with_label(details: dict[str, Any], entity: Any) -> dict[str, Any]:
    """Keep the link's record of the order's ``LabelNote`` (voucher loads decide on it instead
    of re-reading the order) from the same IFS answer as the ETag stored beside it, so the two
    never disagree: a stale label always comes with a stale ETag, which IFS answers with 412."""
    out = dict(details)
    if isinstance(entity, dict) and "LabelNote" in entity:
        out["label_note"] = entity["LabelNote"]
    else:
        out.pop("label_note", None)
    return out
