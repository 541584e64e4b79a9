"""The reconciliation page: the last stored reconciliation per source, unexplained first, and
a button that runs one (a ``maintenance.reconcile`` task; the result is stored)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from connector.db import session_scope
from connector.models import AuditEvent, Tenant
from connector.operations.reconcile_history import last_runs
from connector.pipeline.audit import audit
from web.console.auth import operator
from web.console.blueprint import console


@console.get("/reconciliation")
def reconciliation() -> Any:
    with session_scope() as s:
        runs = last_runs(s)
        tenants = list(s.scalars(select(Tenant).order_by(Tenant.name)))
        requested = list(s.scalars(select(AuditEvent).where(
            AuditEvent.action == "reconcile-requested").order_by(AuditEvent.id.desc())
            .limit(5)))
        return render_template("console/reconciliation.html", runs=runs, tenants=tenants,
                               requested=requested)


@console.post("/reconciliation/run")
def run_reconciliation() -> Any:
    name = request.form.get("tenant", "")
    with session_scope() as s:
        tenant = s.scalar(select(Tenant).where(Tenant.name == name))
        if tenant is None:
            flash(f"no tenant {name!r}", "error")
            return redirect(url_for("console.reconciliation"))
        audit(s, tenant_id=tenant.id, source_id=None, system="connector",
              entity="reconciliation", external_id=tenant.name, action="reconcile-requested",
              actor=operator(), outcome="ok", direction="operator")
    from tasks.maintenance import reconcile

    reconcile.delay(name, operator())
    flash(f"Reconciliation of {name} started; this page shows it once it has run.", "ok")
    return redirect(url_for("console.reconciliation"))
