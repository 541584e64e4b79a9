"""``$filter`` of the IFS Cloud simulator (``reference/ifs-cloud.md`` §3): tokenizer, parser
and compiler of comparisons, and/or/not, parentheses, string and date functions and
literals. Pure functions, like :mod:`sandbox.ifs.odata`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.ifs.odata import _is_num, invalid_query, not_implemented

# --------------------------------------------------------------------------------------------
# $filter (§3): comparisons, and/or/not, parentheses, string functions, literals
# --------------------------------------------------------------------------------------------

Node = tuple[Any, ...]
Predicate = Callable[[Mapping[str, Any]], Any]

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<enum>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+'(?:[^']|'')*')
  | (?P<str>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_$][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<punct>[(),])
  | (?P<lambda>/)
    """,
    re.X,
)

_COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
_UNSUPPORTED_OPS = {"has", "add", "sub", "mul", "div", "divby", "mod", "in"}


@dataclass
class _Token:
    kind: str
    value: Any
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise invalid_query(f"$filter: unexpected character at position {pos}: {text[pos:]!r}")
        kind = m.lastgroup or ""
        raw = m.group(0)
        pos = m.end()
        if kind == "ws":
            continue
        if kind == "enum":
            # IfsApp.CustomerOrderHandling.CustomerOrderState'Released' → 'Released'
            tokens.append(_Token("lit", raw[raw.index("'") + 1 : -1].replace("''", "'"), m.start()))
        elif kind == "str":
            tokens.append(_Token("lit", raw[1:-1].replace("''", "'"), m.start()))
        elif kind in ("date", "datetime"):
            tokens.append(_Token("lit", raw, m.start()))
        elif kind == "num":
            value: Any = float(raw) if any(c in raw for c in ".eE") else int(raw)
            tokens.append(_Token("lit", value, m.start()))
        elif kind == "ident":
            low = raw.lower()
            if low in ("true", "false"):
                tokens.append(_Token("lit", low == "true", m.start()))
            elif low == "null":
                tokens.append(_Token("lit", None, m.start()))
            elif low.endswith(("/any", "/all")):
                raise not_implemented("$filter: lambda operators (any/all) are not supported.")
            else:
                tokens.append(_Token("ident", raw, m.start()))
        elif kind == "lambda":
            raise not_implemented("$filter: lambda operators (any/all) are not supported.")
        else:
            tokens.append(_Token("punct", raw, m.start()))
    return tokens


class _FilterParser:
    def __init__(self, text: str, properties: Iterable[str]) -> None:
        self.tokens = _tokenize(text)
        self.i = 0
        self.properties = set(properties)

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self) -> _Token:
        tok = self.peek()
        if tok is None:
            raise invalid_query("$filter: unexpected end of expression.")
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        tok = self.next()
        if tok.kind != "punct" or tok.value != value:
            raise invalid_query(f"$filter: expected {value!r} at position {tok.pos}.")

    def keyword(self, *words: str) -> str | None:
        tok = self.peek()
        if tok is not None and tok.kind == "ident" and tok.value.lower() in words:
            self.i += 1
            return str(tok.value.lower())
        return None

    def parse(self) -> Node:
        node = self.parse_or()
        tok = self.peek()
        if tok is not None:
            if tok.kind == "ident" and tok.value.lower() in _UNSUPPORTED_OPS:
                raise not_implemented(f"$filter: operator '{tok.value}' is not supported.")
            raise invalid_query(f"$filter: unexpected token at position {tok.pos}.")
        return node

    def parse_or(self) -> Node:
        node = self.parse_and()
        while self.keyword("or"):
            node = ("or", node, self.parse_and())
        return node

    def parse_and(self) -> Node:
        node = self.parse_not()
        while self.keyword("and"):
            node = ("and", node, self.parse_not())
        return node

    def parse_not(self) -> Node:
        if self.keyword("not"):
            return ("not", self.parse_not())
        return self.parse_comparison()

    def parse_comparison(self) -> Node:
        left = self.parse_primary()
        tok = self.peek()
        if tok is not None and tok.kind == "ident":
            op = tok.value.lower()
            if op in _COMPARISONS:
                self.i += 1
                return ("cmp", op, left, self.parse_primary())
            if op in _UNSUPPORTED_OPS:
                raise not_implemented(f"$filter: operator '{tok.value}' is not supported.")
        return left

    def parse_primary(self) -> Node:
        tok = self.next()
        if tok.kind == "lit":
            return ("lit", tok.value)
        if tok.kind == "punct" and tok.value == "(":
            node = self.parse_or()
            self.expect(")")
            return node
        if tok.kind == "ident":
            nxt = self.peek()
            if nxt is not None and nxt.kind == "punct" and nxt.value == "(":
                return self.parse_call(tok)
            if "/" in tok.value:
                raise not_implemented(f"$filter: navigation paths ({tok.value}) are not supported.")
            if tok.value not in self.properties and not tok.value.startswith("Cf_"):
                raise invalid_query(f"$filter: unknown property '{tok.value}'.")
            return ("prop", tok.value)
        raise invalid_query(f"$filter: unexpected token at position {tok.pos}.")

    def parse_call(self, name_tok: _Token) -> Node:
        name = name_tok.value.lower()
        if name in ("any", "all") or name_tok.value.endswith(("/any", "/all")):
            raise not_implemented("$filter: lambda operators (any/all) are not supported.")
        if name not in _FUNCTIONS:
            raise invalid_query(f"$filter: unknown function '{name_tok.value}'.")
        self.expect("(")
        args: list[Node] = []
        tok = self.peek()
        if not (tok is not None and tok.kind == "punct" and tok.value == ")"):
            args.append(self.parse_or())
            while True:
                tok = self.peek()
                if tok is not None and tok.kind == "punct" and tok.value == ",":
                    self.i += 1
                    args.append(self.parse_or())
                else:
                    break
        self.expect(")")
        arity = _FUNCTIONS[name][0]
        if len(args) not in arity:
            raise invalid_query(f"$filter: {name}() takes {'/'.join(map(str, arity))} argument(s).")
        return ("call", name, args)


def _eq(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if _is_num(a) and _is_num(b):
        return bool(a == b)
    if type(a) is not type(b):
        return False
    return bool(a == b)


_INSTANT_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})")


def _instant(value: Any) -> Any:
    """A timestamp with an offset compares as the instant it names (``…Z`` = ``…+00:00``,
    ``13Z`` after ``13.5Z`` is wrong as text); anything else as itself."""
    if isinstance(value, str) and _INSTANT_RE.fullmatch(value):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


def _compare(op: str, a: Any, b: Any) -> bool:
    a, b = _instant(a), _instant(b)
    if op == "eq":
        return _eq(a, b)
    if op == "ne":
        return not _eq(a, b)
    if a is None or b is None:
        return False
    if not ((_is_num(a) and _is_num(b)) or (type(a) is type(b))):
        return False
    if op == "gt":
        return bool(a > b)
    if op == "ge":
        return bool(a >= b)
    if op == "lt":
        return bool(a < b)
    return bool(a <= b)


def _str_fn(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any) -> Any:
        if any(not isinstance(a, str) for a in args):
            return None
        return fn(*args)

    return wrapped


def _substring(s: Any, start: Any, length: Any = None) -> Any:
    if not isinstance(s, str) or not _is_num(start):
        return None
    if length is None:
        return s[int(start) :]
    return s[int(start) : int(start) + int(length)]


def _date_part(index: slice) -> Callable[[Any], Any]:
    def fn(v: Any) -> Any:
        if isinstance(v, str) and re.match(r"\d{4}-\d{2}-\d{2}", v):
            return int(v[index])
        return None

    return fn


_FUNCTIONS: dict[str, tuple[tuple[int, ...], Callable[..., Any]]] = {
    "contains": ((2,), _str_fn(lambda a, b: b in a)),
    "startswith": ((2,), _str_fn(lambda a, b: a.startswith(b))),
    "endswith": ((2,), _str_fn(lambda a, b: a.endswith(b))),
    "indexof": ((2,), _str_fn(lambda a, b: a.find(b))),
    "tolower": ((1,), _str_fn(lambda a: a.lower())),
    "toupper": ((1,), _str_fn(lambda a: a.upper())),
    "trim": ((1,), _str_fn(lambda a: a.strip())),
    "length": ((1,), _str_fn(len)),
    "concat": ((2,), _str_fn(lambda a, b: a + b)),
    "substring": ((2, 3), _substring),
    "year": ((1,), _date_part(slice(0, 4))),
    "month": ((1,), _date_part(slice(5, 7))),
    "day": ((1,), _date_part(slice(8, 10))),
}


def _compile(node: Node) -> Predicate:
    kind = node[0]
    if kind == "lit":
        value = node[1]
        return lambda row: value
    if kind == "prop":
        name = node[1]
        return lambda row: row.get(name)
    if kind == "and":
        left, right = _compile(node[1]), _compile(node[2])
        return lambda row: left(row) is True and right(row) is True
    if kind == "or":
        left, right = _compile(node[1]), _compile(node[2])
        return lambda row: left(row) is True or right(row) is True
    if kind == "not":
        inner = _compile(node[1])
        return lambda row: inner(row) is not True
    if kind == "cmp":
        op = node[1]
        left, right = _compile(node[2]), _compile(node[3])
        return lambda row: _compare(op, left(row), right(row))
    if kind == "call":
        fn = _FUNCTIONS[node[1]][1]
        args = [_compile(a) for a in node[2]]
        return lambda row: fn(*(a(row) for a in args))
    raise AssertionError(kind)


def _equalities(node: Node) -> dict[str, Any]:
    """``Prop eq literal`` terms of a top-level ``and`` chain (used to pick an index)."""
    if node[0] == "and":
        return {**_equalities(node[1]), **_equalities(node[2])}
    if node[0] == "cmp" and node[1] == "eq":
        a, b = node[2], node[3]
        if a[0] == "prop" and b[0] == "lit" and b[1] is not None:
            return {a[1]: b[1]}
        if b[0] == "prop" and a[0] == "lit" and a[1] is not None:
            return {b[1]: a[1]}
    return {}


@dataclass
class Filter:
    """A compiled ``$filter``; ``equalities`` lets the store use an index before evaluating."""

    predicate: Predicate
    equalities: dict[str, Any] = field(default_factory=dict)

    def __call__(self, row: Mapping[str, Any]) -> bool:
        return self.predicate(row) is True


def parse_filter(text: str, properties: Iterable[str]) -> Filter:
    ast = _FilterParser(text, properties).parse()
    return Filter(_compile(ast), _equalities(ast))
