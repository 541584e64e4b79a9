"""The chaos suite at CI size (issue 10): the real fleet under SIGKILLs, a Redis restart, a
Postgres restart (the run's own servers, never the shared ones), two beats and IFS faults;
nothing lost, nothing duplicated, amounts equal, every failure explained, never above the
tenant's budget in any 60-second window. ``bench/chaos.py --long`` runs a
bigger one and writes docs/reliability.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.engine import Chaos, ChaosOptions

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def test_the_fleet_under_chaos_loses_and_duplicates_nothing(clean_db: None,
                                                             tmp_path: Path) -> None:
    report = Chaos(ChaosOptions(seed=10), tmp_path).run()
    assert report.kills["redis restart"] == 1
    assert report.kills["postgres restart (immediate)"] == 1
    assert report.faults["ifs drop-after-write (writes done, answer lost)"] >= 1
    assert sum(report.kills.values()) >= 4, report.kills
    assert report.problems() == [], (report.problems(), report, tmp_path)
    assert report.store_orders > 0 and report.ifs_orders > 0 and report.vouchers > 0
    assert report.records.get("failed", 0) >= 2  # the invalid orders, each with its reason
