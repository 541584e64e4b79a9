"""The in-flight cap holds when pumps run at once (issue 10, seen 13: 24 rows in flight against
a cap of 20). Real Postgres, several sessions claiming at the same moment."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from connector.db import session_scope
from connector.models import PENDING, StagedRecord
from connector.pipeline import records
from connector.pipeline.records import Incoming
from tests.integration.harness import add_woo_source, make_tenant

pytestmark = pytest.mark.integration

CAP = 20


def test_concurrent_pumps_never_exceed_the_in_flight_cap(clean_db: None, ifs_sim: Any,
                                                          woo_sim: tuple[Any, str],
                                                          fleet_paused: None) -> None:
    # (The session's fleet is paused: its sweeper would otherwise claim this tenant's rows
    # between two rounds, and a round's pumps would find the room taken.)
    tenant = make_tenant(ifs_sim[1])
    source = add_woo_source(tenant, woo_sim[1])
    with session_scope() as s:
        records.stage(s, tenant_id=tenant, source_id=source, origin="poll", records=[
            Incoming("order", str(i), "v1", {"id": i}) for i in range(200)])
    for _ in range(5):
        barrier = threading.Barrier(8)
        claimed: list[int] = []
        lock = threading.Lock()

        def pump(barrier: threading.Barrier, lock: threading.Lock, claimed: list[int]) -> None:
            barrier.wait()
            with session_scope() as s:
                ids = records.claim_pending(s, inflight_per_tenant=CAP, stale_after_s=300)
            with lock:
                claimed.extend(ids)

        threads = [threading.Thread(target=pump, args=(barrier, lock, claimed))
                   for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with session_scope() as s:
            in_flight = s.scalar(select(func.count()).select_from(StagedRecord).where(
                StagedRecord.tenant_id == tenant, StagedRecord.state == PENDING,
                StagedRecord.enqueued_at.is_not(None)))
        assert len(claimed) == len(set(claimed)) and in_flight == len(claimed) <= CAP
        assert in_flight == CAP  # the room was filled, by one pump or several
        with session_scope() as s:  # the loads finish: the next round starts empty
            for rec in s.scalars(select(StagedRecord).where(StagedRecord.id.in_(claimed))):
                records.mark_done(s, rec)
