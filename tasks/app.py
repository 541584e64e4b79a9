"""The Celery app (design.md §5): no-loss settings, a queue per stage, explicit task names.

Importing this module needs resolved settings: processes start through ``ml-connector worker``
/ ``beat`` (which start the embedded servers when no URLs are configured) or with
``DATABASE_URL`` and ``REDIS_URL`` in the environment.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    task_prerun,
    worker_process_init,
    worker_process_shutdown,
)
from kombu import Queue

from connector.config import Settings, get_settings
from connector.errors import ConfigError
from tasks.broker import install as install_broker_fixes

install_broker_fixes()

#: ``transform_first`` is the transform queue's fast lane: the records of a tenant that had
#: nothing in flight (``tasks.sync.pump``). Workers take their queues in turn, so a quiet
#: tenant's new orders do not wait behind a busy tenant's whole window (issue 14, fairness).
QUEUES = ("fetch", "transform_first", "transform", "load", "maintenance")
FIRST_LANE = "transform_first"

TASK_ROUTES = {
    "sync.dispatch": {"queue": "maintenance"},
    "sync.fetch": {"queue": "fetch"},
    "sync.fetch_one": {"queue": "fetch"},
    "sync.transform": {"queue": "transform"},
    "sync.transform_batch": {"queue": "transform"},
    "sync.load": {"queue": "load"},
    "maintenance.*": {"queue": "maintenance"},
    "bigcommerce.*": {"queue": "maintenance"},
}


def celery_config(settings: Settings) -> dict[str, Any]:
    broker = settings.broker_url or settings.redis_url
    if not broker:
        raise ConfigError(
            "REDIS_URL",
            "is required by Celery processes (or CELERY_BROKER_URL); start them with "
            "`ml-connector worker` / `ml-connector beat` to use the embedded default",
        )
    return {
        "broker_url": broker,
        # Nothing reads task results (`sync --wait` reads Postgres, Flower reads events), so
        # none are stored: a result write per message was ~5 % of worker time (issue 14). The
        # backend stays configured for a task that asks for its result explicitly.
        "result_backend": settings.redis_url,
        "result_expires": 3600,
        "task_ignore_result": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        # No loss: ack after the work is done, re-queue when a worker dies, one message at a time.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_acks_on_failure_or_timeout": True,
        # Time limits below the visibility timeout, or Redis redelivers a running task.
        "task_soft_time_limit": settings.task_soft_time_limit_s,
        "task_time_limit": settings.task_time_limit_s,
        "broker_transport_options": {"visibility_timeout": settings.visibility_timeout_s},
        "result_backend_transport_options": {"visibility_timeout": settings.visibility_timeout_s},
        "broker_connection_retry_on_startup": True,
        # Flower sees everything.
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        # STARTED would be a result-backend write per task; Flower gets task-started events.
        "task_track_started": False,
        "task_queues": [Queue(q) for q in QUEUES],
        "task_default_queue": "maintenance",
        "task_routes": TASK_ROUTES,
        "beat_schedule": {
            "dispatch": {"task": "sync.dispatch", "schedule": float(settings.dispatch_interval_s)},
            "sweep": {"task": "maintenance.sweep",
                      "schedule": float(min(30, max(1, settings.sweep_after_s // 2)))},
            "enrich": {"task": "maintenance.enrich_all", "schedule": 300.0},
            "bigcommerce-hooks": {"task": "bigcommerce.hooks_health_all", "schedule": 900.0},
            "notify": {"task": "notify.sweep", "schedule": float(settings.dispatch_interval_s)},
            "watch": {"task": "maintenance.watch", "schedule": 60.0},
        },
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
    }


TASK_MODULES = ["tasks.sync", "tasks.maintenance", "tasks.bigcommerce", "tasks.notify"]

app = Celery("ml_connector", include=TASK_MODULES)
app.conf.update(celery_config(get_settings()))


@worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    """Forked pool processes must not share the parent's DB pool or Redis sockets."""
    from connector.db import reset_engine
    from connector.handles import reset_handles

    reset_engine()
    reset_handles()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _redacting_handlers(logger: Any = None, **_: Any) -> None:
    """Celery configures its own handlers (``celery worker`` started directly too): each gets
    the redactor, so no log line of a worker carries a secret or an unescaped line break."""
    from connector.logs import install_redactor

    install_redactor(logger)


@task_prerun.connect
def _task_log_context(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """Each task starts a fresh log context with its id (JSON logs: ``task_id``, ``task``)."""
    from connector.logformat import reset_context

    reset_context(task_id=task_id, task=getattr(task, "name", None))


@worker_process_shutdown.connect
def _forget_metrics(**_: Any) -> None:
    """A pool process exits: its live metrics go (Prometheus multiprocess mode)."""
    import os

    from connector.metrics import mark_process_dead

    mark_process_dead(os.getpid())
