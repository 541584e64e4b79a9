"""Collections and entities of the IFS Cloud simulator: GET / POST / PATCH / DELETE,
``If-Match`` and ETag churn (§7, decision 3) and bound actions.
"""

from __future__ import annotations

from collections.abc import Mapping

from sandbox.common import SimulatorState
from sandbox.ifs.change_date import stamped
from sandbox.ifs.config import IfsConfig
from sandbox.ifs.model import INSERT, ApiResponse, CallContext, EntityDef
from sandbox.ifs.odata import (
    ODataError,
    bad_request,
    business_error,
    if_match_satisfied,
    next_objversion,
    not_found,
    not_implemented,
    parse_segment,
)
from sandbox.ifs.store import Key, Row, Store


class EntityHandlers:
    """Collection and entity requests; mixed into ``IfsSimulator``."""

    store: Store
    config: IfsConfig
    state: SimulatorState

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
        objversion = next_objversion(self.state.clock.now(), row.objversion)
        bumped = Row(
            stamped(self.config, edef, row.data, objversion),
            row.objid,
            objversion,
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
