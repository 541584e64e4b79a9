"""Summarise a py-spy raw profile (``py-spy record --format raw``): where worker CPU goes.

    .venv/bin/python bench/spy_summary.py PROFILE.txt [--top 15]

Each sample is attributed to the *deepest* frame that belongs to a known library (SQLAlchemy,
psycopg2, Celery, kombu, redis-py, requests/urllib3, json, logging) or, failing that, to our
own code (connector/, tasks/). The second table lists the functions of our code by inclusive
share (a sample counts once for every one of our functions on its stack).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

OURS = r"(^|/)(connector|tasks)/"
CATEGORIES = [
    ("psycopg2 (Postgres wire)", re.compile(r"psycopg2")),
    ("SQLAlchemy", re.compile(r"(^|/)sqlalchemy/")),
    ("kombu (broker messages)", re.compile(r"(^|/)kombu/")),
    ("Celery", re.compile(r"(^|/)(celery|billiard)/")),
    ("redis-py", re.compile(r"(^|/)redis/")),
    ("HTTP (requests/urllib3)", re.compile(r"(^|/)(requests|urllib3)/|http/client")),
    ("json", re.compile(r"(^|/)json/")),
    ("logging", re.compile(r"(^|/)logging/|pythonjsonlogger|structlog")),
    ("marshmallow", re.compile(r"(^|/)marshmallow/")),
    ("cryptography", re.compile(r"(^|/)cryptography/")),
    ("our code", re.compile(OURS)),
]
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::\d+)?\)$")


def parse(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for raw in stack.split(";"):
            m = FRAME.match(raw)
            frames.append((m["func"], m["file"]) if m else (raw, ""))
        out.append((frames, int(count)))
    return out


def summarise(path: Path, top: int = 15) -> str:
    samples = parse(path)
    total = sum(c for _, c in samples) or 1
    by_cat: Counter[str] = Counter()
    children = sum(c for frames, c in samples
                   if len(frames) > 1 and frames[1][0].startswith("process "))
    ours: Counter[str] = Counter()
    for frames, count in samples:
        cat = "other (interpreter, stdlib)"
        for _func, file in reversed(frames):
            hit = next((name for name, rx in CATEGORIES if rx.search(file)), None)
            if hit:
                cat = hit
                break
        by_cat[cat] += count
        seen = set()
        for func, file in frames:
            m = re.search(OURS + r".*", file)
            if m:
                name = f"{m.group(0).lstrip('/')}:{func}"
                if name not in seen:
                    seen.add(name)
                    ours[name] += count
    lines = [f"{total} samples: {100 * (total - children) / total:.0f} % in the worker's main "
             f"process (the Celery consumer), {100 * children / total:.0f} % in its pool "
             "children", "", "| where (deepest known frame) | share |", "|---|---:|"]
    lines += [f"| {name} | {100 * c / total:.1f} % |" for name, c in by_cat.most_common()]
    lines += ["", "| our function (inclusive) | share |", "|---|---:|"]
    lines += [f"| `{name}` | {100 * c / total:.1f} % |" for name, c in ours.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    print(summarise(args.profile, args.top))


if __name__ == "__main__":
    main()
