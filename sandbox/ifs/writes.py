"""Input validation and inserts of the IFS Cloud simulator."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sandbox.common import SimulatorState
from sandbox.ifs.change_date import fields_of
from sandbox.ifs.config import IfsConfig
from sandbox.ifs.model import BOOL, DATE, DATETIME, INT, NUM, RO, STR, CallContext, EntityDef
from sandbox.ifs.odata import bad_request, business_error, not_implemented
from sandbox.ifs.store import Key, Row, Store

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?"
)


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


class ODataWrites:
    """Request bodies, property types and inserts; mixed into ``IfsSimulator``."""

    store: Store
    config: IfsConfig
    state: SimulatorState

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

    def _clean_input(
        self, edef: EntityDef, data: Mapping[str, Any], *, insert: bool
    ) -> dict[str, Any]:
        """Type-checked writable values; annotations and read-only fields are dropped."""
        out: dict[str, Any] = {}
        specs = fields_of(self.config, edef)
        for name, value in data.items():
            if name.startswith("@odata.") or name in ("luname", "keyref", "Objgrants"):
                continue
            if name.startswith("Cf_"):  # custom fields
                if isinstance(value, dict | list):
                    raise bad_request("ODP_DESERIALIZATION_ERROR", f"'{name}' must be a scalar.")
                out[name] = value
                continue
            spec = specs.get(name)
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
