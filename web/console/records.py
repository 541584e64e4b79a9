"""The records list (search, filter, page) and the bulk replay of a filtered set, with its
preview."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from connector.db import session_scope
from connector.models import RECORD_STATES
from connector.operations.console import ActionRefused, preview_bulk_replay, replay_filtered
from connector.operations.records_view import (
    AGES,
    RecordFilter,
    list_records,
    tenants_and_sources,
)
from web.console.auth import operator
from web.console.blueprint import console

ENTITIES = ("customer", "order", "payment", "shipment", "refund")


def _page_arg() -> int:
    try:
        return int(request.args.get("page", "1"))
    except ValueError:
        return 1


@console.get("/records")
def records_list() -> Any:
    f = RecordFilter.from_mapping(request.args)
    with session_scope() as s:
        page = list_records(s, f, _page_arg())
        return render_template("console/records.html", page=page, f=f,
                               tenants=tenants_and_sources(s), states=RECORD_STATES,
                               entities=ENTITIES, ages=AGES)


@console.get("/records/replay")
def bulk_replay_preview() -> Any:
    f = RecordFilter.from_mapping(request.args)
    try:
        with session_scope() as s:
            preview = preview_bulk_replay(s, f)
            return render_template("console/bulk_replay.html", preview=preview, f=f)
    except ActionRefused as exc:
        flash(str(exc), "error")
        return redirect(url_for("console.records_list", **f.as_dict()))


@console.post("/records/replay")
def bulk_replay() -> Any:
    f = RecordFilter.from_mapping(request.form)
    expected = [int(i) for i in request.form.getlist("id") if i.isdigit()]
    try:
        with session_scope() as s:
            tenants, count = replay_filtered(s, f, operator=operator(), expected=expected)
    except ActionRefused as exc:
        flash(str(exc), "error")
        return redirect(url_for("console.records_list", **f.as_dict()))
    from tasks.sync import pump

    for tenant_id in tenants:  # after the commit
        pump(tenant_id)
    flash(f"{count} record(s) queued for replay.", "ok")
    return redirect(url_for("console.records_list", **f.as_dict()))
