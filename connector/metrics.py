"""Prometheus metrics of the processes (counters and histograms), through ``prometheus-client``.

Counted where things happen: loads and their latency (``pipeline/load``), records finished by
state (``pipeline/records``), IFS requests by outcome (``ifs/client``), budget waits
(``ratelimit``), webhook deliveries by outcome (``web``), notifications. Fleet-wide gauges
(records by state, cursor lag, queue depth, open alerts) are read from Postgres and Redis when
``/metrics`` is scraped (:mod:`connector.operations.overview`).

Multiprocess mode: when ``PROMETHEUS_MULTIPROC_DIR`` is set (``ml-connector fleet`` and the
deploy files set it), every process — gunicorn workers, Celery prefork children — writes its
samples to files there and ``/metrics`` adds them up; a process that exits is marked dead
(gunicorn ``child_exit``, Celery ``worker_process_shutdown``). Without it each process counts
for itself. ``prometheus_client`` is imported on first use, after the environment is final.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

_metrics: dict[str, Any] = {}


def _get() -> dict[str, Any]:
    if _metrics:
        return _metrics
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
    from prometheus_client import Counter, Histogram

    _metrics.update(
        records=Counter("mlc_records_finished_total",
                        "Staged records that reached a final state, by state.",
                        ["state"]),
        loads=Counter("mlc_loads_total", "Loads to IFS that completed, by outcome.",
                      ["outcome"]),
        load_seconds=Histogram("mlc_load_duration_seconds",
                               "Time of one record's load into IFS.",
                               buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)),
        ifs=Counter("mlc_ifs_requests_total", "Requests to IFS by outcome "
                    "(2xx, 412, 429, 4xx, 5xx, error).", ["outcome"]),
        budget_waits=Counter("mlc_budget_waits_total",
                             "Requests that found the fleet-wide budget empty and waited.",
                             ["budget"]),
        webhooks=Counter("mlc_webhook_responses_total",
                         "Webhook requests answered by the web process, by outcome "
                         "(accepted, rejected, error).",
                         ["store", "outcome"]),
        notifications=Counter("mlc_alert_notifications_total",
                              "Alert notifications sent or failed, by channel kind.",
                              ["kind", "outcome"]),
    )
    return _metrics


def _safely(name: str, labels: tuple[str, ...], amount: float = 1.0) -> None:
    # Metrics must never break the work they count.
    with contextlib.suppress(Exception):
        metric = _get()[name]
        (metric.labels(*labels) if labels else metric).inc(amount)


def record_finished(state: str) -> None:
    _safely("records", (state,))


def load_finished(outcome: str, seconds: float) -> None:
    _safely("loads", (outcome,))
    with contextlib.suppress(Exception):
        _get()["load_seconds"].observe(seconds)


def ifs_request(status: int | None) -> None:
    if status is None:
        outcome = "error"
    elif 200 <= status < 300:
        outcome = "2xx"
    elif status in (412, 429):
        outcome = str(status)
    elif status >= 500:
        outcome = "5xx"
    else:
        outcome = "4xx"
    _safely("ifs", (outcome,))


def budget_wait(budget: str) -> None:
    _safely("budget_waits", (budget.split(":", 1)[0],))


def webhook_delivery(store: str, status: int) -> None:
    outcome = "accepted" if status < 400 else ("rejected" if status < 500 else "error")
    _safely("webhooks", (store, outcome))


def notification(kind: str, outcome: str) -> None:
    _safely("notifications", (kind, outcome))


def exposition() -> str:
    """The text exposition of the counters: every process's (multiprocess mode) or this one's."""
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

    _get()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry).decode()
    return generate_latest(REGISTRY).decode()


def serve(port: int, address: str = "0.0.0.0") -> None:
    """Serve this machine's counters on ``port`` (``worker --metrics-port``): every prefork
    child's in multiprocess mode. Fleet-wide gauges stay on ``web``'s ``/metrics``."""
    from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

    _get()
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(port, addr=address, registry=registry)


def mark_process_dead(pid: int) -> None:
    """Forget the live gauges of an exited process (multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
