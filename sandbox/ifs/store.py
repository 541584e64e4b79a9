"""In-memory store of the IFS Cloud simulator: rows, tables with parent and secondary
indexes, and a journal so a ``$batch`` change set can be rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.ifs.model import ENTITIES

# --------------------------------------------------------------------------------------------
# Store
# --------------------------------------------------------------------------------------------

Key = tuple[Any, ...]


@dataclass(frozen=True)
class Row:
    """One stored record. Immutable: a write replaces the Row, which keeps the journal simple."""

    data: Mapping[str, Any]
    objid: str
    objversion: str
    company: str | None  # None = visible to every client (e.g. a voucher draft without Company)
    seq: int


class Table:
    def __init__(self, parent_key_len: int, indexed: tuple[str, ...]) -> None:
        self.parent_key_len = parent_key_len
        self.rows: dict[Key, Row] = {}
        self.children: dict[Key, dict[Key, None]] = {}
        self.index: dict[str, dict[Any, dict[Key, None]]] = {f: {} for f in indexed}

    def _link(self, key: Key, row: Row) -> None:
        if self.parent_key_len:
            self.children.setdefault(key[: self.parent_key_len], {})[key] = None
        for name, idx in self.index.items():
            value = row.data.get(name)
            if value is not None:
                idx.setdefault(value, {})[key] = None

    def _unlink(self, key: Key, row: Row) -> None:
        if self.parent_key_len:
            siblings = self.children.get(key[: self.parent_key_len])
            if siblings is not None:
                siblings.pop(key, None)
                if not siblings:
                    del self.children[key[: self.parent_key_len]]
        for name, idx in self.index.items():
            value = row.data.get(name)
            bucket = idx.get(value) if value is not None else None
            if bucket is not None:
                bucket.pop(key, None)
                if not bucket:
                    del idx[value]

    def put(self, key: Key, row: Row) -> Row | None:
        old = self.rows.get(key)
        if old is not None:
            self._unlink(key, old)
        self.rows[key] = row
        self._link(key, row)
        return old

    def pop(self, key: Key) -> Row | None:
        old = self.rows.pop(key, None)
        if old is not None:
            self._unlink(key, old)
        return old

    def children_of(self, parent_key: Key) -> list[tuple[Key, Row]]:
        keys = self.children.get(parent_key, {})
        return sorted(((k, self.rows[k]) for k in keys), key=lambda kr: kr[1].seq)

    def lookup(self, name: str, value: Any) -> list[Key] | None:
        """Keys whose ``name`` equals ``value``, or None when ``name`` is not indexed."""
        idx = self.index.get(name)
        if idx is None:
            return None
        try:
            return list(idx.get(value, {}))
        except TypeError:  # unhashable literal
            return []


class Store:
    """All tables, with a journal of writes for rolling back change sets (savepoints nest)."""

    def __init__(self) -> None:
        self.tables: dict[str, Table] = {
            d.table: Table(d.parent_key_len, d.indexed) for d in ENTITIES.values()
        }
        self._journal: list[tuple[str, Key, Row | None]] = []
        self._depth = 0
        self.seq = 0
        self.counters: dict[str, int] = {}

    def next(self, name: str, start: int = 1) -> int:
        """Sequences are not rolled back (like database sequences)."""
        value = self.counters.get(name, start - 1) + 1
        self.counters[name] = value
        return value

    def get(self, table: str, key: Key) -> Row | None:
        return self.tables[table].rows.get(key)

    def put(self, table: str, key: Key, row: Row) -> None:
        old = self.tables[table].put(key, row)
        if self._depth:
            self._journal.append((table, key, old))

    def put_unjournaled(self, table: str, key: Key, row: Row) -> None:
        """A write that survives any rollback: another IFS user's edit (ETag churn)."""
        self.tables[table].put(key, row)

    def delete(self, table: str, key: Key) -> Row | None:
        old = self.tables[table].pop(key)
        if self._depth and old is not None:
            self._journal.append((table, key, old))
        return old

    def rows(self, table: str) -> Iterator[tuple[Key, Row]]:
        yield from sorted(self.tables[table].rows.items(), key=lambda kr: kr[1].seq)

    def savepoint(self) -> int:
        self._depth += 1
        return len(self._journal)

    def release(self, savepoint: int) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._journal.clear()

    def rollback(self, savepoint: int) -> None:
        while len(self._journal) > savepoint:
            table, key, old = self._journal.pop()
            if old is None:
                self.tables[table].pop(key)
            else:
                self.tables[table].put(key, old)
        self.release(savepoint)
