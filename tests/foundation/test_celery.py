"""The Celery app's no-loss settings and the retry policy of the base task."""

from __future__ import annotations

import random

from connector.config import get_settings
from connector.errors import RateLimited, Transient
from tasks.app import app
from tasks.base import backoff_seconds


def test_no_loss_settings() -> None:
    conf = app.conf
    settings = get_settings()
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    visibility = conf.broker_transport_options["visibility_timeout"]
    assert conf.task_soft_time_limit < conf.task_time_limit < visibility
    assert settings.retry_backoff_max_s < visibility
    assert conf.worker_send_task_events and conf.task_send_sent_event  # Flower sees everything
    assert {q.name for q in conf.task_queues} == {
        "fetch", "transform_first", "transform", "load", "maintenance"}


def test_explicit_task_names_and_routes() -> None:
    app.loader.import_default_modules()  # what a worker does at start (the include list)
    names = {n for n in app.tasks if not n.startswith("celery.")}
    assert {"sync.dispatch", "sync.fetch", "sync.fetch_one", "sync.transform",
            "sync.transform_batch", "sync.load",
            "maintenance.sweep", "maintenance.enrich", "maintenance.enrich_all"} <= names
    route = app.amqp.router.route
    assert route({}, "sync.fetch")["queue"].name == "fetch"
    assert route({}, "sync.load")["queue"].name == "load"
    assert route({}, "sync.transform")["queue"].name == "transform"
    assert route({}, "sync.transform_batch")["queue"].name == "transform"
    assert route({}, "maintenance.sweep")["queue"].name == "maintenance"
    for name in names:
        task = app.tasks[name]
        assert task.acks_late and task.reject_on_worker_lost, name


def test_backoff_is_exponential_jittered_and_capped() -> None:
    rng = random.Random(1)
    waits = [backoff_seconds(n, Transient("x"), cap=60, rng=rng) for n in range(10)]
    assert all(0.5 <= w <= 60 for w in waits)
    assert max(waits[:2]) <= 4 and max(waits[6:]) > 16  # grows with the attempt number
    assert len({round(w, 3) for w in waits}) == len(waits)  # jittered


def test_backoff_honours_the_server_wait_but_not_past_the_cap() -> None:
    rng = random.Random(2)
    wait = backoff_seconds(0, RateLimited("slow down", retry_after=7), cap=60, rng=rng)
    assert 7 <= wait <= 8
    assert backoff_seconds(0, RateLimited("x", retry_after=500), cap=60, rng=rng) == 60


def test_a_server_hint_is_a_floor_under_the_backoff_not_a_replacement() -> None:
    # Issue 10, seen 11: with Retry-After: 1 the last attempts came 1-2 s apart.
    rng = random.Random(3)
    late = [backoff_seconds(n, RateLimited("slow down", retry_after=1), cap=600, rng=rng)
            for n in (6, 7, 8)]
    assert all(w >= 64 for w in late), late
    assert backoff_seconds(0, RateLimited("x", retry_after=30), cap=600, rng=rng) >= 30


def test_retries_are_bounded_by_time_not_by_count() -> None:
    # Issue 10, seen 5: a record gave up after 9 attempts though the storm ended minutes later.
    from datetime import UTC, datetime, timedelta

    from connector.config import Settings
    from tasks.base import decide_retry

    settings = Settings.from_env({"MLC_RETRY_DEADLINE_TRANSIENT_S": "21600"})
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    storm = Transient("connection refused")
    early = decide_retry(storm, attempt=40, failing_since=now - timedelta(minutes=20),
                         settings=settings, now=now)
    assert early.retry and 0 < early.countdown <= settings.retry_backoff_max_s
    late = decide_retry(storm, attempt=41, failing_since=now - timedelta(hours=6, seconds=1),
                        settings=settings, now=now)
    assert not late.retry
    assert "failing since 2026-12-01 05:59:59 UTC" in late.reason
    assert "connection refused" in late.reason


def test_celery_never_caps_the_retries_by_count() -> None:
    # retry(max_retries=None) means "the task's max_retries", 3 by Celery's default: the
    # fourth retry of a storm re-raised the error instead of waiting (seen in the chaos run).
    app.loader.import_default_modules()
    for name, task in app.tasks.items():
        if not name.startswith("celery."):
            assert task.max_retries is None, name
