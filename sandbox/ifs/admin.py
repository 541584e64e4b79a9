"""Admin routes of the IFS Cloud simulator under ``/_sandbox/ifs/`` (see
``docs/sandbox.md``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

from flask import Blueprint, Response, jsonify, request

from sandbox.common import ADMIN_PREFIX, SimulatorState
from sandbox.ifs.config import IfsConfig
from sandbox.ifs.model import ENTITIES
from sandbox.ifs.odata import ODataError
from sandbox.ifs.store import Key, Store


def _config_type_problem(name: str, current: Any, value: Any) -> str | None:
    if isinstance(current, bool):
        ok = isinstance(value, bool)
    elif isinstance(current, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(current, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif isinstance(current, str):
        ok = isinstance(value, str)
    elif isinstance(current, dict):
        ok = isinstance(value, dict)
    else:
        ok = True
    return None if ok else f"{name}: expected {type(current).__name__}, got {json.dumps(value)}"


class IfsAdmin:
    """The ``/_sandbox/ifs/`` blueprint; mixed into ``IfsSimulator``."""

    store: Store
    config: IfsConfig
    state: SimulatorState

    # ----------------------------------------------------------------------------------------
    # admin routes under /_sandbox/ifs/
    # ----------------------------------------------------------------------------------------

    def _install_admin(self) -> None:
        bp = Blueprint("ifs_sandbox", __name__, url_prefix=f"{ADMIN_PREFIX}/ifs")

        def admin_error(message: str, status: int = 400) -> Response:
            resp = jsonify({"error": message})
            resp.status_code = status
            return resp

        @bp.get("/config")
        def get_config() -> Response:
            with self.state.lock:
                return jsonify(asdict(self.config))

        @bp.post("/config")
        def set_config() -> Response:
            body = request.get_json(force=True, silent=True)
            if not isinstance(body, dict):
                return admin_error("body must be a JSON object")
            known = {f.name for f in fields(IfsConfig)}
            unknown = sorted(set(body) - known)
            if unknown:
                return admin_error(f"unknown config fields: {unknown}")
            with self.state.lock:
                for name, value in body.items():
                    problem = _config_type_problem(name, getattr(self.config, name), value)
                    if problem:
                        return admin_error(problem)
                for name, value in body.items():
                    current = getattr(self.config, name)
                    setattr(
                        self.config, name, float(value) if isinstance(current, float) else value
                    )
                return jsonify(asdict(self.config))

        @bp.get("/tokens")
        def get_tokens() -> Response:
            return jsonify({"active": self.counts()["active_tokens"]})

        @bp.post("/tokens/revoke")
        def revoke() -> Response:
            body = request.get_json(force=True, silent=True) or {}
            return jsonify({"revoked": self.revoke_tokens(body.get("client_id"))})

        @bp.get("/counts")
        def get_counts() -> Response:
            return jsonify(self.counts())

        @bp.get("/customers")
        def get_customers() -> Response:
            items = self.customers(request.args.get("company"))
            return jsonify({"count": len(items), "customers": items})

        @bp.post("/customers")
        def seed_customers() -> Response:
            body = request.get_json(force=True, silent=True)
            if isinstance(body, dict) and "generate" in body:
                n = int(body["generate"])
                prefix = str(body.get("prefix", "SEED-"))
                domain = str(body.get("email_domain", "example.com"))
                specs: list[dict[str, Any]] = [
                    {
                        "CustomerId": f"{prefix}{i}",
                        "Name": f"Seeded Customer {i}",
                        "Company": body.get("company"),
                        "Country": body.get("country", "US"),
                        "Emails": [f"{prefix.lower().strip('-_')}{i}@{domain}"],
                    }
                    for i in range(1, n + 1)
                ]
            elif isinstance(body, dict) and isinstance(body.get("customers"), list):
                specs = body["customers"]
            elif isinstance(body, dict):
                specs = [body]
            elif isinstance(body, list):
                specs = body
            else:
                return admin_error(
                    "body must be a customer, a list, {customers:[...]} or {generate:n}"
                )
            created = []
            try:
                for spec in specs:
                    created.append(self.seed_customer(spec))
            except ODataError as err:
                resp = jsonify({**err.body(), "created": [c["CustomerId"] for c in created]})
                resp.status_code = 400
                return resp
            return jsonify({"count": len(created), "customers": created})

        @bp.patch("/customers/<customer_id>")
        def touch_customer(customer_id: str) -> Response:
            return self._admin_touch("CustomerInfo", (customer_id,))

        @bp.get("/orders")
        def get_orders() -> Response:
            items = self.orders(request.args.get("company"))
            return jsonify({"count": len(items), "orders": items})

        @bp.patch("/orders/<order_no>")
        def touch_order(order_no: str) -> Response:
            return self._admin_touch("CustomerOrder", (order_no,))

        @bp.get("/orders/<order_no>/lines")
        def get_lines(order_no: str) -> Response:
            lines = self.order_lines(order_no)
            return jsonify({"count": len(lines), "lines": lines})

        @bp.get("/vouchers")
        def get_vouchers() -> Response:
            items = self.vouchers(request.args.get("company"))
            return jsonify({"count": len(items), "vouchers": items})

        @bp.get("/temp-vouchers")
        def get_temp_vouchers() -> Response:
            items = self.temp_vouchers()
            return jsonify({"count": len(items), "temp_vouchers": items})

        self.app.register_blueprint(bp)

    def _admin_touch(self, entity: str, key: Key) -> Response:
        """Another IFS user edits the record: apply the given fields (may be {}), new ETag."""
        edef = ENTITIES[entity]
        body = request.get_json(force=True, silent=True) or {}
        with self.state.lock:
            row = self.store.get(edef.table, key)
            if row is None:
                resp = jsonify({"error": f"{entity} {key} not found"})
                resp.status_code = 404
                return resp
            if not isinstance(body, dict):
                body = {"": None}
            unknown = [k for k in body if k not in edef.fields and not k.startswith("Cf_")]
            if unknown:
                resp = jsonify({"error": f"unknown fields: {unknown}"})
                resp.status_code = 400
                return resp
            changes = {k: v for k, v in body.items() if k not in edef.keys}
            new_row = self._write(edef, key, {**row.data, **changes}, row.company, row)
            return jsonify({**new_row.data, "@odata.etag": self._etag(new_row)})
