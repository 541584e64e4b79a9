"""The reconciliation page: the last stored reconciliation per source, unexplained first, and
a button that runs one (a ``maintenance.reconcile`` task; the result is stored)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from connector.db import session_scope
from connector.operations.reconcile_history import (
    last_runs,
    recent_requests,
    request_run,
    tenant_names,
)
from web.console.auth import operator
from web.console.blueprint import console


@console.get("/reconciliation")
def reconciliation() -> Any:
    with session_scope() as s:
        return render_template("console/reconciliation.html", runs=last_runs(s),
                               tenants=tenant_names(s), requested=recent_requests(s))


@console.post("/reconciliation/run")
def run_reconciliation() -> Any:
    try:
        with session_scope() as s:
            name = request_run(s, request.form.get("tenant", ""), operator=operator())
    except LookupError as exc:
        flash(str(exc), "error")
        return redirect(url_for("console.reconciliation"))
    from tasks.maintenance import reconcile

    reconcile.delay(name, operator())  # after the commit
    flash(f"Reconciliation of {name} started; this page shows it once it has run.", "ok")
    return redirect(url_for("console.reconciliation"))
