"""Printing dry-run plans: what would be written to IFS, record by record."""

from __future__ import annotations

import json
from typing import Any

import click


def echo_plans(rows: list[dict[str, Any]], *, as_json: bool, limit: int | None = None) -> None:
    """One JSON document per record (``--json``), or a readable block per record; after
    ``limit`` records only a count."""
    shown = rows if limit is None else rows[:limit]
    for row in shown:
        if as_json:
            click.echo(json.dumps(row, default=str, sort_keys=True))
            continue
        head = f"{row['outcome']}: {row['entity']} {row['store_id']} (version {row['version']})"
        click.echo(head)
        if "reason" in row:
            click.echo(f"  reason: {row['reason']}")
        if row.get("plan") is not None:
            text = json.dumps(row["plan"], indent=2, default=str, sort_keys=True)
            click.echo("\n".join("  " + line for line in text.splitlines()))
    if limit is not None and len(rows) > limit and not as_json:
        click.echo(f"... and {len(rows) - limit} more record(s) (raise --limit to see them)")


def summary(rows: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    parts = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing"
    return f"dry run: {parts}; nothing was written"
