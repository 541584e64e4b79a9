"""The pump's claim (records.claim_pending) against the session's real Postgres: what it hands
out, and that its plan reads O(batch) rows at a 100 000-row backlog (EXPLAIN, not a timing)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text, update

from connector.db import get_engine, session_scope
from connector.models import Source, StagedRecord, Tenant
from connector.pipeline import records


def _tenant_and_source(name: str = "acme") -> tuple[int, int]:
    with session_scope() as s:
        tenant = Tenant(name=name, company="10")
        s.add(tenant)
        s.flush()
        source = Source(tenant_id=tenant.id, name="shop", system="woocommerce",
                        base_url="http://127.0.0.1:1")
        s.add(source)
        s.flush()
        return tenant.id, source.id


def _bulk(tenant_id: int, source_id: int, n: int, entity: str = "order") -> None:
    """n pending rows in one INSERT … SELECT generate_series."""
    with get_engine().begin() as conn:
        conn.execute(text(
            "INSERT INTO staged_records (tenant_id, source_id, entity, external_id, version,"
            " payload, content_hash, origin, state, attempts)"
            " SELECT :t, :s, :e, :e || g, '1', '{}'::jsonb, md5(g::text), 'poll', 'pending', 0"
            " FROM generate_series(1, :n) AS g"), {"t": tenant_id, "s": source_id, "e": entity,
                                                  "n": n})


def _claim(tenant_id: int | None = None, inflight: int = 20, limit: int = 1000) -> list[int]:
    with session_scope() as s:
        return records.claim_pending(s, inflight_per_tenant=inflight, stale_after_s=60,
                                     tenant_id=tenant_id, limit=limit)


def test_claim_hands_out_customers_first_within_the_in_flight_budget(fleet_paused: None) -> None:
    tenant, source = _tenant_and_source()
    _bulk(tenant, source, 30, "order")
    _bulk(tenant, source, 5, "customer")
    first = _claim(tenant, inflight=8)
    with session_scope() as s:
        entities = [s.get(StagedRecord, i).entity for i in first]  # type: ignore[union-attr]
    assert entities == ["customer"] * 5 + ["order"] * 3
    assert _claim(tenant, inflight=8) == []  # the budget is in flight
    with session_scope() as s:  # two finish: two more go out
        for i in first[:2]:
            rec = s.get(StagedRecord, i)
            assert rec is not None
            records.mark_done(s, rec)
    second = _claim(tenant, inflight=8)
    assert len(second) == 2 and not set(second) & set(first)
    # A row in flight for longer than stale_after_s is considered lost and handed out again.
    with session_scope() as s:
        s.execute(update(StagedRecord).where(StagedRecord.id == first[2])
                  .values(enqueued_at=datetime.now(UTC) - timedelta(minutes=5)))
    assert _claim(tenant, inflight=8) == [first[2]]


def test_claim_serves_every_tenant_and_respects_the_overall_limit(fleet_paused: None) -> None:
    a, sa = _tenant_and_source("a")
    b, sb = _tenant_and_source("b")
    _bulk(a, sa, 10)
    _bulk(b, sb, 10)
    got = _claim(None, inflight=4, limit=6)
    with session_scope() as s:
        owners = [s.get(StagedRecord, i).tenant_id for i in got]  # type: ignore[union-attr]
    assert owners == [a] * 4 + [b] * 2


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    out = [plan]
    for child in plan.get("Plans", []):
        out.extend(_nodes(child))
    return out


def _explain(stmt: Any) -> list[dict[str, Any]]:
    with get_engine().connect() as conn:
        compiled = stmt.compile(dialect=conn.dialect)
        raw = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled),
                                   compiled.params).scalar()
    doc = raw if isinstance(raw, list) else json.loads(raw)
    return _nodes(doc[0]["Plan"])


@pytest.mark.parametrize("in_flight", [0, 20])
def test_claim_plan_reads_the_batch_not_the_backlog(fleet_paused: None, in_flight: int) -> None:
    tenant, source = _tenant_and_source()
    _bulk(tenant, source, 100_000)
    _bulk(tenant, source, 2_000, "customer")
    if in_flight:
        _claim(tenant, inflight=in_flight)
    with get_engine().begin() as conn:
        conn.execute(text("ANALYZE staged_records"))
    now = datetime.now(UTC)
    stmt = records.claim_statement(tenant, room=20, cap=1000, stale=now - timedelta(minutes=1),
                                   now=now)
    nodes = _explain(stmt)
    kinds = [(n["Node Type"], n.get("Index Name"), n.get("Relation Name")) for n in nodes]
    assert not any(kind == "Sort" for kind, _, _ in kinds), kinds
    assert not any(kind == "Seq Scan" and rel == "staged_records" for kind, _, rel in kinds), kinds
    used = {index for _, index, _ in kinds if index}
    assert "ix_staged_records_claim" in used, kinds
    assert "ix_staged_records_inflight" in used, kinds
    # The tenant list of a fleet-wide pump asks each tenant for one ready row, not all of them.
    from sqlalchemy import select

    ready = select(StagedRecord.id).where(StagedRecord.tenant_id == Tenant.id,
                                          records._ready(now - timedelta(minutes=1)))
    tenants = _explain(select(Tenant.id).where(ready.exists()).order_by(Tenant.id))
    assert not any(n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "staged_records"
                   for n in tenants), [(n["Node Type"], n.get("Index Name")) for n in tenants]


def test_a_quiet_tenant_is_claimed_for_the_fast_lane_a_busy_tenants_refill_is_not(
        fleet_paused: None) -> None:
    """``first`` sends a claim to the transform queue's fast lane (tasks.sync.pump): a tenant
    with less than half its window in flight qualifies, a busy tenant's refill does not, so
    a quiet tenant's new orders are not queued behind a busy tenant's whole window."""
    busy, busy_source = _tenant_and_source("busy")
    quiet, quiet_source = _tenant_and_source("quiet")
    _bulk(busy, busy_source, 100)
    _bulk(quiet, quiet_source, 3)

    def claims() -> dict[int, records.Claim]:
        with session_scope() as s:
            return {c.tenant_id: c for c in records.claim_by_tenant(
                s, inflight_per_tenant=20, stale_after_s=60)}

    start = claims()
    assert len(start[busy].ids) == 20 and start[busy].first  # nothing was in flight
    assert len(start[quiet].ids) == 3 and start[quiet].first
    with session_scope() as s:  # a quarter of the busy window and all of the quiet one finish
        for i in start[busy].ids[:5] + start[quiet].ids:
            rec = s.get(StagedRecord, i)
            assert rec is not None
            records.mark_done(s, rec)
    _bulk(quiet, quiet_source, 2, "customer")  # the quiet shop's next records
    later = claims()
    assert len(later[busy].ids) == 5 and not later[busy].first  # 15 still in flight
    assert len(later[quiet].ids) == 2 and later[quiet].first
