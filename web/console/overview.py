"""The overview page and the actions on it: pause/resume a source, run a sync now,
acknowledge or resolve an alert."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from connector.db import session_scope
from connector.operations import alerts
from connector.operations.admin import AdminError
from connector.operations.console import (
    ActionRefused,
    request_sync,
    set_source_paused,
    tenant_source_ids,
)
from connector.operations.dashboard import fleet, sparkline
from web.console.auth import operator
from web.console.blueprint import console


@console.get("/")
def overview() -> Any:
    with session_scope() as s:
        tenants = fleet(s)
        return render_template("console/overview.html", tenants=tenants, sparkline=sparkline)


def _note() -> str | None:
    return (request.form.get("note") or "").strip()[:500] or None


@console.post("/sources/<int:source_id>/pause")
def pause_source(source_id: int) -> Any:
    return _set_paused(source_id, True)


@console.post("/sources/<int:source_id>/resume")
def resume_source(source_id: int) -> Any:
    return _set_paused(source_id, False)


def _set_paused(source_id: int, paused: bool) -> Any:
    try:
        with session_scope() as s:
            src = set_source_paused(s, source_id, paused, operator=operator(), note=_note())
            flash(f"{src.name} {'paused' if paused else 'resumed'}.", "ok")
    except ActionRefused as exc:
        flash(str(exc), "error")
    return redirect(url_for("console.overview"))


@console.post("/sources/<int:source_id>/sync")
def sync_source(source_id: int) -> Any:
    return _sync([source_id])


@console.post("/tenants/<int:tenant_id>/sync")
def sync_tenant(tenant_id: int) -> Any:
    with session_scope() as s:
        ids = tenant_source_ids(s, tenant_id)
    return _sync(ids)


def _sync(source_ids: list[int]) -> Any:
    try:
        with session_scope() as s:
            active = request_sync(s, source_ids, operator=operator())
    except ActionRefused as exc:
        flash(str(exc), "error")
        return redirect(url_for("console.overview"))
    from tasks.sync import dispatch

    dispatch.delay()  # after the commit: the streams are due now
    flash(f"Sync requested for {len(active)} source(s).", "ok")
    return redirect(url_for("console.overview"))


@console.post("/alerts/<int:alert_id>/acknowledge")
def acknowledge_alert(alert_id: int) -> Any:
    return _alert(alerts.acknowledge, alert_id, "acknowledged")


@console.post("/alerts/<int:alert_id>/resolve")
def resolve_alert(alert_id: int) -> Any:
    return _alert(alerts.resolve, alert_id, "resolved")


def _alert(action: Any, alert_id: int, done: str) -> Any:
    try:
        with session_scope() as s:
            action(s, alert_id, operator=operator(), note=_note())
        flash(f"Alert #{alert_id} {done}.", "ok")
    except AdminError as exc:  # unknown alert, or not open any more
        flash(str(exc), "error")
    return redirect(url_for("console.overview"))
