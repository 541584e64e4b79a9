"""Projection endpoint of the IFS Cloud simulator: URL parsing, ``$batch`` with change
sets (§9) and dispatch of one call to the service document, ``$metadata``, an entity
set, an entity or a bound action.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit

from flask import Response, request

from sandbox.common import SimulatorState, drop_connection
from sandbox.ifs.batch import (
    BatchRequest,
    BatchResponse,
    ChangeSet,
    batch_error,
    parse_batch,
    render_batch,
    render_json_batch,
)
from sandbox.ifs.config import IfsConfig
from sandbox.ifs.model import ENTITIES, PROJECTIONS, ApiResponse, CallContext
from sandbox.ifs.odata import ODataError, not_found, parse_segment, split_path
from sandbox.ifs.store import Store

PROJECTION_ROOT = "/ifsapplications/projection/v1/"
LAYERS = ("main", "int", "b2b")


def _error_response(err: ODataError) -> ApiResponse:
    return ApiResponse(err.status, err.body(), dict(err.headers))


class ProjectionDispatch:
    """Routing of projection calls; mixed into ``IfsSimulator``."""

    store: Store
    config: IfsConfig
    state: SimulatorState

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
        ratio = float(self.state.faults.extra.get("drop_after_commit_ratio") or 0)
        if ratio:
            with self.state.lock:
                roll = self.state.rng.random()
            if roll < ratio:
                # Committed, then the connection is lost: the client sees no answer.
                drop_connection()
        accept = request.headers.get("Accept", "").lower()
        fmt = str(self.config.batch_format)
        if fmt == "json" or (fmt == "as_asked" and "application/json" in accept
                             and "multipart/mixed" not in accept):
            # A standard OData 4.01 server honours Accept: application/json on $batch.
            grouped = [isinstance(part, ChangeSet) for part in parts]
            resp = Response(render_json_batch(out, grouped), status=200,
                            content_type="application/json")
            resp.headers["OData-Version"] = "4.01"
            return resp
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
