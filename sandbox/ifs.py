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
"""

from __future__ import annotations

import base64
import copy
import hmac
import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from flask import Blueprint, Response, jsonify, request

from sandbox.common import ADMIN_PREFIX, ServerThread, SimulatorState, make_app
from sandbox.ifs_batch import (
    BatchRequest,
    BatchResponse,
    ChangeSet,
    batch_error,
    parse_batch,
    render_batch,
)
from sandbox.ifs_model import (
    BOOL,
    DATE,
    DATETIME,
    ENTITIES,
    INSERT,
    INT,
    NUM,
    PROJECTIONS,
    RO,
    STR,
    ApiResponse,
    CallContext,
    EntityDef,
    Key,
    Row,
    Store,
)
from sandbox.ifs_odata import (
    Filter,
    ODataError,
    bad_request,
    business_error,
    error_body,
    format_key_value,
    if_match_satisfied,
    invalid_query,
    make_etag,
    next_objversion,
    not_found,
    not_implemented,
    parse_filter,
    parse_key_predicate,
    parse_orderby,
    parse_segment,
    parse_select,
    sort_key,
    split_path,
)
from sandbox.ifs_rules import BusinessRules

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_REALM",
    "IfsConfig",
    "IfsSimulator",
    "ServerThread",
]

DEFAULT_CLIENT_ID = "MLCONN_SYNC"
DEFAULT_CLIENT_SECRET = "sandbox-ifs-secret"
DEFAULT_REALM = "mlc"

PROJECTION_ROOT = "/ifsapplications/projection/v1/"
LAYERS = ("main", "int", "b2b")
# Characters left as-is when building nextLink/Location URLs (keys and OData syntax).
_URL_SAFE = "'(),=$:@!*;"
_QUERY_OPTIONS = {
    "$filter",
    "$select",
    "$orderby",
    "$top",
    "$skip",
    "$count",
    "$skiptoken",
    "$expand",
    "$format",
    "$apply",
    "$search",
}
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?"
)


def _default_clients() -> dict[str, dict[str, Any]]:
    return {DEFAULT_CLIENT_ID: {"secret": DEFAULT_CLIENT_SECRET, "companies": ["10", "20"]}}


@dataclass
class IfsConfig:
    """Simulator settings; every field can also be changed at runtime via ``/_sandbox/ifs/config``.

    ``clients`` maps IAM client ids to ``{"secret": str, "companies": [company, ...]}``;
    ``sites`` maps a site (order ``Contract``) to its company.
    """

    realm: str = DEFAULT_REALM
    clients: dict[str, dict[str, Any]] = field(default_factory=_default_clients)
    token_ttl_s: int = 180
    page_size: int = 500
    budget_per_min: int = 1000
    strict_if_match: bool = True
    sites: dict[str, str] = field(default_factory=lambda: {"S1": "10", "S2": "20"})
    max_top: int = 5000
    etag_churn_ratio: float = 0.0  # PATCH: another IFS user bumps the row first → 412
    mi_modified_ratio: float = 0.0  # projection calls answered 500 MI_MODIFIED_ERROR
    # Writes answered 400 with an error message that echoes the request's Authorization
    # header (some gateways and servlet containers do this): a secret-leak test switch.
    echo_authorization_ratio: float = 0.0
    email_method_id: str = "E_MAIL"  # CommunicationMethods.MethodId of e-mail (tenant-specific)
    phone_method_id: str = "PHONE"
    default_currency: str = "EUR"
    refresh_ttl_s: int = 1800


@dataclass
class _Token:
    client_id: str
    expires_at: float


@dataclass
class _Query:
    filter: Filter | None = None
    select: list[str] | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)
    top: int | None = None
    skip: int = 0
    count: bool = False
    skiptoken: int = 0
    expand: list[str] = field(default_factory=list)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _error_response(err: ODataError) -> ApiResponse:
    return ApiResponse(err.status, err.body(), dict(err.headers))


class IfsSimulator(BusinessRules):
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

    def _oauth_error(self, status: int, error: str, description: str) -> Response:
        resp = jsonify({"error": error, "error_description": description})
        resp.status_code = status
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def _token_endpoint(self, realm: str) -> Response:
        if realm != self.config.realm:
            resp = jsonify({"error": "Realm does not exist"})
            resp.status_code = 404
            return resp
        form = request.form
        client_id = form.get("client_id")
        secret = form.get("client_secret")
        auth = request.authorization
        if auth is not None and auth.type == "basic":  # client_secret_basic
            client_id, secret = auth.username, auth.password
        grant = form.get("grant_type")
        if not grant:
            return self._oauth_error(400, "invalid_request", "Missing form parameter: grant_type")
        if grant not in ("client_credentials", "refresh_token"):
            return self._oauth_error(400, "unsupported_grant_type", "Unsupported grant_type")
        client = self.config.clients.get(client_id or "")
        if (
            client is None
            or secret is None
            or not hmac.compare_digest(str(secret), str(client.get("secret", "")))
        ):
            return self._oauth_error(
                401, "invalid_client", "Invalid client or Invalid client credentials"
            )
        assert client_id is not None
        now = self.state.clock.time()
        with self.state.lock:
            if grant == "refresh_token":
                old = self._refresh_tokens.pop(form.get("refresh_token", ""), None)
                if old is None or old.client_id != client_id or old.expires_at <= now:
                    return self._oauth_error(400, "invalid_grant", "Invalid refresh token")
            # keep memory bounded in long runs: forget expired tokens
            if len(self._tokens) > 1000:
                self._tokens = {k: t for k, t in self._tokens.items() if t.expires_at > now}
                self._refresh_tokens = {
                    k: t for k, t in self._refresh_tokens.items() if t.expires_at > now
                }
            ttl = int(self.config.token_ttl_s)
            access = self._jwt(client_id, now, ttl, "Bearer")
            refresh = self._jwt(client_id, now, int(self.config.refresh_ttl_s), "Refresh")
            self._tokens[access] = _Token(client_id, now + ttl)
            self._refresh_tokens[refresh] = _Token(client_id, now + self.config.refresh_ttl_s)
        resp = jsonify(
            {
                "access_token": access,
                "expires_in": ttl,
                "refresh_expires_in": int(self.config.refresh_ttl_s),
                "refresh_token": refresh,
                "token_type": "Bearer",
                "id_token": self._jwt(client_id, now, ttl, "ID"),
                "not-before-policy": 0,
                "session_state": str(uuid.uuid4()),
                "scope": form.get("scope") or "openid microprofile-jwt",
            }
        )
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def _jwt(self, client_id: str, now: float, ttl: int, typ: str) -> str:
        """An unsigned JWT look-alike (clients may decode ``exp``; nobody verifies it)."""
        header = {"alg": "RS256", "typ": "JWT", "kid": "ifs-sandbox"}
        payload = {
            "exp": int(now + ttl),
            "iat": int(now),
            "jti": str(uuid.uuid4()),
            "iss": f"{request.host_url}auth/realms/{self.config.realm}",
            "typ": typ,
            "azp": client_id,
            "preferred_username": f"service-account-{client_id.lower()}",
        }
        parts = [json.dumps(header).encode(), json.dumps(payload).encode(), uuid.uuid4().bytes]
        return ".".join(_b64url(p) for p in parts)

    def revoke_tokens(self, client_id: str | None = None) -> int:
        with self.state.lock:
            doomed = [k for k, t in self._tokens.items() if client_id in (None, t.client_id)]
            for k in doomed:
                del self._tokens[k]
            for k in [
                k for k, t in self._refresh_tokens.items() if client_id in (None, t.client_id)
            ]:
                del self._refresh_tokens[k]
            return len(doomed)

    def _authenticate(self) -> str:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        err = ODataError(
            401,
            "ODP_UNAUTHORIZED",
            "The access token is missing, invalid or expired.",
            detail_code="invalid_token",
            headers={
                "WWW-Authenticate": f'Bearer realm="{self.config.realm}", error="invalid_token"'
            },
        )
        if scheme.lower() != "bearer" or not token:
            raise err
        with self.state.lock:
            info = self._tokens.get(token.strip())
        if (
            info is None
            or info.expires_at <= self.state.clock.time()
            or info.client_id not in self.config.clients
        ):
            raise err
        return info.client_id

    def _throttle(self, client_id: str) -> None:
        """Token bucket per IAM client, refilled continuously (decision 2)."""
        budget = max(1, int(self.config.budget_per_min))
        rate = budget / 60.0
        now = self.state.clock.time()
        with self.state.lock:
            tokens, last = self._buckets.get(client_id, (float(budget), now))
            tokens = min(float(budget), tokens + max(0.0, now - last) * rate)
            if tokens >= 1.0:
                self._buckets[client_id] = (tokens - 1.0, now)
                return
            self._buckets[client_id] = (tokens, now)
        wait = max(1, math.ceil((1.0 - tokens) / rate))
        raise ODataError(
            429,
            "ODP_TOO_MANY_REQUESTS",
            f"Request budget of {budget} per minute exhausted. Retry after {wait} s.",
            headers={"Retry-After": str(wait)},
        )

    def _projection_endpoint(self, layer: str, rest: str) -> Response:
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
        raw_path = urlsplit(raw).path
        prefix = f"/{layer}{PROJECTION_ROOT}"
        if not raw_path.startswith(prefix):
            raw_path = request.path
        try:
            if layer not in LAYERS:
                raise not_found(f"Unknown layer '{layer}'.")
            segs = split_path(raw_path[len(prefix) :])
            if not segs or not segs[0].endswith(".svc") or segs[0][:-4] not in PROJECTIONS:
                raise not_found(f"Projection '{segs[0] if segs else ''}' does not exist.")
            projection = segs[0][:-4]
            client_id = self._authenticate()
            self._throttle(client_id)
            if self.state.faults.applies(request.method, request.path) and self._roll(
                self._switch("mi_modified_ratio")
            ):
                raise ODataError(
                    500,
                    "MI_MODIFIED_ERROR",
                    "The projection metadata has been modified. Refresh and try again.",
                )
            if request.method != "GET" and self.state.faults.applies(
                    request.method, request.path) and self._roll(
                    self._switch("echo_authorization_ratio")):
                raise ODataError(
                    400,
                    "ODP_BAD_REQUEST",
                    "Request rejected. Request headers: Authorization: "
                    f"{request.headers.get('Authorization', '')}",
                )
            companies = tuple(str(c) for c in self.config.clients[client_id].get("companies", []))
            ctx = CallContext(
                client_id,
                companies,
                request.host_url.rstrip("/"),
                f"/{layer}{PROJECTION_ROOT}{projection}.svc",
                projection,
            )
            if segs[1:] == ["$batch"]:
                if request.method != "POST":
                    raise ODataError(405, "ODP_METHOD_NOT_ALLOWED", "$batch requires POST.")
                return self._batch(ctx)
            headers = {k.lower(): v for k, v in request.headers.items()}
            resp = self._call(
                ctx,
                request.method,
                segs[1:],
                parse_qsl(request.query_string.decode("utf-8"), keep_blank_values=True),
                headers,
                request.get_data(),
            )
        except ODataError as err:
            resp = _error_response(err)
        return self._to_flask(resp)

    def _to_flask(self, resp: ApiResponse) -> Response:
        if resp.body is None:
            out = Response(b"", status=resp.status)
            del out.headers["Content-Type"]
        else:
            data = resp.body if isinstance(resp.body, bytes) else json.dumps(resp.body).encode()
            out = Response(data, status=resp.status, content_type=resp.content_type)
        out.headers["OData-Version"] = "4.0"
        for k, v in resp.headers.items():
            out.headers[k] = v
        return out

    # ----------------------------------------------------------------------------------------
    # $batch (§9)
    # ----------------------------------------------------------------------------------------

    def _batch(self, ctx: CallContext) -> Response:
        parts = parse_batch(request.get_data(), request.headers.get("Content-Type", ""))
        out: list[BatchResponse | list[BatchResponse]] = []
        for part in parts:
            if isinstance(part, ChangeSet):
                out.append(self._run_changeset(ctx, part))
            else:
                out.append(self._run_batch_request(ctx, part, {})[0])
        content_type, body = render_batch(out)
        resp = Response(body, status=200, content_type=content_type)
        resp.headers["OData-Version"] = "4.0"
        return resp

    def _run_changeset(
        self, ctx: CallContext, changeset: ChangeSet
    ) -> BatchResponse | list[BatchResponse]:
        """All-or-nothing: the first failure rolls back every write of the change set."""
        with self.state.lock:
            sp = self.store.savepoint()
            try:
                refs: dict[str, ApiResponse] = {}
                results: list[BatchResponse] = []
                for req in changeset.requests:
                    bresp, api = self._run_batch_request(ctx, req, refs)
                    if api.status >= 400:
                        self.store.rollback(sp)
                        return bresp
                    if req.content_id is not None:
                        refs[req.content_id] = api
                    results.append(bresp)
            except BaseException:
                self.store.rollback(sp)
                raise
            self.store.release(sp)
            return results

    def _run_batch_request(
        self, ctx: CallContext, req: BatchRequest, refs: Mapping[str, ApiResponse]
    ) -> tuple[BatchResponse, ApiResponse]:
        try:
            url = req.url
            if url.startswith("$"):
                ref, _, rest = url[1:].partition("/")
                ref_id, _, query_part = ref.partition("?")
                target = refs.get(ref_id)
                if target is None or target.entity_path is None:
                    raise batch_error(f"Unknown Content-ID reference ${ref_id}.")
                url = target.entity_path + ("/" + rest if rest else "")
                if query_part:
                    url += "?" + query_part
            split = urlsplit(url)
            path = split.path
            if path.startswith("/"):
                if path != ctx.service_root and not path.startswith(ctx.service_root + "/"):
                    raise batch_error(f"Batch request {url!r} is outside {ctx.service_root}.")
                path = path[len(ctx.service_root) :]
            segs = split_path(path)
            if segs[:1] == ["$batch"]:
                raise batch_error("$batch cannot be nested.")
            headers = dict(req.headers)
            if_match = headers.get("if-match")
            if if_match and if_match.startswith("$"):
                target = refs.get(if_match[1:])
                if target is None or target.etag is None:
                    raise batch_error(f"Unknown Content-ID reference {if_match} in If-Match.")
                headers["if-match"] = target.etag
            api = self._call(
                ctx,
                req.method,
                segs,
                parse_qsl(split.query, keep_blank_values=True),
                headers,
                req.body,
            )
        except ODataError as err:
            api = _error_response(err)
        headers_out = dict(api.headers)
        body = b""
        if api.body is not None:
            body = api.body if isinstance(api.body, bytes) else json.dumps(api.body).encode()
            headers_out["Content-Type"] = api.content_type
        return BatchResponse(api.status, headers_out, body, req.content_id), api

    # ----------------------------------------------------------------------------------------
    # dispatch
    # ----------------------------------------------------------------------------------------

    def _call(
        self,
        ctx: CallContext,
        method: str,
        segs: list[str],
        query: list[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> ApiResponse:
        """One OData request (top level or inside a batch); writes are atomic."""
        try:
            with self.state.lock:
                sp = self.store.savepoint()
                try:
                    resp = self._route(ctx, method.upper(), segs, query, headers, body)
                except BaseException:
                    self.store.rollback(sp)
                    raise
                self.store.release(sp)
                return resp
        except ODataError as err:
            return _error_response(err)

    def _route(
        self,
        ctx: CallContext,
        method: str,
        segs: list[str],
        query: list[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> ApiResponse:
        sets = PROJECTIONS[ctx.projection]
        if not segs:
            self._require(method, "GET")
            return ApiResponse(200, self._service_document(ctx))
        if segs == ["$metadata"]:
            self._require(method, "GET")
            return ApiResponse(200, self._metadata(ctx).encode(), content_type="application/xml")
        set_name, key_text = parse_segment(segs[0])
        sdef = sets.get(set_name)
        if sdef is None:
            raise not_found(f"Entity set '{set_name}' does not exist in {ctx.projection}.")
        edef = ENTITIES[sdef.entity]
        if key_text is None:
            if segs[1:] == ["$count"]:
                self._require(method, "GET")
                return self._count(ctx, edef, None, query)
            if len(segs) > 1:
                raise not_found(f"Resource '{'/'.join(segs)}' does not exist.")
            return self._collection(
                ctx, method, edef, None, segs, query, headers, body, insertable=sdef.insertable
            )
        key = self._bind_key(edef, key_text, None)
        if len(segs) == 1:
            return self._entity(
                ctx, method, edef, key, None, segs, query, headers, body, sdef.writable
            )
        row = self._visible_row(ctx, edef, key)
        seg = segs[1]
        if seg.startswith("IfsApp."):
            if len(segs) > 2:
                raise not_found(f"Resource '{'/'.join(segs)}' does not exist.")
            return self._action(ctx, method, edef, key, row, seg, headers, body, sdef.writable)
        nav_name, nav_key_text = parse_segment(seg)
        if nav_name in edef.navs:
            child = ENTITIES[edef.navs[nav_name]]
            if nav_key_text is None:
                if segs[2:] == ["$count"]:
                    self._require(method, "GET")
                    return self._count(ctx, child, key, query)
                if len(segs) > 2:
                    raise not_found(f"Resource '{'/'.join(segs)}' does not exist.")
                return self._collection(
                    ctx,
                    method,
                    child,
                    (key, row),
                    segs,
                    query,
                    headers,
                    body,
                    insertable=sdef.writable,
                )
            if len(segs) > 2:
                raise not_found(f"Resource '{'/'.join(segs)}' does not exist.")
            child_key = self._bind_key(child, nav_key_text, key)
            return self._entity(
                ctx,
                method,
                child,
                child_key,
                (key, row),
                segs,
                query,
                headers,
                body,
                sdef.writable,
            )
        if nav_name in edef.refs and nav_key_text is None and len(segs) == 2:
            self._require(method, "GET")
            target_name, local = edef.refs[nav_name]
            target = ENTITIES[target_name]
            target_key = tuple(row.data.get(f) for f in local)
            target_row = self.store.get(target.table, target_key)
            if target_row is None or not self._visible(ctx, target_row):
                return ApiResponse(204)
            return ApiResponse(200, self._entity_body(ctx, target, target_row, segs, None, []))
        raise not_found(f"Resource '{'/'.join(segs)}' does not exist.")

    @staticmethod
    def _require(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise ODataError(
                405,
                "ODP_METHOD_NOT_ALLOWED",
                f"Method {method} is not allowed on this resource (allowed: {', '.join(allowed)}).",
            )

    # ----------------------------------------------------------------------------------------
    # keys, visibility, rendering
    # ----------------------------------------------------------------------------------------

    @staticmethod
    def _bind_key(edef: EntityDef, text: str, parent_key: Key | None) -> Key:
        items = parse_key_predicate(text)
        plen = edef.parent_key_len if parent_key is not None else 0
        own = edef.keys[plen:]
        values: dict[str, Any] = {}
        if len(items) == 1 and items[0][0] is None:
            if len(own) != 1:
                raise bad_request(
                    "ODP_INVALID_KEY", f"{edef.name} has a composite key: name every key property."
                )
            values[own[0]] = items[0][1]
        else:
            for name, value in items:
                if name is None:
                    raise bad_request(
                        "ODP_INVALID_KEY", "Composite keys must name every key property."
                    )
                if name not in edef.keys:
                    raise bad_request("ODP_INVALID_KEY", f"'{name}' is not a key of {edef.name}.")
                if name in values:
                    raise bad_request("ODP_INVALID_KEY", f"Key property '{name}' given twice.")
                values[name] = value
        if parent_key is not None:
            for name, parent_value in zip(edef.keys[:plen], parent_key, strict=True):
                if name in values and values[name] != parent_value:
                    raise not_found(f"{edef.name} does not belong to the addressed parent.")
                values[name] = parent_value
        missing = [k for k in edef.keys if k not in values]
        if missing:
            raise bad_request("ODP_INVALID_KEY", f"Missing key properties: {', '.join(missing)}.")
        for name in edef.keys:
            value, type_ = values[name], edef.key_type(name)
            if type_ == STR and not isinstance(value, str):
                raise bad_request(
                    "ODP_INVALID_KEY", f"Key property '{name}' is a string: quote its value."
                )
            if type_ == INT and (not isinstance(value, int) or isinstance(value, bool)):
                raise bad_request("ODP_INVALID_KEY", f"Key property '{name}' must be an integer.")
        return tuple(values[k] for k in edef.keys)

    @staticmethod
    def _visible(ctx: CallContext, row: Row) -> bool:
        return row.company is None or row.company in ctx.companies

    def _visible_row(self, ctx: CallContext, edef: EntityDef, key: Key) -> Row:
        row = self.store.get(edef.table, key)
        if row is None or not self._visible(ctx, row):
            raise not_found(
                f"The requested {edef.name} ({self._key_text(edef, key)}) does not exist."
            )
        return row

    @staticmethod
    def _key_text(edef: EntityDef, key: Key) -> str:
        return ",".join(f"{k}={format_key_value(v)}" for k, v in zip(edef.keys, key, strict=True))

    @staticmethod
    def _etag(row: Row) -> str:
        return make_etag(row.objid, row.objversion)

    def _render(
        self,
        ctx: CallContext,
        edef: EntityDef,
        row: Row,
        select: list[str] | None,
        expand: list[str],
    ) -> dict[str, Any]:
        key = tuple(row.data[k] for k in edef.keys)
        out: dict[str, Any] = {
            "@odata.etag": self._etag(row),
            "luname": edef.luname,
            "keyref": edef.keyref(key),
            "Objgrants": None,
        }
        if select is None:
            out.update(row.data)
        else:
            for name in select:
                out[name] = row.data.get(name)
        for nav in expand:
            target_name, local = edef.refs[nav]
            target = ENTITIES[target_name]
            target_row = self.store.get(target.table, tuple(row.data.get(f) for f in local))
            out[nav] = (
                self._render(ctx, target, target_row, None, [])
                if target_row is not None and self._visible(ctx, target_row)
                else None
            )
        return out

    def _context_url(self, ctx: CallContext, segs: list[str], entity: bool) -> str:
        names = [parse_segment(s)[0] for s in segs]
        suffix = "/$entity" if entity else ""
        return f"{ctx.base_url}{ctx.service_root}/$metadata#{'/'.join(names)}{suffix}"

    def _entity_body(
        self,
        ctx: CallContext,
        edef: EntityDef,
        row: Row,
        segs: list[str],
        select: list[str] | None,
        expand: list[str],
    ) -> dict[str, Any]:
        return {
            "@odata.context": self._context_url(ctx, segs, entity=True),
            **self._render(ctx, edef, row, select, expand),
        }

    def _url(self, ctx: CallContext, segs: list[str]) -> str:
        """Absolute URL of decoded path segments (a ``/`` inside a key becomes ``%2F``)."""
        path = "/".join(quote(seg, safe=_URL_SAFE) for seg in segs)
        return f"{ctx.base_url}{ctx.service_root}/{path}"

    # ----------------------------------------------------------------------------------------
    # query options and reads (§3)
    # ----------------------------------------------------------------------------------------

    def _parse_query(self, edef: EntityDef, query: list[tuple[str, str]]) -> _Query:
        opts: dict[str, str] = {}
        for name, value in query:
            if not name.startswith("$"):
                continue
            if name not in _QUERY_OPTIONS:
                raise invalid_query(f"Unknown system query option '{name}'.")
            if name in opts:
                raise invalid_query(f"Query option '{name}' given more than once.")
            opts[name] = value
        props = list(edef.fields)
        q = _Query()
        if "$apply" in opts or "$search" in opts:
            raise not_implemented("$apply and $search are not supported by the simulator.")
        if "$format" in opts and opts["$format"].lower() not in ("json", "application/json"):
            raise invalid_query("Only $format=json is supported.")
        if opts.get("$filter", "").strip():
            q.filter = parse_filter(opts["$filter"], props)
        if opts.get("$select", "").strip():
            q.select = parse_select(opts["$select"], props, [*edef.navs, *edef.refs])
        if opts.get("$orderby", "").strip():
            q.orderby = parse_orderby(opts["$orderby"], props)
        if "$top" in opts:
            q.top = self._int_option("$top", opts["$top"])
            if q.top > self.config.max_top:
                raise invalid_query(f"$top may not exceed {self.config.max_top}.")
        if "$skip" in opts:
            q.skip = self._int_option("$skip", opts["$skip"])
        if "$skiptoken" in opts:
            q.skiptoken = self._int_option("$skiptoken", opts["$skiptoken"])
        if "$count" in opts:
            if opts["$count"].lower() not in ("true", "false"):
                raise invalid_query("$count must be true or false.")
            q.count = opts["$count"].lower() == "true"
        if opts.get("$expand", "").strip():
            for item in opts["$expand"].split(","):
                name = item.strip()
                base = name.split("(")[0]
                if base in edef.navs:
                    raise not_implemented(
                        f"$expand on the collection navigation '{base}' is not supported."
                    )
                if base not in edef.refs:
                    raise invalid_query(f"$expand: unknown navigation '{base}'.")
                if "(" in name:
                    raise not_implemented("Nested $expand options are not supported.")
                q.expand.append(base)
        return q

    @staticmethod
    def _int_option(name: str, value: str) -> int:
        if not re.fullmatch(r"\d+", value.strip()):
            raise invalid_query(f"{name} must be a non-negative integer.")
        return int(value)

    def _candidates(self, edef: EntityDef, parent_key: Key | None, flt: Filter | None) -> list[Row]:
        table = self.store.tables[edef.table]
        if parent_key is not None:
            return [r for _, r in table.children_of(parent_key)]
        eqs = flt.equalities if flt is not None else {}
        if eqs and all(k in eqs for k in edef.keys):
            row = table.rows.get(tuple(eqs[k] for k in edef.keys))
            return [row] if row is not None else []
        for name, value in eqs.items():
            keys = table.lookup(name, value)
            if keys is not None:
                return sorted((table.rows[k] for k in keys), key=lambda r: r.seq)
        return [r for _, r in self.store.rows(edef.table)]

    def _select_rows(
        self, ctx: CallContext, edef: EntityDef, parent_key: Key | None, q: _Query
    ) -> list[Row]:
        rows = [
            r
            for r in self._candidates(edef, parent_key, q.filter)
            if self._visible(ctx, r) and (q.filter is None or q.filter(r.data))
        ]
        for name, desc in reversed(q.orderby):
            rows.sort(key=_row_sorter(name), reverse=desc)
        return rows

    def _count(
        self,
        ctx: CallContext,
        edef: EntityDef,
        parent_key: Key | None,
        query: list[tuple[str, str]],
    ) -> ApiResponse:
        q = self._parse_query(edef, query)
        n = len(self._select_rows(ctx, edef, parent_key, q))
        return ApiResponse(200, str(n).encode(), content_type="text/plain")

    def _list(
        self,
        ctx: CallContext,
        edef: EntityDef,
        parent_key: Key | None,
        segs: list[str],
        query: list[tuple[str, str]],
        headers: Mapping[str, str],
    ) -> ApiResponse:
        q = self._parse_query(edef, query)
        rows = self._select_rows(ctx, edef, parent_key, q)
        window = rows[q.skip : q.skip + q.top if q.top is not None else None]
        page_size = max(1, int(self.config.page_size))
        resp_headers: dict[str, str] = {}
        m = re.search(r"odata\.maxpagesize=(\d+)", headers.get("prefer", ""))
        if m and int(m.group(1)) > 0:
            page_size = min(page_size, int(m.group(1)))
            resp_headers["Preference-Applied"] = f"odata.maxpagesize={page_size}"
        page = window[q.skiptoken : q.skiptoken + page_size]
        body: dict[str, Any] = {"@odata.context": self._context_url(ctx, segs, entity=False)}
        if q.count:
            body["@odata.count"] = len(rows)
        body["value"] = [self._render(ctx, edef, r, q.select, q.expand) for r in page]
        if q.skiptoken + page_size < len(window):
            pairs = [(k, v) for k, v in query if k != "$skiptoken"]
            pairs.append(("$skiptoken", str(q.skiptoken + page_size)))
            qs = "&".join(f"{quote(k, safe='$')}={quote(v, safe=_URL_SAFE)}" for k, v in pairs)
            body["@odata.nextLink"] = f"{self._url(ctx, segs)}?{qs}"
        return ApiResponse(200, body, resp_headers)

    # ----------------------------------------------------------------------------------------
    # collections and entities: GET / POST / PATCH / DELETE
    # ----------------------------------------------------------------------------------------

    def _collection(
        self,
        ctx: CallContext,
        method: str,
        edef: EntityDef,
        parent: tuple[Key, Row] | None,
        segs: list[str],
        query: list[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
        *,
        insertable: bool,
    ) -> ApiResponse:
        if method == "GET":
            return self._list(ctx, edef, parent[0] if parent else None, segs, query, headers)
        if method == "POST" and insertable and edef.insertable:
            data = self._json_body(headers, body, allow_empty=False)
            key, row = self._insert(ctx, edef, data, parent)
            return self._created(ctx, edef, key, row, segs, headers)
        self._require(method, "GET", *(("POST",) if insertable and edef.insertable else ()))
        raise AssertionError("unreachable")

    def _created(
        self,
        ctx: CallContext,
        edef: EntityDef,
        key: Key,
        row: Row,
        segs: list[str],
        headers: Mapping[str, str],
    ) -> ApiResponse:
        name = parse_segment(segs[-1])[0]
        entity_segs = [*segs[:-1], f"{name}({self._key_text(edef, key)})"]
        entity_path = "/".join(entity_segs)
        etag = self._etag(row)
        location = self._url(ctx, entity_segs)
        resp_headers = {"ETag": etag, "Location": location, "OData-EntityId": location}
        if "return=minimal" in headers.get("prefer", ""):
            resp_headers["Preference-Applied"] = "return=minimal"
            return ApiResponse(204, None, resp_headers, entity_path=entity_path, etag=etag)
        body = self._entity_body(ctx, edef, row, entity_segs, None, [])
        return ApiResponse(201, body, resp_headers, entity_path=entity_path, etag=etag)

    def _entity(
        self,
        ctx: CallContext,
        method: str,
        edef: EntityDef,
        key: Key,
        parent: tuple[Key, Row] | None,
        segs: list[str],
        query: list[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
        writable: bool,
    ) -> ApiResponse:
        entity_path = "/".join(segs)
        if method == "GET":
            row = self._visible_row(ctx, edef, key)
            q = self._parse_query(edef, query)
            etag = self._etag(row)
            return ApiResponse(
                200,
                self._entity_body(ctx, edef, row, segs, q.select, q.expand),
                {"ETag": etag},
                entity_path=entity_path,
                etag=etag,
            )
        if method == "PUT":
            raise not_implemented("PUT is not supported; use PATCH.")
        if method == "PATCH" and writable and edef.updatable:
            return self._patch(ctx, edef, key, parent, segs, headers, body)
        if method == "DELETE" and writable and edef.deletable:
            row = self._visible_row(ctx, edef, key)
            self._check_if_match(edef, row, headers.get("if-match"), required=True)
            self._delete_cascade(edef, key, row)
            return ApiResponse(204)
        allowed = ["GET"]
        if writable and edef.updatable:
            allowed.append("PATCH")
        if writable and edef.deletable:
            allowed.append("DELETE")
        self._require(method, *allowed)
        raise AssertionError("unreachable")

    def _check_if_match(
        self, edef: EntityDef, row: Row, if_match: str | None, *, required: bool
    ) -> None:
        if if_match is None or not if_match.strip():
            if required and self.config.strict_if_match:
                raise bad_request(
                    "ODP_MISSING_PRECONDITION",
                    f"The request to modify {edef.name} must include an If-Match header.",
                )
            return
        if not if_match_satisfied(if_match, self._etag(row)):
            raise ODataError(
                412,
                "ODP_PRECONDITION_FAILED",
                f"The {edef.name} has been modified by another user. Refresh and try again.",
                detail_code="ODP_PRECONDITION_FAILED",
            )

    def _patch(
        self,
        ctx: CallContext,
        edef: EntityDef,
        key: Key,
        parent: tuple[Key, Row] | None,
        segs: list[str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> ApiResponse:
        data = self._json_body(headers, body, allow_empty=False)
        if_match = headers.get("if-match")
        existing = self.store.get(edef.table, key)
        if existing is None and not self.config.strict_if_match and not if_match:
            # Upsert (IFS "entity upserts"): keys from the URL, the rest from the body.
            if not edef.insertable:
                raise not_found(f"The requested {edef.name} does not exist.")
            for name, value in zip(edef.keys, key, strict=True):
                if name in data and data[name] != value:
                    raise bad_request(
                        "ODP_DESERIALIZATION_ERROR",
                        f"Key '{name}' in the body differs from the URL.",
                    )
            new_key, row = self._insert(ctx, edef, data, parent, key=key)
            return self._created(
                ctx, edef, new_key, row, [*segs[:-1], segs[-1].split("(")[0]], headers
            )
        row = self._visible_row(ctx, edef, key)
        if self._roll(self._switch("etag_churn_ratio")):
            row = self._churn(edef, key, row)
        self._check_if_match(edef, row, if_match, required=True)
        values = self._clean_input(edef, data, insert=False)
        for name, value in list(values.items()):
            spec = edef.fields.get(name)
            if spec is None:
                continue
            if name in edef.keys:
                if value != row.data.get(name):
                    raise bad_request(
                        "ODP_DESERIALIZATION_ERROR", f"Key property '{name}' cannot be changed."
                    )
                del values[name]
            elif spec.access == INSERT:
                if value != row.data.get(name):
                    raise business_error(
                        "UPDATE_NOT_ALLOWED", f"Field [{name}] in {edef.luname} is not updatable."
                    )
                del values[name]
        merged = {**row.data, **values}
        hook = getattr(self, f"_validate_{edef.table}", None)
        if hook is not None:
            hook(ctx, merged, row)
        new_row = self._write(edef, key, merged, row.company, row)
        after = getattr(self, f"_after_write_{edef.table}", None)
        if after is not None:
            after(key, new_row)
        etag = self._etag(new_row)
        return ApiResponse(
            200,
            self._entity_body(ctx, edef, new_row, segs, None, []),
            {"ETag": etag},
            entity_path="/".join(segs),
            etag=etag,
        )

    def _churn(self, edef: EntityDef, key: Key, row: Row) -> Row:
        """Another IFS user saved the record: new ETag, never rolled back with our change set."""
        bumped = Row(
            row.data,
            row.objid,
            next_objversion(self.state.clock.now(), row.objversion),
            row.company,
            row.seq,
        )
        self.store.put_unjournaled(edef.table, key, bumped)
        return bumped

    def _action(
        self,
        ctx: CallContext,
        method: str,
        edef: EntityDef,
        key: Key,
        row: Row,
        segment: str,
        headers: Mapping[str, str],
        body: bytes,
        writable: bool,
    ) -> ApiResponse:
        prefix = f"IfsApp.{ctx.projection}."
        name = segment[len(prefix) :] if segment.startswith(prefix) else ""
        if name not in edef.actions:
            raise not_found(f"Bound action '{segment}' does not exist on {edef.name}.")
        if not writable:  # read-only sets expose no actions
            raise not_found(f"Bound action '{segment}' is not available on this entity set.")
        self._require(method, "POST")
        params = self._json_body(headers, body, allow_empty=True)
        # Bound actions send If-Match (§5); the wizard's virtual entities do not need one.
        self._check_if_match(edef, row, headers.get("if-match"), required=not edef.virtual)
        handler = getattr(self, f"_action_{name}")
        result: ApiResponse = handler(ctx, key, row, params)
        return result

    # ----------------------------------------------------------------------------------------
    # input validation and writes
    # ----------------------------------------------------------------------------------------

    @staticmethod
    def _json_body(headers: Mapping[str, str], body: bytes, *, allow_empty: bool) -> dict[str, Any]:
        content_type = headers.get("content-type", "")
        if allow_empty and not body.strip():
            return {}
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise bad_request(
                "ODP_DESERIALIZATION_ERROR",
                "The request body must be sent with Content-Type: application/json.",
            )
        try:
            data = json.loads(body or b"null")
        except ValueError as exc:
            raise bad_request("ODP_DESERIALIZATION_ERROR", f"Malformed JSON body: {exc}.")
        if not isinstance(data, dict):
            raise bad_request(
                "ODP_DESERIALIZATION_ERROR", "The request body must be a JSON object."
            )
        return data

    @staticmethod
    def _clean_input(edef: EntityDef, data: Mapping[str, Any], *, insert: bool) -> dict[str, Any]:
        """Type-checked writable values; annotations and read-only fields are dropped."""
        out: dict[str, Any] = {}
        for name, value in data.items():
            if name.startswith("@odata.") or name in ("luname", "keyref", "Objgrants"):
                continue
            if name.startswith("Cf_"):  # custom fields
                if isinstance(value, dict | list):
                    raise bad_request("ODP_DESERIALIZATION_ERROR", f"'{name}' must be a scalar.")
                out[name] = value
                continue
            spec = edef.fields.get(name)
            if spec is None:
                if name in edef.navs or name in edef.refs:
                    raise not_implemented(f"Deep insert/update of '{name}' is not supported.")
                raise bad_request(
                    "ODP_DESERIALIZATION_ERROR",
                    f"Property '{name}' does not exist in type '{edef.name}'.",
                )
            if value is not None and not _type_ok(spec.type, value):
                raise bad_request(
                    "ODP_DESERIALIZATION_ERROR",
                    f"Property '{name}' of {edef.name} expects {_TYPE_NAMES[spec.type]}, "
                    f"got {json.dumps(value)}.",
                )
            if spec.access == RO and (insert or name not in edef.keys):
                continue  # server-set; keys are kept on update to detect attempted changes
            if isinstance(value, str) and spec.max_len is not None and len(value) > spec.max_len:
                raise business_error(
                    "VALUE_TOO_LONG",
                    f"Field [{name}] in {edef.luname} exceeds its maximum length {spec.max_len}.",
                )
            out[name] = value
        return out

    def _insert(
        self,
        ctx: CallContext,
        edef: EntityDef,
        data: Mapping[str, Any],
        parent: tuple[Key, Row] | None,
        key: Key | None = None,
    ) -> tuple[Key, Row]:
        values = self._clean_input(edef, data, insert=True)
        if key is not None:  # upsert: keys come from the URL
            values.update(zip(edef.keys, key, strict=True))
        if parent is not None:
            for name, value in zip(edef.keys, parent[0], strict=False):
                if name in values and values[name] != value:
                    raise bad_request(
                        "ODP_DESERIALIZATION_ERROR", f"'{name}' in the body differs from the URL."
                    )
                values[name] = value
        creator = getattr(self, f"_create_{edef.table}")
        new_key, full, company = creator(ctx, values, parent)
        if self.store.get(edef.table, new_key) is not None:
            raise business_error(
                "RECORD_EXIST",
                f"The {edef.luname} ({self._key_text(edef, new_key)}) already exists.",
            )
        record: dict[str, Any] = dict.fromkeys(edef.fields)
        record.update(full)
        row = self._write(edef, new_key, record, company, None)
        after = getattr(self, f"_after_write_{edef.table}", None)
        if after is not None:
            after(new_key, row)
        return new_key, row

    # ----------------------------------------------------------------------------------------
    # service document and $metadata
    # ----------------------------------------------------------------------------------------

    def _service_document(self, ctx: CallContext) -> dict[str, Any]:
        return {
            "@odata.context": f"{ctx.base_url}{ctx.service_root}/$metadata",
            "value": [
                {"name": name, "kind": "EntitySet", "url": name}
                for name in PROJECTIONS[ctx.projection]
            ],
        }

    def _metadata(self, ctx: CallContext) -> str:
        edm = {
            STR: "Edm.String",
            INT: "Edm.Int32",
            NUM: "Edm.Decimal",
            BOOL: "Edm.Boolean",
            DATE: "Edm.Date",
            DATETIME: "Edm.DateTimeOffset",
        }
        sets = PROJECTIONS[ctx.projection]
        names: list[str] = []
        for sdef in sets.values():
            for name in (sdef.entity, *ENTITIES[sdef.entity].navs.values()):
                if name not in names:
                    names.append(name)
        ns = f"IfsApp.{ctx.projection}"
        out = [
            '<?xml version="1.0" encoding="utf-8"?>',
            '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">',
            "<edmx:DataServices>",
            f'<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="{ns}">',
        ]
        for name in names:
            edef = ENTITIES[name]
            out.append(f'<EntityType Name="{name}"><Key>')
            out += [f'<PropertyRef Name="{k}"/>' for k in edef.keys]
            out.append("</Key>")
            out += [
                f'<Property Name="{f}" Type="{edm[spec.type]}"'
                + (f' MaxLength="{spec.max_len}"' if spec.max_len else "")
                + "/>"
                for f, spec in edef.fields.items()
            ]
            out += [
                f'<NavigationProperty Name="{nav}" Type="Collection({ns}.{target})"/>'
                for nav, target in edef.navs.items()
            ]
            out += [
                f'<NavigationProperty Name="{nav}" Type="{ns}.{target}"/>'
                for nav, (target, _) in edef.refs.items()
            ]
            out.append("</EntityType>")
            for action in edef.actions:
                out.append(
                    f'<Action Name="{action}" IsBound="true">'
                    f'<Parameter Name="bindingParameter" Type="{ns}.{name}"/></Action>'
                )
        out.append('<EntityContainer Name="Main">')
        out += [f'<EntitySet Name="{s}" EntityType="{ns}.{d.entity}"/>' for s, d in sets.items()]
        out.append("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>")
        return "".join(out)

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


def _row_sorter(name: str) -> Any:
    return lambda row: sort_key(row.data.get(name))


_TYPE_NAMES = {
    STR: "a string",
    INT: "an integer",
    NUM: "a number",
    BOOL: "a boolean",
    DATE: "a date (YYYY-MM-DD)",
    DATETIME: "a date-time (YYYY-MM-DDTHH:MM:SSZ)",
}


def _type_ok(type_: str, value: Any) -> bool:
    if type_ == STR:
        return isinstance(value, str)
    if type_ == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if type_ == NUM:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_ == BOOL:
        return isinstance(value, bool)
    if type_ == DATE:
        if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
            return False
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return True
    if type_ == DATETIME:
        # Lenient: a bare date is accepted for timestamps too (tenants differ).
        if not isinstance(value, str) or not _DATETIME_RE.fullmatch(value):
            return False
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    return False


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
