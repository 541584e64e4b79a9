"""Shared pieces of the BigCommerce payload schemas (conventions habit 9).

``unknown = EXCLUDE`` everywhere: BigCommerce adds fields, we read the ones we use. Lists of
nested objects default to empty and become tuples in the frozen dataclasses.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields

__all__ = ["BcBase", "many", "tuples"]


class BcBase(Schema):
    class Meta:
        unknown = EXCLUDE


def many(schema: type[Schema]) -> fields.List[Any]:
    return fields.List(fields.Nested(schema), load_default=list, allow_none=True)


def tuples(data: dict[str, Any], *names: str) -> dict[str, Any]:
    for name in names:
        data[name] = tuple(data.get(name) or ())
    return data
