"""The chaos run of the fleet (issue 10), at CI size or ``--long``, with its figures.

    .venv/bin/python bench/chaos.py            # CI size, as in `make test`
    .venv/bin/python bench/chaos.py --long     # bigger, longer; writes docs/reliability.md

Uses real components, like ``ml-connector demo``: a Postgres and a Redis of the run's own
(``initdb`` in a temporary folder, ``redis-server`` on a free port: both are restarted mid-run,
so the shared servers never are), the sandbox in this process, and the real
``ml-connector worker`` / ``beat`` / ``web`` processes. Exit code 0 when every invariant holds
(tests/chaos/engine.py says which).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LONG = {"woo_orders": 480, "woo_customers": 90, "bc_orders": 80, "invalid": 6,
        "chaos_s": 420.0, "settle_timeout_s": 900.0, "redis_restarts": 2,
        "postgres_restarts": 3,
        "kill_every_s": (8.0, 20.0)}


def render(report: object, opts: object, long: bool) -> str:
    from tests.chaos.engine import ChaosOptions, ChaosReport

    assert isinstance(report, ChaosReport) and isinstance(opts, ChaosOptions)
    faults = "\n".join(f"| {k} | {v} |" for k, v in sorted(report.faults.items()))
    kills = "\n".join(f"| {k} | {v} |" for k, v in sorted(report.kills.items()))
    records = ", ".join(f"{k} {v}" for k, v in sorted(report.records.items()))
    exits = ", ".join(f"{v} ({k})" for k, v in sorted(report.exits.items())) or "0"
    expected = ", ".join(f"{k} {v}" for k, v in sorted(report.expected.items())) or "none"
    totals = f"{report.store_orders} / {report.ifs_orders} / {report.vouchers}"
    return f"""# Reliability: the fleet under chaos

Written by `bench/chaos.py{' --long' if long else ''}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC
(seed {report.seed}; the CI-size run is `tests/chaos/test_chaos.py` in `make test`).

The real processes — {opts.workers} `ml-connector worker` (pool of {opts.concurrency}), two
`ml-connector beat` at once, `ml-connector web` — against a Postgres and a Redis of the run's
own (both restarted mid-run: Postgres by `pg_ctl stop -m immediate`, a crash, and `-m fast`)
and the sandbox, for {opts.chaos_s:.0f} s of faults, then until settled. See
`tests/chaos/engine.py` for the schedule and the invariants.

## Load

| | |
|---|---|
| WooCommerce orders | {opts.woo_orders} ({opts.invalid} invalid on purpose) |
| BigCommerce orders | {opts.bc_orders} (with payments, shipments, refunds) |
| staged records | {records} |
| store orders / IFS orders / GL vouchers | {totals} |
| tenant IFS budget | {report.budget_per_min}/min; busiest 60 s window: {report.busiest_minute} |
| run time | {report.seconds:.0f} s |

## Faults injected

| kind | count (1 for a switch: on for the whole chaos phase) |
|---|---|
{faults}

## Kills

| kind | count |
|---|---|
{kills}

## Outcome

| | |
|---|---|
| settled | {'yes' if report.settled else 'NO'} |
| lost | {len(report.lost)} |
| duplicated | {len(report.duplicated)} |
| budget overruns (60 s windows above the budget) | {report.budget_overruns} |
| unexplained | {len(report.unexplained)} |
| workers that exited by themselves (restarted, as a supervisor does) | {exits} |
| tracebacks in the fleet's logs (workers, beats, web) | {sum(report.tracebacks.values())} |
| expected faults logged, one line each | {expected} |

A worker started while Postgres is down exits 2 naming `DATABASE_URL` (start-up checks its
services); a worker whose pool child is killed while it starts gives up ("Could not start worker
processes", {report.gave_up_at_start} here) and exits 1. The run starts both again, as a
supervisor that restarts on failure does; an exit 0 would count as unexplained.

{chr(10).join('- ' + p for p in report.problems()) or 'Every invariant held.'}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="the bigger run; writes the doc")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "reliability.md")
    args = parser.parse_args(argv)

    from connector.runtime import bootstrap
    from tests.chaos.engine import Chaos, ChaosOptions
    from tests.chaos.postgres import OwnPostgres

    folder = Path(tempfile.mkdtemp(prefix="mlc-chaos-"))
    postgres = OwnPostgres(folder).start()  # the run's own: the chaos restarts it
    os.environ["DATABASE_URL"] = postgres.url  # so start-up starts no embedded one
    if not os.environ.get("MLC_ENCRYPTION_KEYS"):  # a database of this run only: its own key
        from connector.crypto import generate_key

        os.environ["MLC_ENCRYPTION_KEYS"] = generate_key()
    try:
        bootstrap()
    except BaseException:
        postgres.stop()
        raise
    opts = ChaosOptions(seed=args.seed, **(LONG if args.long else {}))  # type: ignore[arg-type]
    report = Chaos(opts, folder, postgres=postgres).run()  # stops it at the end
    text = render(report, opts, args.long)
    if args.long:
        args.out.write_text(text)
        print(f"wrote {args.out}")
    print(text)
    print(f"logs: {folder}")
    return 0 if not report.problems() else 1


if __name__ == "__main__":
    sys.exit(main())
