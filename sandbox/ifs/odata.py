"""OData v4 plumbing of the IFS Cloud simulator: error envelope, ETags, keys, URL segments and
query options (``$filter``, ``$orderby``, ``$select``).

Pure functions, no Flask and no simulator state, so they are easy to test on their own.
Reference: ``reference/ifs-cloud.md`` §3 (query options), §7 (ETags) and §8 (errors).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

# --------------------------------------------------------------------------------------------
# Errors (§8)
# --------------------------------------------------------------------------------------------

BUSINESS_ERROR_CODE = "DATABASE_ERROR"


class ODataError(Exception):
    """An OData error; rendered as ``{"error":{"code","message","details":[{"code","message"}]}}``.

    IFS always sends one detail for business (PL/SQL) errors; the simulator always sends one.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        detail_code: str | None = None,
        detail_message: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail_code = detail_code or code
        self.detail_message = detail_message or message
        self.headers: dict[str, str] = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.detail_code, self.detail_message)


def error_body(
    code: str, message: str, detail_code: str | None = None, detail_message: str | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": [{"code": detail_code or code, "message": detail_message or message}],
        }
    }


def business_error(detail_code: str, detail_message: str) -> ODataError:
    """A PL/SQL business-rule violation: 500 with exactly one detail (§8)."""
    return ODataError(
        500,
        BUSINESS_ERROR_CODE,
        "An error occurred in the database. See details.",
        detail_code=detail_code,
        detail_message=detail_message,
    )


def bad_request(code: str, message: str) -> ODataError:
    return ODataError(400, code, message)


def invalid_query(message: str) -> ODataError:
    return ODataError(400, "ODP_INVALID_QUERY", message)


def not_implemented(message: str) -> ODataError:
    return ODataError(501, "ODP_NOT_IMPLEMENTED", message)


def not_found(message: str) -> ODataError:
    return ODataError(404, "ODP_RESOURCE_NOTFOUND", message)


# --------------------------------------------------------------------------------------------
# ETags (§7): W/" + base64(W/"<objid>:<objversion YYYYMMDDHHMISS>") + "
# --------------------------------------------------------------------------------------------

OBJVERSION_FORMAT = "%Y%m%d%H%M%S"
_ROWID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def make_objid(counter: int) -> str:
    """An 18-character Oracle ROWID look-alike, unique per counter value."""
    digits = []
    n = counter
    for _ in range(7):
        digits.append(_ROWID_ALPHABET[n % 64])
        n //= 64
    return "AAB7QXAAK" + "".join(reversed(digits)) + "AA"


def next_objversion(now: datetime, previous: str | None) -> str:
    """The documented 14-digit timestamp, strictly increasing per row even within one second.

    When the clock has not moved past the previous version, the version is pushed one second
    ahead, so every write yields a new ETag while the decoded form stays ``YYYYMMDDHHMISS``.
    """
    candidate = now.replace(microsecond=0, tzinfo=None)
    if previous:
        prev = datetime.strptime(previous, OBJVERSION_FORMAT)
        if candidate <= prev:
            candidate = prev + timedelta(seconds=1)
    return candidate.strftime(OBJVERSION_FORMAT)


def make_etag(objid: str, objversion: str) -> str:
    inner = f'W/"{objid}:{objversion}"'
    return 'W/"' + base64.b64encode(inner.encode("ascii")).decode("ascii") + '"'


def decode_etag(etag: str) -> tuple[str, str] | None:
    """``(objid, objversion)`` of a simulator ETag, or None when it is not one."""
    m = re.fullmatch(r'(?:W/)?"([A-Za-z0-9+/=]+)"', etag.strip())
    if not m:
        return None
    try:
        inner = base64.b64decode(m.group(1), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return None
    m2 = re.fullmatch(r'W/"([^":]+):(\d{14})"', inner)
    return (m2.group(1), m2.group(2)) if m2 else None


def _strip_weak(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def if_match_satisfied(if_match: str, current_etag: str) -> bool:
    """``*`` matches anything; otherwise one of the comma-separated tags must equal the current."""
    current = _strip_weak(current_etag)
    for tag in split_outside_quotes(if_match, ","):
        tag = tag.strip()
        if tag == "*" or _strip_weak(tag) == current:
            return True
    return False


# --------------------------------------------------------------------------------------------
# URL segments and key predicates (§3)
# --------------------------------------------------------------------------------------------


def split_outside_quotes(text: str, sep: str) -> list[str]:
    """Split on ``sep`` except inside single-quoted literals (``''`` is an escaped quote)."""
    parts: list[str] = []
    buf: list[str] = []
    in_quote = False
    for ch in text:
        if ch == "'":
            in_quote = not in_quote
        if ch == sep and not in_quote:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    return parts


def split_path(raw_path: str) -> list[str]:
    """Percent-decoded segments of a raw URL path; ``/`` inside quoted keys does not split."""
    raw_path = raw_path.replace("%27", "'").replace("%28", "(").replace("%29", ")")
    return [unquote(s) for s in split_outside_quotes(raw_path, "/") if s != ""]


def parse_segment(segment: str) -> tuple[str, str | None]:
    """``Name(key)`` → ``("Name", "key")``; ``Name`` → ``("Name", None)``."""
    if "(" not in segment:
        return segment, None
    name, _, rest = segment.partition("(")
    if not rest.endswith(")") or not name:
        raise bad_request("ODP_INVALID_KEY", f"Malformed key predicate in '{segment}'.")
    return name, rest[:-1]


_INT_RE = re.compile(r"-?\d+")
_NUM_RE = re.compile(r"-?\d+\.\d+(?:[eE][+-]?\d+)?|-?\d+[eE][+-]?\d+")


def parse_key_literal(text: str) -> str | int | float:
    text = text.strip()
    if len(text) >= 2 and text[0] == "'" and text[-1] == "'":
        body = text[1:-1]
        if re.search(r"(?<!')'(?!')", body.replace("''", "")):
            raise bad_request("ODP_INVALID_KEY", f"Malformed string literal {text}.")
        return body.replace("''", "'")
    if _INT_RE.fullmatch(text):
        return int(text)
    if _NUM_RE.fullmatch(text):
        return float(text)
    raise bad_request("ODP_INVALID_KEY", f"Invalid key value {text!r}: strings must be quoted.")


def parse_key_predicate(text: str) -> list[tuple[str | None, str | int | float]]:
    """``CustomerId='A',AddressId='1'`` → ``[("CustomerId","A"),("AddressId","1")]``."""
    if not text.strip():
        raise bad_request("ODP_INVALID_KEY", "Empty key predicate.")
    items: list[tuple[str | None, str | int | float]] = []
    for part in split_outside_quotes(text, ","):
        name: str | None = None
        value = part
        m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$", part, re.S)
        if m:
            name, value = m.group(1), m.group(2)
        items.append((name, parse_key_literal(value)))
    return items


def format_key_value(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


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


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _eq(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if _is_num(a) and _is_num(b):
        return bool(a == b)
    if type(a) is not type(b):
        return False
    return bool(a == b)


def _compare(op: str, a: Any, b: Any) -> bool:
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


# --------------------------------------------------------------------------------------------
# $orderby, $select
# --------------------------------------------------------------------------------------------


def parse_orderby(text: str, properties: Iterable[str]) -> list[tuple[str, bool]]:
    """``Name desc, CustomerId`` → ``[("Name", True), ("CustomerId", False)]`` (True = desc)."""
    props = set(properties)
    result: list[tuple[str, bool]] = []
    for item in text.split(","):
        words = item.split()
        if not words or len(words) > 2:
            raise invalid_query(f"$orderby: invalid item {item!r}.")
        name = words[0]
        direction = words[1].lower() if len(words) == 2 else "asc"
        if direction not in ("asc", "desc"):
            raise invalid_query(f"$orderby: invalid direction {words[1]!r}.")
        if name not in props and not name.startswith("Cf_"):
            raise invalid_query(f"$orderby: unknown property '{name}'.")
        result.append((name, direction == "desc"))
    return result


def sort_key(value: Any) -> tuple[int, float, str]:
    """Total order over mixed values; null sorts first (OData)."""
    if value is None:
        return (0, 0.0, "")
    if isinstance(value, bool):
        return (1, float(value), "")
    if _is_num(value):
        return (1, float(value), "")
    return (2, 0.0, str(value))


def parse_select(
    text: str, properties: Iterable[str], navigations: Iterable[str]
) -> list[str] | None:
    """Selected property names, or None for all (``*``). Navigations in $select → 400 (§3)."""
    props = set(properties)
    navs = set(navigations)
    names = [s.strip() for s in text.split(",")]
    if "*" in names:
        return None
    for name in names:
        if name in navs or "/" in name:
            raise invalid_query(f"$select: navigation property '{name}' cannot be selected.")
        if name not in props and not name.startswith("Cf_"):
            raise invalid_query(f"$select: unknown property '{name}'.")
    return names
