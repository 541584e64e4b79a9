"""A change date on ``CustomerInfo`` (switchable, off by default).

ifs-cloud.md does not confirm such a field on ``CustomerInfo``: only the ETag's objversion, a
``YYYYMMDDHHMISS`` timestamp of the row's last write (§7), is documented. Tenants whose
projection exposes one (``ChangedDate``-like, or the objversion itself) let the connector read
only what changed since its last enrichment run, so the simulator can play such a projection:
``IfsConfig.customer_change_field`` names the property (empty = none, as the reference implies),
``customer_change_format`` picks its type:

- ``datetime``: ``Edm.DateTimeOffset``, ``YYYY-MM-DDTHH:MM:SSZ`` (second precision, so rows
  written in the same second share a value, as objversions do);
- ``objversion``: ``Edm.String``, the 14-digit objversion text.

The value is the row's objversion, so it moves on every write of the customer row (create,
PATCH, another user's edit or ETag churn) and *not* when only a child row (a communication
method, an address) changes — CommMethod is its own LU with its own rowversion in IFS.
Read-only: ``$filter`` (``gt``/``ge``/``eq``…), ``$orderby`` and ``$select`` accept it, writes
ignore it like every server-set field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sandbox.ifs.config import IfsConfig
from sandbox.ifs.model import DATETIME, RO, STR, EntityDef, FieldSpec
from sandbox.ifs.odata import OBJVERSION_FORMAT

ENTITY = "CustomerInfo"


def change_field(config: IfsConfig, edef: EntityDef) -> str:
    """The configured change-date property of ``edef`` ("" when none)."""
    name = str(config.customer_change_field or "").strip()
    return name if edef.name == ENTITY else ""


def fields_of(config: IfsConfig, edef: EntityDef) -> Mapping[str, FieldSpec]:
    """``edef``'s properties, with the change-date property when it is switched on."""
    name = change_field(config, edef)
    if not name or name in edef.fields:
        return edef.fields
    type_ = STR if config.customer_change_format == "objversion" else DATETIME
    return {**edef.fields, name: FieldSpec(type_, RO)}


def stamped(config: IfsConfig, edef: EntityDef, data: Mapping[str, Any],
            objversion: str) -> dict[str, Any]:
    """``data`` with the change-date property set from the row's new objversion."""
    out = dict(data)
    name = change_field(config, edef)
    if name:
        if config.customer_change_format == "objversion":
            out[name] = objversion
        else:
            when = datetime.strptime(objversion, OBJVERSION_FORMAT)
            out[name] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out
