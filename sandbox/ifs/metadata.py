"""Service document and ``$metadata`` of the IFS Cloud simulator's projections."""

from __future__ import annotations

from typing import Any

from sandbox.common import SimulatorState
from sandbox.ifs.change_date import fields_of
from sandbox.ifs.config import IfsConfig
from sandbox.ifs.model import (
    BOOL,
    DATE,
    DATETIME,
    ENTITIES,
    INT,
    NUM,
    PROJECTIONS,
    STR,
    CallContext,
)
from sandbox.ifs.store import Store


class ServiceMetadata:
    """Service document and CSDL; mixed into ``IfsSimulator``."""

    store: Store
    config: IfsConfig
    state: SimulatorState

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
                for f, spec in fields_of(self.config, edef).items()
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
