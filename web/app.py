"""The ``web`` process: webhook intake, health and operator pages (WSGI, under gunicorn).

Webhook endpoints are thin: the raw body and headers go to ``connector.pipeline.webhooks``,
which verifies, dedupes and stores the delivery; fetch tasks are enqueued only after that
commit. Every rejection is one log line without secrets, a clear 4xx and nothing enqueued.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy import text, update

from connector import metrics
from connector.config import get_settings
from connector.db import get_engine, session_scope
from connector.handles import get_redis
from connector.models import WebhookDelivery
from connector.pipeline.webhooks import Verdict, accept

log = logging.getLogger("mlc.webhooks")


def _answer(kind: str, tenant: str, source: str, verdict: Verdict) -> Any:
    if verdict.fetch:
        from tasks.sync import fetch_one

        for source_id, entity, external_id in verdict.fetch:
            fetch_one.delay(source_id, entity, external_id, "webhook")
        with session_scope() as s:
            s.execute(update(WebhookDelivery)
                      .where(WebhookDelivery.source_id == verdict.fetch[0][0],
                             WebhookDelivery.state == "received",
                             WebhookDelivery.resource_id.in_([f[2] for f in verdict.fetch]))
                      .values(state="enqueued"))
    level = logging.INFO if verdict.status < 400 else logging.WARNING
    # One line: tenant and source come from the URL and are escaped by the log filter (CR/LF
    # and control characters), so a crafted path cannot forge a log entry.
    log.log(level, "%s webhook %s/%s -> %s %s", kind, tenant, source, verdict.status,
            verdict.detail or verdict.message)
    if verdict.status < 400:
        return Response(status=verdict.status)  # respond fast, no body (bigcommerce.md §5)
    headers = {"Retry-After": "300"} if verdict.status == 503 else {}
    return jsonify({"error": verdict.message}), verdict.status, headers


def create_app() -> Flask:
    """Application factory (gunicorn: ``web.app:create_app()``)."""
    app = Flask("ml_connector")
    # Bodies over the limit are refused by Flask with 413 before they are read.
    app.config["MAX_CONTENT_LENGTH"] = get_settings().webhook_max_body_bytes

    @app.before_request
    def _fresh_log_context() -> None:
        from connector.logformat import reset_context

        reset_context()

    @app.post("/webhooks/<store>/<tenant>/<source>")
    def store_hook(store: str, tenant: str, source: str) -> Any:
        """One endpoint per store plugin (``webhook_path``: ``bc``, ``woo``, …)."""
        raw = request.get_data(cache=False)
        system, verdict = accept(store, tenant, source, dict(request.headers), raw)
        metrics.webhook_delivery(system, verdict.status)
        return _answer(system, tenant, source, verdict)

    from web.console import console
    from web.ops import ops

    app.register_blueprint(ops)
    app.register_blueprint(console)

    @app.errorhandler(413)
    def too_large(_: Any) -> Any:
        log.warning("webhook refused: body over %d bytes", get_settings().webhook_max_body_bytes)
        return jsonify({"error": "body too large"}), 413

    @app.errorhandler(404)
    def not_found(_: Any) -> Any:
        return jsonify({"error": "not found"}), 404

    @app.errorhandler(405)
    def not_allowed(_: Any) -> Any:
        return jsonify({"error": "method not allowed"}), 405

    @app.errorhandler(400)
    def bad_request(_: Any) -> Any:
        log.warning("request refused: malformed (%s %s)", request.method, request.path[:200])
        return jsonify({"error": "bad request"}), 400

    @app.get("/healthz")
    def healthz() -> Any:
        """Liveness: the process answers."""
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz() -> Any:
        """Readiness: Postgres and Redis answer."""
        checks: dict[str, str] = {}
        try:
            with get_engine().connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["postgres"] = "ok"
        except Exception as exc:
            checks["postgres"] = type(exc).__name__
        try:
            get_redis().ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = type(exc).__name__
        ok = all(v == "ok" for v in checks.values())
        return jsonify({"status": "ok" if ok else "degraded", "checks": checks}), (
            200 if ok else 503
        )

    return app
