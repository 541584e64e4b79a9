"""One record's page (its whole journey and, when failed or parked, the side-by-side view),
and the actions on it: replay (with a preview first), resolve, dismiss."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

from connector.db import session_scope
from connector.models import FAILED, PARKED
from connector.operations.console import (
    ActionRefused,
    dismiss_record,
    preview_replay,
    replay_record,
    resolve_record,
)
from connector.operations.record_compare import compare
from connector.operations.records_view import journey
from web.console.auth import operator
from web.console.blueprint import console


@console.get("/records/<int:record_id>")
def record_page(record_id: int) -> Any:
    with session_scope() as s:
        j = journey(s, record_id)
        if j is None:
            abort(404)
        side = (compare(s, j.record, j.tenant, j.source, j.link)
                if j.record.state in (FAILED, PARKED) else None)
        return render_template("console/record.html", j=j, side=side)


@console.get("/records/<int:record_id>/replay")
def replay_preview(record_id: int) -> Any:
    try:
        with session_scope() as s:
            preview = preview_replay(s, record_id)
            return render_template("console/replay.html", p=preview)
    except ActionRefused:
        abort(404)


@console.post("/records/<int:record_id>/replay")
def replay(record_id: int) -> Any:
    note = (request.form.get("note") or "").strip()[:500] or None
    try:
        with session_scope() as s:
            tenant_id, what = replay_record(s, record_id, operator=operator(), note=note)
    except ActionRefused as exc:
        flash(str(exc), "error")
        return redirect(url_for("console.record_page", record_id=record_id))
    from tasks.sync import pump

    pump(tenant_id)  # after the commit
    flash(f"Replay started: {what}.", "ok")
    return redirect(url_for("console.record_page", record_id=record_id))


@console.post("/records/<int:record_id>/resolve")
def resolve(record_id: int) -> Any:
    return _close(record_id, resolve_record, "resolved")


@console.post("/records/<int:record_id>/dismiss")
def dismiss(record_id: int) -> Any:
    return _close(record_id, dismiss_record, "dismissed")


def _close(record_id: int, action: Any, done: str) -> Any:
    try:
        with session_scope() as s:
            action(s, record_id, operator=operator(), note=request.form.get("note") or "")
        flash(f"Record #{record_id} {done}.", "ok")
    except ActionRefused as exc:
        flash(str(exc), "error")
    return redirect(url_for("console.record_page", record_id=record_id))
