"""The ``web`` process: webhook intake, health and operator pages (WSGI, under gunicorn)."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from sqlalchemy import text

from connector.db import get_engine
from connector.services.common import get_redis


def create_app() -> Flask:
    """Application factory (gunicorn: ``web.app:create_app()``)."""
    app = Flask("ml_connector")

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
