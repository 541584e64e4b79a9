"""Operator pages and metrics, behind HTTP Basic auth (MLC_ADMIN_USER / MLC_ADMIN_PASSWORD).

Without both variables the pages are disabled (503), never open.
"""

from __future__ import annotations

import hmac
from html import escape
from typing import Any

from flask import Blueprint, Response, request

from connector.config import get_settings
from connector.operations.overview import overview, prometheus_metrics

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


@ops.get("/ops/")
def page() -> Any:
    parts = ["<!doctype html><meta charset=utf-8><title>ml-connector</title>",
             "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;"
             "text-align:left}</style><h1>ml-connector</h1>"]
    for t in overview():
        parts.append(f"<h2>{escape(t.name)} <small>company {escape(t.company)}</small></h2>")
        parts.append("<table><tr><th>source</th><th>system</th><th>status</th><th></th></tr>")
        for s in t.sources:
            parts.append(f"<tr><td>{escape(s['name'])}</td><td>{escape(s['system'])}</td>"
                         f"<td>{escape(s['status'])}</td><td>{escape(s['reason'] or '')}</td></tr>")
        parts.append("</table><p>records: " + ", ".join(
            f"{escape(k)} {v}" for k, v in sorted(t.records.items())) + "</p>")
        if t.alerts:
            parts.append("<h3>open alerts</h3><ul>" + "".join(
                f"<li>{escape(a['kind'])} ×{a['occurrences']}: {escape(a['message'])}</li>"
                for a in t.alerts) + "</ul>")
        if t.failed:
            parts.append("<h3>failed and parked records</h3><table>" + "".join(
                f"<tr><td>#{r['id']}</td><td>{escape(r['entity'])} {escape(r['store_id'])}"
                f"</td><td>{escape(r['state'])}</td><td>{escape(r['reason'] or '')}</td></tr>"
                for r in t.failed) + "</table><p>Replay after a fix: <code>ml-connector replay "
                f"--tenant {escape(t.name)}</code></p>")
    return Response("".join(parts), mimetype="text/html")
