"""Postgres round trips and Redis commands per record (issue 14, "less per-record overhead").

Counted with SQLAlchemy's engine events (every statement sent, every transaction begun) and a
counting wrapper around the process's Redis client, while one record loads in this process
against the sandbox over real HTTP. These are behaviour figures, not timings: a change that
adds a transaction or a statement to the hot path fails here, whatever the machine's speed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event

from connector.db import get_engine
from connector.handles import get_redis
from tests.integration.test_request_counts import (  # noqa: F401 - fixtures
    _load,
    _woo_customer,
    _woo_order,
    woo_tenant,
)

pytestmark = pytest.mark.integration

#: The ceilings for a new order of a known (linked) customer. One planning transaction: the
#: record's state with its lock, the record with its link and the newer-version check (one
#: statement), the customer's link, the write intent (committed before the IFS create); one
#: final statement (audit row, outcome, link, done state, open-alert check as CTEs); the
#: unlock, in autocommit. Before issue 14's overhead work: 7 transactions, 18 statements;
#: before the planning read was one statement: 8.
MAX_TRANSACTIONS = 2
MAX_STATEMENTS = 6
#: The budget reservation (one script call) and the pump's count of finished records are
#: the Redis work of a load; the IFS token is memoised in the process.
MAX_REDIS_COMMANDS = 2


@dataclass
class Counts:
    statements: list[str] = field(default_factory=list)
    transactions: int = 0
    redis: list[str] = field(default_factory=list)


@contextmanager
def counting() -> Iterator[Counts]:
    counts = Counts()
    engine = get_engine()
    redis = get_redis()

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        counts.statements.append(" ".join(statement.split())[:120])

    def on_begin(conn: Any) -> None:
        # A statement in autocommit (the load's unlock) is one round trip, not a transaction.
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            counts.transactions += 1

    original = redis.execute_command

    def counted(*args: Any, **kwargs: Any) -> Any:
        counts.redis.append(str(args[0]))
        return original(*args, **kwargs)

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "begin", on_begin)
    redis.execute_command = counted  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "begin", on_begin)
        del redis.execute_command


def test_new_order_of_a_known_customer_round_trips(woo_tenant: dict[str, Any]) -> None:  # noqa: F811
    p = woo_tenant
    order = next(o for o in p["woo"].orders() if o["customer_id"])
    _load(_woo_customer(p, order["customer_id"]))  # the customer is linked (and warm caches)
    first = next(o for o in p["woo"].orders() if o["customer_id"] and o["id"] != order["id"])
    if first["customer_id"] != order["customer_id"]:
        _woo_customer(p, first["customer_id"])  # loaded with the order, in its task
    _load(_woo_order(p, first))  # the process's per-tenant state is warm, as in a worker
    row = _woo_order(p, order)
    with counting() as counts:
        _load(row)
    detail = "\n".join(counts.statements)
    assert counts.transactions <= MAX_TRANSACTIONS, detail
    assert len(counts.statements) <= MAX_STATEMENTS, detail
    assert len(counts.redis) <= MAX_REDIS_COMMANDS, counts.redis
    # ... and the one final statement wrote all of it: audit row, outcome, link, done + plan.
    from sqlalchemy import select

    from connector.db import session_scope
    from connector.models import AuditEvent, RecordLink, StagedRecord, WriteIntent

    with session_scope() as s:
        rec = s.get(StagedRecord, row)
        assert rec is not None and rec.state == "done" and rec.plan
        link = s.scalar(select(RecordLink).where(RecordLink.source_id == p["source"],
                                                 RecordLink.entity == "order",
                                                 RecordLink.external_id == str(order["id"])))
        assert link is not None and link.etag and link.last_version == rec.version
        audits = s.scalars(select(AuditEvent).where(
            AuditEvent.entity == "order", AuditEvent.external_id == str(order["id"]))).all()
        assert [(a.action, a.outcome, a.http_status, a.ifs_key) for a in audits] == [
            ("create", "ok", 201, rec.plan["customer_po_no"])]
        intent = s.scalar(select(WriteIntent).where(
            WriteIntent.kind == "order", WriteIntent.natural_key == rec.plan["customer_po_no"]))
        assert intent is not None and intent.ifs_key == link.ifs_key


def test_an_operator_change_reaches_the_next_record(woo_tenant: dict[str, Any]) -> None:  # noqa: F811
    """The tenant and source are cached per process, keyed by their row versions: a change
    an operator makes (here the tenant's order mode, then the source's removal) is obeyed by
    the very next record this process loads."""
    from sqlalchemy import delete

    from connector.db import session_scope
    from connector.models import Source, Tenant
    from tests.integration.test_request_counts import _shape

    p, log = woo_tenant, woo_tenant["log"]
    orders = [o for o in p["woo"].orders() if o["customer_id"]]
    for customer_id in {o["customer_id"] for o in orders}:
        _load(_woo_customer(p, customer_id))
    assert _shape(log.cost(lambda: _load(_woo_order(p, orders[0])))) == [
        "POST CustomerOrderHandling.svc/$batch"]  # the cache is warm now
    with session_scope() as s:
        tenant = s.get(Tenant, p["tenant"])
        assert tenant is not None
        tenant.settings = {**tenant.settings, "order_mode": "sequential"}
    shape = _shape(log.cost(lambda: _load(_woo_order(p, orders[1]))))
    assert shape[0] == "POST CustomerOrderHandling.svc/CustomerOrderSet", shape
    row = _woo_order(p, orders[2])
    with session_scope() as s:
        s.execute(delete(Source).where(Source.id == p["source"]))
    from connector.pipeline.load import load as load_record

    assert load_record(row).state == "missing"


def test_the_lock_key_postgres_computes_is_the_one_python_computed(clean_db: None) -> None:
    """Workers of the release before compute the record lock's key in Python; the load now
    has Postgres compute it in its first statement. The two must agree (a fleet mid-upgrade
    must still exclude itself), for any id, including non-ASCII ones."""
    from sqlalchemy import literal, select

    from connector.db import session_scope
    from connector.models import StagedRecord
    from connector.pipeline.load import _lock_key, lock_key_sql

    cases = [(1, "order", "1001"), (42, "customer", "Zoë-ß/7"), (7, "payment", "x" * 100)]
    with session_scope() as s:
        for source_id, entity, external_id in cases:
            expr = lock_key_sql()
            sql = (select(expr).select_from(
                select(literal(source_id).label("source_id"), literal(entity).label("entity"),
                       literal(external_id).label("external_id"))
                .subquery(StagedRecord.__tablename__)))
            assert s.scalar(sql) == _lock_key(source_id, entity, external_id)
