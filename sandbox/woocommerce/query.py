"""Collection parameters, filters, sorting and paging of the WooCommerce simulator
(reference doc §4), validated the way WordPress core validates REST arguments."""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any, TypeVar
from urllib.parse import urlencode

from sandbox.woocommerce.errors import invalid_params
from sandbox.woocommerce.models import ORDER_STATUSES, Order, WpUser

T = TypeVar("T")

# WordPress rest_parse_date(): the offset is accepted, then ignored by the date query (doc §4).
_DATE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.\d+)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)
_INT = re.compile(r"^[+-]?\d+$")

ORDER_ORDERBY = ("date", "id", "include", "title", "slug", "modified")
ORDER_STATUS_PARAM = ("any", "trash", *ORDER_STATUSES)
CUSTOMER_ORDERBY = ("id", "include", "name", "registered_date")
CUSTOMER_ROLES = (
    "all",
    "administrator",
    "editor",
    "author",
    "contributor",
    "subscriber",
    "customer",
    "shop_manager",
)
WEBHOOK_ORDERBY = ("date", "id", "title")
WEBHOOK_STATUS_PARAM = ("all", "active", "paused", "disabled")


class Params:
    """Reads query parameters and collects every validation problem, like WordPress does,
    into one ``400 rest_invalid_param``."""

    def __init__(self, args: Mapping[str, str]) -> None:
        self.args = args
        self.errors: dict[str, str] = {}

    def _raw(self, name: str) -> str | None:
        value = self.args.get(name)
        return None if value is None else str(value)

    def integer(
        self,
        name: str,
        default: int | None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        raw = self._raw(name)
        if raw is None or raw == "":
            return default
        if not _INT.match(raw.strip()):
            self.errors[name] = f"{name} is not of type integer."
            return default
        value = int(raw)
        if minimum is not None and maximum is not None and not minimum <= value <= maximum:
            self.errors[name] = (
                f"{name} must be between {minimum} (inclusive) and {maximum} (inclusive)"
            )
        elif minimum is not None and value < minimum:
            self.errors[name] = f"{name} must be greater than or equal to {minimum}"
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self._raw(name)
        if raw is None:
            return default
        low = raw.strip().lower()
        if low in ("true", "1"):
            return True
        if low in ("false", "0", ""):
            return False
        self.errors[name] = f"{name} is not of type boolean."
        return default

    def enum(self, name: str, choices: Sequence[str], default: str) -> str:
        raw = self._raw(name)
        if raw is None or raw == "":
            return default
        if raw not in choices:
            self.errors[name] = f"{name} is not one of {', '.join(choices)}."
            return default
        return raw

    def enum_list(self, name: str, choices: Sequence[str], default: list[str]) -> list[str]:
        raw = self._raw(name)
        if raw is None or raw.strip() == "":
            return default
        values = [v.strip() for v in re.split(r"[,\s]+", raw) if v.strip()]
        for i, v in enumerate(values):
            if v not in choices:
                self.errors[name] = f"{name}[{i}] is not one of {', '.join(choices)}."
                return default
        return values

    def int_list(self, name: str) -> list[int]:
        raw = self._raw(name)
        if raw is None or raw.strip() == "":
            return []
        values = [v.strip() for v in re.split(r"[,\s]+", raw) if v.strip()]
        for i, v in enumerate(values):
            if not _INT.match(v):
                self.errors[name] = f"{name}[{i}] is not of type integer."
                return []
        return list(dict.fromkeys(abs(int(v)) for v in values))

    def date(self, name: str) -> datetime | None:
        """A naive datetime: the offset/``Z`` is dropped, as the WP date query does."""
        raw = self._raw(name)
        if raw is None:
            return None
        m = _DATE.match(raw.strip())
        if not m:
            self.errors[name] = "Invalid date."
            return None
        try:
            return datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}")
        except ValueError:
            self.errors[name] = "Invalid date."
            return None

    def string(self, name: str) -> str:
        return (self._raw(name) or "").strip()

    def check(self) -> None:
        if self.errors:
            raise invalid_params(self.errors)


@dataclass
class Page:
    items: list[Any]
    total: int
    total_pages: int
    page: int  # the page number the Link header is computed from


def paginate(rows: Sequence[T], per_page: int, page: int, offset: int | None) -> Page:
    """WP_Query paging: a non-zero ``offset`` wins over ``page``; past the end is empty."""
    start = offset if offset else (page - 1) * per_page
    total = len(rows)
    return Page(
        items=list(rows[start : start + per_page]),
        total=total,
        total_pages=math.ceil(total / per_page) if per_page else 0,
        page=page,
    )


def link_header(
    base_url: str, query_pairs: Iterable[tuple[str, str]], page: int, max_pages: int
) -> list[str]:
    """``Link`` values: only ``prev``/``next`` (doc §4), every query parameter kept."""
    pairs = list(query_pairs)

    def with_page(n: int) -> str:
        out, replaced = [], False
        for k, v in pairs:
            if k == "page":
                if not replaced:
                    out.append(("page", str(n)))
                    replaced = True
                continue
            out.append((k, v))
        if not replaced:
            out.append(("page", str(n)))
        return f"{base_url}?{urlencode(out)}"

    links = []
    if page > 1:
        links.append(f'<{with_page(min(page - 1, max_pages))}>; rel="prev"')
    if max_pages > page:
        links.append(f'<{with_page(page + 1)}>; rel="next"')
    return links


def to_utc(value: datetime | None, gmt: bool, offset: timedelta) -> datetime | None:
    """A naive filter value -> aware UTC: site-local unless ``dates_are_gmt``."""
    if value is None:
        return None
    return (value if gmt else value - offset).replace(tzinfo=UTC)


# --------------------------------------------------------------------------- orders


@dataclass
class OrderQuery:
    per_page: int
    page: int
    offset: int | None
    order: str
    orderby: str
    statuses: list[str]
    after: datetime | None
    before: datetime | None
    modified_after: datetime | None
    modified_before: datetime | None
    include: list[int]
    exclude: list[int]
    parent: list[int]
    customer: int | None
    product: int | None
    search: str
    dp: int


def parse_order_query(args: Mapping[str, str], offset: timedelta) -> OrderQuery:
    p = Params(args)
    per_page = p.integer("per_page", 10, 1, 100) or 10
    page = p.integer("page", 1, 1) or 1
    off = p.integer("offset", None)
    order = p.enum("order", ("asc", "desc"), "desc")
    orderby = p.enum("orderby", ORDER_ORDERBY, "date")
    statuses = p.enum_list("status", ORDER_STATUS_PARAM, ["any"])
    after, before = p.date("after"), p.date("before")
    modified_after, modified_before = p.date("modified_after"), p.date("modified_before")
    gmt = p.boolean("dates_are_gmt", False)
    include, exclude, parent = p.int_list("include"), p.int_list("exclude"), p.int_list("parent")
    customer = p.integer("customer", None)
    product = p.integer("product", None)
    dp = p.integer("dp", 2, 0, 10)
    search = p.string("search")
    p.check()
    return OrderQuery(
        per_page=per_page,
        page=page,
        offset=abs(off) if off is not None else None,
        order=order,
        orderby=orderby,
        statuses=statuses,
        after=to_utc(after, gmt, offset),
        before=to_utc(before, gmt, offset),
        modified_after=to_utc(modified_after, gmt, offset),
        modified_before=to_utc(modified_before, gmt, offset),
        include=include,
        exclude=exclude,
        parent=parent,
        customer=customer,
        product=product,
        search=search.lower(),
        dp=2 if dp is None else dp,
    )


def wanted_statuses(q: OrderQuery) -> frozenset[str]:
    """``any`` = every status but ``trash`` (WordPress ``any`` semantics, doc §4)."""
    if "any" in q.statuses:
        return frozenset(ORDER_STATUSES) | {s for s in q.statuses if s != "any"}
    return frozenset(q.statuses)


@dataclass
class SortedOrders:
    """Orders of some statuses in one sort order, plus the sort dates for bisecting."""

    rows: list[Order]
    dates: list[datetime]  # created (date sort) or modified (modified sort); empty for id


def sort_orders(orders: Iterable[Order], q: OrderQuery) -> SortedOrders:
    """Status filter and sort. ``date``/``modified`` sorts get the id as tie-breaker, in the
    same direction (WC appends `` ID`` to the orderby). Cacheable: depends only on
    ``(statuses, orderby, order)``."""
    wanted = wanted_statuses(q)
    reverse = q.order == "desc"
    rows = [o for o in orders if o.status in wanted]
    # Two stable passes are cheaper than tuple keys (and ids are nearly sorted already).
    rows.sort(key=attrgetter("id"), reverse=reverse)
    if q.orderby == "modified":
        rows.sort(key=attrgetter("modified"), reverse=reverse)
        return SortedOrders(rows, [o.modified for o in rows])
    if q.orderby == "id":
        return SortedOrders(rows, [])
    # date, include (re-sorted later), title and slug (made of the creation date)
    rows.sort(key=attrgetter("created"), reverse=reverse)
    return SortedOrders(rows, [o.created for o in rows])


def filter_orders(base: SortedOrders, q: OrderQuery) -> list[Order]:
    """The remaining filters, order preserved. ``after``/``before`` and the ``modified_*``
    pair are exclusive, at one-second resolution."""
    rows = base.rows
    modified_after, after = q.modified_after, q.after
    # Keyset polling (modified_after + orderby=modified&order=asc) bisects instead of scanning.
    if q.orderby == "modified" and q.order == "asc" and modified_after is not None:
        rows = rows[bisect_right(base.dates, modified_after) :]
        modified_after = None
    elif q.orderby in ("date", "title", "slug") and q.order == "asc" and after is not None:
        rows = rows[bisect_right(base.dates, after) :]
        after = None
    if q.include:
        include = set(q.include)
        rows = [o for o in rows if o.id in include]
    if q.exclude:
        exclude = set(q.exclude)
        rows = [o for o in rows if o.id not in exclude]
    if q.parent:
        parent = set(q.parent)
        rows = [o for o in rows if o.parent_id in parent]
    if q.customer is not None:
        rows = [o for o in rows if o.customer_id == q.customer]
    if q.product is not None:
        rows = [o for o in rows if any(li.product_id == q.product for li in o.line_items)]
    if after is not None:
        rows = [o for o in rows if o.created > after]
    if q.before is not None:
        before = q.before
        rows = [o for o in rows if o.created < before]
    if modified_after is not None:
        rows = [o for o in rows if o.modified > modified_after]
    if q.modified_before is not None:
        m_before = q.modified_before
        rows = [o for o in rows if o.modified < m_before]
    if q.search:
        term = q.search
        rows = [o for o in rows if term in o.search_text()]
    if q.orderby == "include" and q.include:
        position = {oid: i for i, oid in enumerate(q.include)}
        rows = sorted(rows, key=lambda o: position.get(o.id, len(position)))
    return rows


def select_orders(orders: Iterable[Order], q: OrderQuery) -> list[Order]:
    """Filter and sort in one go (no cache)."""
    return filter_orders(sort_orders(orders, q), q)


# --------------------------------------------------------------------------- customers


@dataclass
class CustomerQuery:
    per_page: int
    page: int
    offset: int | None
    order: str
    orderby: str
    role: str
    email: str
    include: list[int]
    exclude: list[int]
    search: str


def parse_customer_query(args: Mapping[str, str]) -> CustomerQuery:
    """``/customers`` has no date filters: ``modified_after`` & co are ignored (doc §4)."""
    p = Params(args)
    per_page = p.integer("per_page", 10, 1, 100) or 10
    page = p.integer("page", 1, 1) or 1
    off = p.integer("offset", None)
    order = p.enum("order", ("asc", "desc"), "asc")
    orderby = p.enum("orderby", CUSTOMER_ORDERBY, "name")
    role = p.enum("role", CUSTOMER_ROLES, "customer")
    email = p.string("email")
    if email and not re.match(r"^[^@\s]+@[^@\s]+$", email):
        p.errors["email"] = "Invalid email address."
    include, exclude = p.int_list("include"), p.int_list("exclude")
    search = p.string("search")
    p.check()
    return CustomerQuery(
        per_page=per_page,
        page=page,
        offset=abs(off) if off is not None else None,
        order=order,
        orderby=orderby,
        role=role,
        email=email.lower(),
        include=include,
        exclude=exclude,
        search=search.lower(),
    )


def select_customers(users: Iterable[WpUser], q: CustomerQuery) -> list[WpUser]:
    include, exclude = set(q.include), set(q.exclude)
    rows = []
    for u in users:
        if q.role != "all" and u.role != q.role:
            continue
        if include and u.id not in include:
            continue
        if u.id in exclude:
            continue
        if q.email and u.email.lower() != q.email:
            continue
        if q.search and not any(
            q.search in s.lower() for s in (u.username, u.email, u.display_name)
        ):
            continue
        rows.append(u)
    if q.orderby == "include" and q.include:
        position = {uid: i for i, uid in enumerate(q.include)}
        rows.sort(key=lambda u: position.get(u.id, len(position)))
        return rows
    reverse = q.order == "desc"
    if q.orderby == "id":
        rows.sort(key=lambda u: u.id, reverse=reverse)
    elif q.orderby == "registered_date":
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        rows.sort(key=lambda u: (u.created or epoch, u.id), reverse=reverse)
    else:
        rows.sort(key=lambda u: (u.display_name.lower(), u.id), reverse=reverse)
    return rows


def customer_page_number(per_page: int, page: int, offset: int | None) -> int:
    """The customers controller derives the Link page from the offset."""
    start = offset if offset else (page - 1) * per_page
    return math.ceil(start / per_page + 1)
