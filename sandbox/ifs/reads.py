"""Keys, visibility, rendering and query options of the IFS Cloud simulator: OData
reads with server paging, ``$top`` cap and ``$expand`` (§3, §7).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sandbox.common import SimulatorState
from sandbox.ifs.change_date import fields_of
from sandbox.ifs.config import IfsConfig
from sandbox.ifs.filter import Filter, parse_filter
from sandbox.ifs.model import ENTITIES, INT, STR, ApiResponse, CallContext, EntityDef
from sandbox.ifs.odata import (
    bad_request,
    format_key_value,
    invalid_query,
    make_etag,
    not_found,
    not_implemented,
    parse_key_predicate,
    parse_orderby,
    parse_segment,
    parse_select,
    sort_key,
)
from sandbox.ifs.store import Key, Row, Store

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


def _row_sorter(name: str) -> Any:
    return lambda row: sort_key(row.data.get(name))


class ODataReads:
    """Entity keys, rendering and collection reads; mixed into ``IfsSimulator``."""

    store: Store
    config: IfsConfig
    state: SimulatorState

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
        props = list(fields_of(self.config, edef))
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
            link = f"{self._url(ctx, segs)}?{qs}"
            mode = str(self.config.relative_next_links)
            if mode == "always" or (mode == "navigation" and len(segs) > 1):
                # Relative to the service root / context URL (OData JSON Format §4.6).
                link = link.removeprefix(f"{ctx.base_url}{ctx.service_root}/")
            body["@odata.nextLink"] = link
        return ApiResponse(200, body, resp_headers)
