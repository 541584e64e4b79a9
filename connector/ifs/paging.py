"""IFS OData server paging: follow ``@odata.nextLink`` verbatim, and stop a paging loop.

Without ``$top`` the server pages and the client follows ``@odata.nextLink`` verbatim
(ifs-cloud.md §3, Decisions 4); a nextLink already followed (or empty pages that keep carrying
one) raises :class:`~connector.errors.Transient` (``NEXTLINK_LOOP``) instead of looping forever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urljoin

from connector.errors import Transient

__all__ = ["iter_server_pages", "resolve_next_link"]

Entity = dict[str, Any]

_MAX_EMPTY_PAGES = 3  # empty pages that still carry a nextLink before we call it a loop


def iter_server_pages(
    get_page: Callable[[str], Entity], service_root: str, url: str, entity_set: str
) -> Iterator[Entity]:
    """Rows of every page from ``url`` on; ``get_page`` reads one page (a JSON object)."""
    seen: set[str] = set()
    empty_pages = 0
    while True:
        seen.add(url)
        page = get_page(url)
        rows = page.get("value")
        if not isinstance(rows, list):
            raise Transient(f"{entity_set} answer has no 'value' list", status=200, url=url)
        yield from (row for row in rows if isinstance(row, dict))
        next_link = page.get("@odata.nextLink")
        if not isinstance(next_link, str) or not next_link:
            return
        empty_pages = empty_pages + 1 if not rows else 0
        next_url = resolve_next_link(service_root, page, next_link)
        if next_url in seen or empty_pages >= _MAX_EMPTY_PAGES:
            raise Transient(
                f"IFS paging of {entity_set} loops (nextLink repeats)",
                url=next_url,
                code="NEXTLINK_LOOP",
            )
        url = next_url


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

