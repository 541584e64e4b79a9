"""The IFS Cloud OData client: projections over REST, one tenant per instance.

Every call draws one token from the tenant's fleet-wide budget, carries a bearer token, a timeout
and JSON headers, and turns failures into the connector's error family. It retries on its own in
exactly two cases (conventions habit 5 allows the first; the second is an IFS quirk):

* a 401: drop the token, re-authenticate once, send again (ifs-cloud.md §1, Decisions 1);
* a 500 ``MI_MODIFIED_ERROR`` (stale server metadata): send once more (§8, Decisions 9).

Everything else is raised for the task layer to retry or fail. Writes are ETag-safe: ``patch``
always sends ``If-Match`` (Decisions 3), and nothing here upserts.

URLs: ``{base_url}/main/ifsapplications/projection/v1/{Projection}.svc/{path}`` (§2), with
``path`` such as ``CustomerInfoSet``, ``CustomerInfoSet(CustomerId='WC7-1')`` or
``CustomerOrderSet(OrderNo='A1')/OrderLinesArray``; build keys with :func:`odata_key`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar
from urllib.parse import urljoin

import requests

from connector import metrics
from connector.errors import AuthError, NotFound, OutcomeUnknown, Transient, safe_url
from connector.http.errors import DEFAULT_TIMEOUT, new_session, transport_error
from connector.ifs.batch import (
    BatchRequest,
    BatchResponse,
    build_changeset_batch,
    build_read_batch,
    changeset_results,
    parse_batch_response,
    read_results,
)
from connector.ifs.odata import (
    ODataEnum,
    decode_json,
    dumps,
    error_from_response,
    filter_eq,
    is_mi_modified,
    odata_key,
    odata_literal,
    query_string,
)
from connector.ratelimit import Budget

__all__ = [
    "MAX_PAGE_SIZE",
    "PROJECTION_ROOT",
    "BatchRequest",
    "BatchResponse",
    "IfsODataClient",
    "ODataEnum",
    "TokenProvider",
    "filter_eq",
    "odata_key",
    "odata_literal",
]

log = logging.getLogger(__name__)

PROJECTION_ROOT = "/main/ifsapplications/projection/v1"
# IFS publishes no page cap; the sandbox rejects $top above 5000 and an undocumented "5000" cap is
# reported (§3, Decisions 4). Stay below it.
MAX_PAGE_SIZE = 4999
_MAX_EMPTY_PAGES = 3  # empty pages that still carry a nextLink before we call it a loop

T = TypeVar("T")
Entity = dict[str, Any]


class TokenProvider(Protocol):
    """What the client needs from :class:`~connector.ifs.auth.IfsTokenManager`."""

    def get_token(self) -> str: ...

    def invalidate(self, token: str) -> None: ...


def _etag(entity: Mapping[str, Any], response: requests.Response) -> str | None:
    # Rows carry @odata.etag (§2, §7); fall back to the ETag header (204 answers, actions).
    value = entity.get("@odata.etag")
    if isinstance(value, str) and value:
        return value
    return response.headers.get("ETag")


def _entity(response: requests.Response) -> Entity:
    data = decode_json(response)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise Transient("IFS answered with a body that is not a JSON object",
                        status=response.status_code, url=response.url)
    return data


class IfsODataClient:
    """OData v4 client for one IFS tenant.

    ``page_size`` (at most 4999) is what the client asks the server for per page and the largest
    ``top`` it accepts. ``budget`` is the tenant's fleet-wide request budget; without one, calls
    are not throttled (CLI, tests).
    """

    key = staticmethod(odata_key)

    def __init__(
        self,
        base_url: str,
        token_manager: TokenProvider,
        session: requests.Session | None = None,
        page_size: int = 1000,
        budget: Budget | None = None,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.tokens = token_manager
        self.session = session or new_session()
        self.page_size = min(page_size, MAX_PAGE_SIZE)
        self.budget = budget
        self.timeout = timeout

    # -- URLs ----------------------------------------------------------------------------------

    def service_url(self, projection: str) -> str:
        """``…/projection/v1/{Projection}.svc`` (``projection`` with or without ``.svc``)."""
        name = projection.removesuffix(".svc")
        return f"{self.base_url}{PROJECTION_ROOT}/{name}.svc"

    def url(self, projection: str, path: str) -> str:
        """The absolute URL of ``path`` inside ``projection``."""
        return f"{self.service_url(projection)}/{path.lstrip('/')}"

    # -- reads ---------------------------------------------------------------------------------

    def get(
        self,
        projection: str,
        entity_set: str,
        key: str | Mapping[str, str | int],
        *,
        select: Sequence[str] | str | None = None,
    ) -> tuple[Entity, str | None] | None:
        """One entity and its ETag, or None when IFS answers 404.

        ``key`` is a predicate from :func:`odata_key` (``"(CustomerId='WC7-1')"``) or a mapping
        of key parts.
        """
        predicate = odata_key(**key) if isinstance(key, Mapping) else key
        url = self.url(projection, f"{entity_set}{predicate}")
        if select:
            url += "?" + query_string({"$select": _csv(select)})
        try:
            return self._call("GET", url, ok=(200,), handle=lambda r: _with_etag(_entity(r), r))
        except NotFound:
            return None

    def query(
        self,
        projection: str,
        entity_set: str,
        filter: str | None = None,
        select: Sequence[str] | str | None = None,
        orderby: Sequence[str] | str | None = None,
        top: int | None = None,
    ) -> Iterator[Entity]:
        """Rows of ``entity_set``, page after page, lazily.

        Without ``top`` the server pages and the client follows ``@odata.nextLink`` verbatim
        (§3, Decisions 4); a nextLink already followed raises :class:`Transient` (``NEXTLINK_LOOP``)
        instead of looping forever. ``top`` limits the rows and may not exceed the page size —
        page through larger sets by leaving it out.
        """
        options: dict[str, str] = {}
        if filter:
            options["$filter"] = filter
        if select:
            options["$select"] = _csv(select)
        if orderby:
            options["$orderby"] = _csv(orderby)
        if top is not None:
            if top < 1:
                raise ValueError("top must be at least 1")
            if top > self.page_size:
                raise ValueError(
                    f"top={top} exceeds the page size {self.page_size}; omit top to page "
                    "through all rows"
                )
            options["$top"] = str(top)
        url = self.url(projection, entity_set)
        if options:
            url += "?" + query_string(options)
        headers = {"Prefer": f"odata.maxpagesize={self.page_size}"}

        seen: set[str] = set()
        empty_pages = 0
        while True:
            seen.add(url)
            page = self._call("GET", url, ok=(200,), handle=_entity, headers=headers)
            rows = page.get("value")
            if not isinstance(rows, list):
                raise Transient(f"{entity_set} answer has no 'value' list", status=200, url=url)
            yield from (row for row in rows if isinstance(row, dict))
            next_link = page.get("@odata.nextLink")
            if not isinstance(next_link, str) or not next_link:
                return
            empty_pages = empty_pages + 1 if not rows else 0
            next_url = resolve_next_link(self.service_url(projection), page, next_link)
            if next_url in seen or empty_pages >= _MAX_EMPTY_PAGES:
                raise Transient(
                    f"IFS paging of {entity_set} loops (nextLink repeats)",
                    url=next_url,
                    code="NEXTLINK_LOOP",
                )
            url = next_url

    # -- writes --------------------------------------------------------------------------------

    def create(
        self, projection: str, path: str, body: Mapping[str, Any]
    ) -> tuple[Entity, str | None]:
        """POST a new entity; IFS answers 201 with the record (§4, §5). Returns it and its ETag.

        IFS has no idempotency keys (§7): callers look the natural key up first (Decisions 6).
        """
        return self._call(
            "POST", self.url(projection, path), ok=(201,), body=body, handle=_created,
        )

    def patch(
        self, projection: str, path: str, body: Mapping[str, Any], etag: str
    ) -> tuple[Entity, str | None]:
        """PATCH an entity with ``If-Match: etag`` — never without: IFS treats an unconditional
        PATCH as an upsert or rejects it (§7, Decisions 3). A mismatch raises
        :class:`~connector.errors.Conflict` (412). Returns the record and its new ETag (None when
        IFS answers 204 without one: re-read before the next write)."""
        if not etag:
            raise ValueError("patch needs the entity's ETag (If-Match is mandatory)")
        return self._call(
            "PATCH", self.url(projection, path), ok=(200, 204), body=body,
            headers={"If-Match": etag}, handle=lambda r: _with_etag(_entity(r), r),
        )

    def action(
        self,
        projection: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        etag: str | None = None,
    ) -> Entity:
        """POST a (bound or unbound) action, e.g.
        ``CustomerOrderSet(OrderNo='A1')/IfsApp.CustomerOrderHandling.CustomerOrder_Release``.
        Bound actions take the entity's ETag as ``If-Match`` (§5, §7). Returns the JSON answer
        (``{"value": …}`` for primitive results), ``{}`` for 204."""
        headers = {"If-Match": etag} if etag else None
        return self._call(
            "POST", self.url(projection, path), ok=(200, 201, 204), body=body or {},
            headers=headers, handle=_entity,
        )

    def batch(
        self, projection: str, changeset_requests: Sequence[BatchRequest]
    ) -> list[BatchResponse]:
        """Send the requests as one atomic change set in ``{Projection}.svc/$batch`` (§9,
        Decisions 5) and return one response per request, in order.

        If IFS rejects the change set, nothing was written and the typed error of the failing
        part is raised (a business 500 → DataError, 412 → Conflict, …).
        """
        url = self.url(projection, "$batch")
        payload, content_type = build_changeset_batch(changeset_requests)
        expected = len(changeset_requests)

        def handle(response: requests.Response) -> list[BatchResponse]:
            try:
                parts = parse_batch_response(
                    response.content, response.headers.get("Content-Type", "")
                )
            except ValueError as exc:
                # Sent and answered 200, but unreadable: the change set may be committed.
                raise OutcomeUnknown(f"unreadable $batch answer: {exc}",
                                     status=response.status_code, url=url) from None
            return changeset_results(parts, expected, url)

        # OData: a $batch asks for multipart/mixed (a standard server honours application/json
        # with a JSON batch, which we also read; ifs-cloud.md §11).
        return self._call(
            "POST", url, ok=(200,), raw_body=payload, content_type=content_type, handle=handle,
            headers={"Accept": "multipart/mixed"},
        )

    def read_batch(self, projection: str, paths: Sequence[str]) -> list[BatchResponse]:
        """GET ``paths`` (relative to the service root, with their query) in one ``$batch``:
        one request against the budget instead of N. One response per path, in order."""
        url = self.url(projection, "$batch")
        payload, content_type = build_read_batch(paths)

        def handle(response: requests.Response) -> list[BatchResponse]:
            try:
                parts = parse_batch_response(
                    response.content, response.headers.get("Content-Type", "")
                )
            except ValueError as exc:
                raise Transient(f"unreadable $batch answer: {exc}", status=response.status_code,
                                url=url) from None
            return read_results(parts, len(paths), url)

        return self._call(
            "POST", url, ok=(200,), raw_body=payload, content_type=content_type, handle=handle,
            headers={"Accept": "multipart/mixed"},
        )

    # -- transport -----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        url: str,
        *,
        ok: tuple[int, ...],
        handle: Callable[[requests.Response], T],
        body: Mapping[str, Any] | None = None,
        raw_body: bytes | None = None,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> T:
        data = raw_body if raw_body is not None else (
            dumps(body).encode("utf-8") if body is not None else None
        )
        reauthenticated = False
        resent_after_mi_modified = False
        while True:
            if self.budget is not None:
                self.budget.acquire_or_raise()
            token = self.tokens.get_token()
            request_headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                **(headers or {}),
            }
            if data is not None:
                # Without it IFS answers ODP_DESERIALIZATION_ERROR (§2).
                request_headers["Content-Type"] = content_type
            try:
                response = self.session.request(
                    method, url, data=data, headers=request_headers, timeout=self.timeout
                )
            except requests.RequestException as exc:
                metrics.ifs_request(None)
                if method != "GET" and _maybe_sent(exc):
                    raise OutcomeUnknown(
                        f"{type(exc).__name__} after sending a {method}: IFS may have applied "
                        "it (re-read before retrying)", url=url) from None
                raise transport_error(exc, url) from None
            metrics.ifs_request(response.status_code)
            log.debug("IFS %s %s -> %s", method, safe_url(url), response.status_code)
            try:
                if response.status_code not in ok:
                    raise error_from_response(response)
                return handle(response)
            except AuthError as exc:
                if exc.status == 401 and not reauthenticated:
                    # Expired or revoked token: drop it fleet-wide, authenticate once more (§1).
                    reauthenticated = True
                    self.tokens.invalidate(token)
                    log.info("IFS answered 401; re-authenticating once")
                    continue
                raise
            except Transient as exc:
                if is_mi_modified(exc) and not resent_after_mi_modified:
                    resent_after_mi_modified = True  # stale metadata: once more (§8)
                    log.info("IFS answered MI_MODIFIED_ERROR; sending once more")
                    continue
                raise


def resolve_next_link(service_root: str, page: Mapping[str, Any], next_link: str) -> str:
    """``@odata.nextLink`` as an absolute URL. A relative link is relative to the context URL
    (``@odata.context``, itself relative to the service root), i.e. to the service root — not to
    the request URL: on a navigation path (``CustomerOrderSet('C1')/OrderLinesArray``) the
    request URL would double the path (OData JSON Format v4.01 §4.6, ifs-cloud.md §11)."""
    base = service_root.rstrip("/") + "/"
    context = page.get("@odata.context")
    if isinstance(context, str) and context:
        absolute = urljoin(base, context)
        if "$metadata" in absolute:
            base = absolute.split("$metadata", 1)[0]
    return urljoin(base, next_link)


def _maybe_sent(exc: requests.RequestException) -> bool:
    """False only when the request certainly never reached the server (no connection)."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        return not any(m in text for m in ("NewConnectionError", "Failed to establish",
                                           "Connection refused", "Name or service not known"))
    return True


def _created(response: requests.Response) -> tuple[Entity, str | None]:
    """A 201 whose body cannot be read: the record exists, but we do not know its key."""
    data = decode_json(response) if response.content else {}
    if not isinstance(data, dict):
        raise OutcomeUnknown("IFS answered 201 with a body that cannot be read; the record "
                             "was created (re-read it by its natural key)",
                             status=response.status_code, url=response.url)
    return data, _etag(data, response)


def _with_etag(entity: Entity, response: requests.Response) -> tuple[Entity, str | None]:
    return entity, _etag(entity, response)


def _csv(value: Sequence[str] | str) -> str:
    return value if isinstance(value, str) else ",".join(value)
