"""``/metrics``, behind HTTP Basic auth (MLC_ADMIN_USER / MLC_ADMIN_PASSWORD), for scrapers.

Without both variables it is disabled (503), never open. The operator pages under ``/ops/``
are the console (``web/console/``), behind its own login.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Response, request

from connector.config import get_settings
from connector.operations.overview import prometheus_metrics

ops = Blueprint("ops", __name__)


def _authorised() -> Response | None:
    settings = get_settings()
    if not settings.admin_user or not settings.admin_password:
        return Response("operator pages are disabled: set MLC_ADMIN_USER and "
                        "MLC_ADMIN_PASSWORD\n", status=503, mimetype="text/plain")
    auth = request.authorization
    ok = (auth is not None and auth.type == "basic"
          and hmac.compare_digest((auth.username or "").encode(), settings.admin_user.encode())
          and hmac.compare_digest((auth.password or "").encode(),
                                  settings.admin_password.reveal().encode()))
    if not ok:
        return Response("authentication required\n", status=401, mimetype="text/plain",
                        headers={"WWW-Authenticate": 'Basic realm="ml-connector"'})
    return None


@ops.before_request
def _guard() -> Response | None:
    return _authorised()


@ops.get("/metrics")
def metrics() -> Any:
    return Response(prometheus_metrics(), mimetype="text/plain; version=0.0.4")
