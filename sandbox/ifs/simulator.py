"""IFS Cloud simulator: IAM token endpoint and OData v4 projections over HTTP.

Faithful to ``reference/ifs-cloud.md`` and its "Decisions for this project":

* OAuth2 client credentials at ``/auth/realms/{realm}/protocol/openid-connect/token``; tokens
  expire by the simulator clock (§1, decision 1);
* projections under ``/{main,int,b2b}/ifsapplications/projection/v1/{Projection}.svc/``:
  ``CustomerHandling``, ``CustomerOrderHandling``, ``VoucherEntryAssistantHandling``,
  ``VoucherHandling`` (read) and ``VoucherRowsAnalysis`` (read) (§4-§6);
* query options, server paging with ``@odata.nextLink``, ``$top`` cap, ``$expand`` limits (§3);
* double-wrapped ETags, ``If-Match`` (strict or upsert), 412, ETag churn (§7, decision 3);
* OData error envelope, business errors as 500 with one detail, ``MI_MODIFIED_ERROR`` (§8);
* ``$batch`` with atomic change sets and ``$<Content-ID>`` references (§9, decision 5);
* a token bucket per IAM client → 429 + ``Retry-After`` (decision 2);
* company scoping per IAM client (decision 8).

Admin routes live under ``/_sandbox/`` (common) and ``/_sandbox/ifs/`` (this simulator); see
``docs/sandbox.md``. The simulator never imports ``connector``: it is the other side of the
wire.

The class is assembled from one mixin per concern: ``auth`` (IAM tokens, throttling),
``dispatch`` (projection URLs, ``$batch``), ``reads``, ``entities``, ``writes``, ``metadata``,
``admin`` and ``rules`` (business rules); settings are in ``config``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from flask import Response, jsonify

from sandbox.common import ServerThread, SimulatorState, make_app
from sandbox.ifs.admin import IfsAdmin
from sandbox.ifs.auth import IamAuth, _Token
from sandbox.ifs.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REALM, IfsConfig
from sandbox.ifs.dispatch import ProjectionDispatch
from sandbox.ifs.entities import EntityHandlers
from sandbox.ifs.metadata import ServiceMetadata
from sandbox.ifs.model import ENTITIES, CallContext
from sandbox.ifs.odata import error_body, make_etag
from sandbox.ifs.reads import ODataReads
from sandbox.ifs.rules import BusinessRules
from sandbox.ifs.store import Key, Store
from sandbox.ifs.writes import ODataWrites

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_REALM",
    "IfsConfig",
    "IfsSimulator",
    "ServerThread",
]


class IfsSimulator(
    IamAuth,
    ProjectionDispatch,
    ODataReads,
    EntityHandlers,
    ODataWrites,
    ServiceMetadata,
    IfsAdmin,
    BusinessRules,
):
    """The simulator: ``.app`` (Flask), ``.state`` (clock, faults, log), ``.config``, ``.store``."""

    def __init__(self, config: IfsConfig | None = None) -> None:
        self.config = config or IfsConfig()
        self._initial_config = copy.deepcopy(self.config)
        self.state = SimulatorState()
        self.store = Store()
        self._tokens: dict[str, _Token] = {}
        self._refresh_tokens: dict[str, _Token] = {}
        self._buckets: dict[str, tuple[float, float]] = {}
        self.app = make_app("ifs", self.state, reset=self._reset, rate_limited=self._fault_429)
        self._install_routes()
        self._install_admin()

    # ----------------------------------------------------------------------------------------
    # in-process inspection helpers (tests, demo)
    # ----------------------------------------------------------------------------------------

    def customers(self, company: str | None = None) -> list[dict[str, Any]]:
        """Customers with their ``CommunicationMethods`` and ``CustomerInfoAddresses``."""
        with self.state.lock:
            out = []
            for key, row in self.store.rows("customer"):
                if company is not None and row.company != company:
                    continue
                item = dict(row.data)
                item["@odata.etag"] = make_etag(row.objid, row.objversion)
                item["CommunicationMethods"] = [
                    dict(r.data) for _, r in self.store.tables["commmethod"].children_of(key)
                ]
                item["CustomerInfoAddresses"] = [
                    dict(r.data) for _, r in self.store.tables["address"].children_of(key)
                ]
                out.append(item)
            return out

    def orders(self, company: str | None = None) -> list[dict[str, Any]]:
        """Order headers (with ``Company`` derived from the site) and their ``Charges``."""
        with self.state.lock:
            out = []
            for key, row in self.store.rows("order"):
                if company is not None and row.company != company:
                    continue
                item = dict(row.data)
                item["@odata.etag"] = make_etag(row.objid, row.objversion)
                item["Charges"] = [
                    dict(r.data) for _, r in self.store.tables["charge"].children_of(key)
                ]
                out.append(item)
            return out

    def order_lines(self, order_no: str) -> list[dict[str, Any]]:
        with self.state.lock:
            return [dict(r.data) for _, r in self.store.tables["line"].children_of((order_no,))]

    def vouchers(self, company: str | None = None) -> list[dict[str, Any]]:
        """Created vouchers (header fields) with their ``Rows``."""
        with self.state.lock:
            rows_by_voucher: dict[Key, list[dict[str, Any]]] = {}
            for key, row in self.store.rows("voucherrow"):
                rows_by_voucher.setdefault(key[:4], []).append(dict(row.data))
            out = []
            for key, row in self.store.rows("voucher"):
                if company is not None and row.company != company:
                    continue
                out.append({**row.data, "Rows": rows_by_voucher.get(key, [])})
            return out

    def temp_vouchers(self) -> list[dict[str, Any]]:
        """Voucher drafts of the wizard (not yet created or removed), with their postings."""
        with self.state.lock:
            return [
                {
                    **row.data,
                    "VoucherPostingArray": [
                        dict(r.data) for _, r in self.store.tables["posting"].children_of(key)
                    ],
                }
                for key, row in self.store.rows("tempvoucher")
            ]

    def counts(self) -> dict[str, int]:
        with self.state.lock:
            return {
                "customers": len(self.store.tables["customer"].rows),
                "addresses": len(self.store.tables["address"].rows),
                "communication_methods": len(self.store.tables["commmethod"].rows),
                "orders": len(self.store.tables["order"].rows),
                "order_lines": len(self.store.tables["line"].rows),
                "order_charges": len(self.store.tables["charge"].rows),
                "temp_vouchers": len(self.store.tables["tempvoucher"].rows),
                "vouchers": len(self.store.tables["voucher"].rows),
                "voucher_rows": len(self.store.tables["voucherrow"].rows),
                "active_tokens": sum(
                    1 for t in self._tokens.values() if t.expires_at > self.state.clock.time()
                ),
            }

    def seed_customer(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Create a customer as if keyed in IFS by hand (no auth, no budget).

        ``spec``: customer fields (``Name`` defaults to the id, ``Country`` to ``US``,
        ``Company`` to the default client's first company) plus optional ``Emails``/``Email``,
        ``Phones``/``Phone``, ``CommunicationMethods`` (list of fields) and ``Addresses``.
        """
        spec = dict(spec)
        emails = spec.pop("Emails", None) or ([spec.pop("Email")] if "Email" in spec else [])
        phones = spec.pop("Phones", None) or ([spec.pop("Phone")] if "Phone" in spec else [])
        comms = list(spec.pop("CommunicationMethods", []))
        addresses = list(spec.pop("Addresses", []))
        comms += [{"MethodId": self.config.email_method_id, "Value": e} for e in emails]
        comms += [{"MethodId": self.config.phone_method_id, "Value": p} for p in phones]
        company = str(spec.get("Company") or self._default_company())
        spec["Company"] = company
        spec.setdefault("Country", "US")
        spec.setdefault("Name", spec.get("CustomerId") or "Seeded customer")
        ctx = CallContext("_sandbox", (company,), "", "", "CustomerHandling")
        customer = ENTITIES["CustomerInfo"]
        with self.state.lock:
            sp = self.store.savepoint()
            try:
                key, row = self._insert(ctx, customer, spec, None)
                for addr in addresses:
                    self._insert(ctx, ENTITIES["CustomerInfoAddress"], dict(addr), (key, row))
                for comm in comms:
                    self._insert(ctx, ENTITIES["CommMethod"], dict(comm), (key, row))
            except BaseException:
                self.store.rollback(sp)
                raise
            self.store.release(sp)
            return dict(row.data)

    # ----------------------------------------------------------------------------------------
    # reset, faults
    # ----------------------------------------------------------------------------------------

    def _reset(self) -> None:
        with self.state.lock:
            self.store = Store()
            self._tokens.clear()
            self._refresh_tokens.clear()
            self._buckets.clear()
            for f in fields(IfsConfig):
                setattr(self.config, f.name, copy.deepcopy(getattr(self._initial_config, f.name)))

    def _fault_429(self, state: SimulatorState) -> Response:
        body = error_body("ODP_TOO_MANY_REQUESTS", "Too many requests. Try again later.")
        resp = jsonify(body)
        resp.status_code = 429
        resp.headers["Retry-After"] = str(state.faults.retry_after_s)
        return resp

    def _default_company(self) -> str:
        client = self.config.clients.get(DEFAULT_CLIENT_ID) or next(
            iter(self.config.clients.values()), {"companies": ["10"]}
        )
        companies = client.get("companies") or ["10"]
        return str(companies[0])

    def _roll(self, ratio: float) -> bool:
        if ratio <= 0:
            return False
        with self.state.lock:
            return self.state.rng.random() < ratio

    def _switch(self, name: str) -> float:
        """IFS switch from ``Faults.extra`` (if set via /_sandbox/faults) or the config."""
        extra = self.state.faults.extra
        return float(extra[name]) if name in extra else float(getattr(self.config, name))

    # ----------------------------------------------------------------------------------------
    # routes: token endpoint and projections
    # ----------------------------------------------------------------------------------------

    def _install_routes(self) -> None:
        app = self.app
        app.add_url_rule(
            "/auth/realms/<realm>/protocol/openid-connect/token",
            "ifs_token",
            self._token_endpoint,
            methods=["POST"],
        )
        app.add_url_rule(
            "/<layer>/ifsapplications/projection/v1/<path:rest>",
            "ifs_projection",
            self._projection_endpoint,
            methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
        )
