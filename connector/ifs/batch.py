"""OData v4 multipart ``$batch``: one change set of N writes, and the parser for the answer.

IFS runs a change set all-or-nothing, in order, with no GET inside; a later request can point at
an earlier one's result with ``$<Content-ID>`` in its URL (and in ``If-Match``) (ifs-cloud.md §9,
Decisions 5). That is how an order header and its lines are created atomically.

The answer to a successful change set is a nested ``multipart/mixed`` part holding one
``application/http`` response per request, in order. A failed change set is answered by a single
``application/http`` error response in its place; :func:`changeset_results` turns that into the
typed error of the connector's family.

The request asks for ``Accept: multipart/mixed``; a server may still answer in the OData 4.01
JSON batch format (``{"responses": [{"id", "status", "headers", "body", "atomicityGroup"}]}``,
SAP CAP and ASP.NET Core OData do, ifs-cloud.md §11), which :func:`parse_batch_response` reads
into the same parts. An answer that cannot be read after the change set was sent has an unknown
outcome (:class:`~connector.errors.OutcomeUnknown`): it may have been committed.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import requests
from requests.structures import CaseInsensitiveDict

from connector.errors import ConnectorError, OutcomeUnknown, Transient
from connector.ifs.odata import dumps, error_from_response

CRLF = "\r\n"


@dataclass(frozen=True)
class BatchRequest:
    """One write inside the change set.

    ``url`` is relative to the service root (``CustomerOrderSet``) or starts with a reference to
    an earlier request (``$1/OrderLinesArray``). ``content_id`` defaults to the 1-based position.
    """

    method: str
    url: str
    body: Mapping[str, Any] | None = None
    content_id: str | None = None
    if_match: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class BatchResponse(NamedTuple):
    """One response part: status, headers (case-insensitive) and the decoded JSON body."""

    status: int
    headers: CaseInsensitiveDict[str]
    body: Any

    @property
    def content_id(self) -> str | None:
        return self.headers.get("Content-ID")

    @property
    def etag(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("@odata.etag"), str):
            return str(self.body["@odata.etag"])
        return self.headers.get("ETag")


@dataclass(frozen=True)
class Changeset:
    """A nested change-set answer: its responses in request order."""

    responses: list[BatchResponse]


BatchPart = BatchResponse | Changeset


def new_boundary(kind: str) -> str:
    """A random boundary (``batch_…`` / ``changeset_…``) that cannot occur in a JSON body by
    accident."""
    return f"{kind}_{secrets.token_hex(16)}"


def build_changeset_batch(
    requests_: Sequence[BatchRequest],
    *,
    batch_boundary: str | None = None,
    changeset_boundary: str | None = None,
) -> tuple[bytes, str]:
    """The body and ``Content-Type`` of a ``$batch`` request holding one change set.

    Lines end with CRLF, as multipart requires.
    """
    if not requests_:
        raise ValueError("a change set needs at least one request")
    batch_boundary = batch_boundary or new_boundary("batch")
    changeset_boundary = changeset_boundary or new_boundary("changeset")
    lines: list[str] = [
        f"--{batch_boundary}",
        f"Content-Type: multipart/mixed; boundary={changeset_boundary}",
        "",
    ]
    for position, request in enumerate(requests_, start=1):
        method = request.method.upper()
        if method == "GET":
            # A change set holds writes only (§9).
            raise ValueError("GET is not allowed inside a change set")
        content_id = request.content_id or str(position)
        lines += [
            f"--{changeset_boundary}",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            f"Content-ID: {content_id}",
            "",
            f"{method} {request.url} HTTP/1.1",
            "Accept: application/json",
        ]
        if request.if_match:
            lines.append(f"If-Match: {request.if_match}")
        for name, value in request.headers.items():
            lines.append(f"{name}: {value}")
        if request.body is not None:
            lines += ["Content-Type: application/json", "", dumps(request.body)]
        else:
            lines += [""]
    lines += [f"--{changeset_boundary}--", "", f"--{batch_boundary}--", ""]
    body = CRLF.join(lines).encode("utf-8")
    return body, f"multipart/mixed; boundary={batch_boundary}"


def boundary_of(content_type: str | None) -> str:
    """The ``boundary`` parameter of a ``multipart/mixed`` Content-Type."""
    if not content_type or not content_type.lower().startswith("multipart/"):
        raise ValueError(f"not a multipart content type: {content_type!r}")
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "boundary" and value:
            return value.strip().strip('"')
    raise ValueError(f"no boundary in {content_type!r}")


def parse_batch_response(body: bytes | str, content_type: str) -> list[BatchPart]:
    """The parts of a ``$batch`` answer, in order: single responses and nested change sets.

    Reads ``multipart/mixed`` (tolerating LF-only line endings and a preamble/epilogue) and the
    OData 4.01 JSON batch format (``application/json``). Raises ``ValueError`` otherwise.
    """
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    if (content_type or "").lower().startswith("application/json"):
        return parse_json_batch(text)
    return [_parse_part(part) for part in _split_multipart(text, boundary_of(content_type))]


def parse_json_batch(text: str) -> list[BatchPart]:
    """An OData 4.01 JSON batch answer: responses sharing an ``atomicityGroup`` form one change
    set (in the order they appear); the others are single responses."""
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"JSON batch answer is not JSON ({exc})") from None
    responses = payload.get("responses") if isinstance(payload, dict) else None
    if not isinstance(responses, list):
        raise ValueError("JSON batch answer has no 'responses' list")
    parts: list[BatchPart] = []
    groups: dict[str, Changeset] = {}
    for item in responses:
        if not isinstance(item, dict) or not isinstance(item.get("status"), int):
            raise ValueError("JSON batch response without a status")
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(
            {str(k): str(v) for k, v in (item.get("headers") or {}).items()})
        if item.get("id") is not None:
            headers.setdefault("Content-ID", str(item["id"]))
        response = BatchResponse(int(item["status"]), headers, item.get("body"))
        group = item.get("atomicityGroup")
        if group is None:
            parts.append(response)
        elif str(group) in groups:
            groups[str(group)].responses.append(response)
        else:
            groups[str(group)] = Changeset([response])
            parts.append(groups[str(group)])
    return parts


def _split_multipart(text: str, boundary: str) -> list[str]:
    delimiter = f"--{boundary}"
    parts: list[str] = []
    current: list[str] | None = None  # None: preamble
    closed = False
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\r\n").rstrip()
        if stripped == delimiter or stripped == delimiter + "--":
            if current is not None:
                parts.append(_drop_final_newline("".join(current)))
            if stripped != delimiter:
                closed = True
                break
            current = []
            continue
        if current is not None:
            current.append(line)
    if not closed:
        raise ValueError("multipart body has no closing boundary (truncated answer?)")
    return parts


def _drop_final_newline(text: str) -> str:
    # The line break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text


def _split_head(text: str) -> tuple[CaseInsensitiveDict[str], str]:
    """Headers up to the first empty line, and the rest."""
    headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        stripped = line.rstrip("\r\n")
        if not stripped:
            return headers, "".join(lines[i + 1 :])
        name, sep, value = stripped.partition(":")
        if sep:
            headers[name.strip()] = value.strip()
    return headers, ""


def _parse_part(part: str) -> BatchPart:
    headers, rest = _split_head(part)
    content_type = headers.get("Content-Type", "")
    if content_type.lower().startswith("multipart/mixed"):
        inner = [_parse_part(p) for p in _split_multipart(rest, boundary_of(content_type))]
        responses = [p for p in inner if isinstance(p, BatchResponse)]
        if len(responses) != len(inner):
            raise ValueError("nested change set inside a change set")
        return Changeset(responses)
    response = _parse_http_response(rest)
    # The MIME part's Content-ID identifies the response; copy it so callers see it.
    if "Content-ID" in headers and "Content-ID" not in response.headers:
        response.headers["Content-ID"] = headers["Content-ID"]
    return response


def _parse_http_response(text: str) -> BatchResponse:
    status_line, _, rest = text.lstrip("\r\n").partition("\n")
    bits = status_line.strip().split(" ", 2)
    if len(bits) < 2 or not bits[0].startswith("HTTP/") or not bits[1].isdigit():
        raise ValueError(f"not an HTTP status line: {status_line.strip()[:80]!r}")
    headers, payload = _split_head(rest)
    payload = payload.strip()
    body: Any = None
    if payload:
        try:
            body = json.loads(payload)
        except ValueError:
            body = payload
    return BatchResponse(int(bits[1]), headers, body)


def part_as_response(part: BatchResponse, url: str) -> requests.Response:
    """A ``requests.Response`` standing for one part, so the shared status table types it."""
    response = requests.Response()
    response.status_code = part.status
    response.url = url
    response.headers = CaseInsensitiveDict(part.headers)
    if part.body is None:
        response._content = b""
    elif isinstance(part.body, str):
        response._content = part.body.encode("utf-8")
    else:
        response._content = json.dumps(part.body).encode("utf-8")
    return response


def changeset_results(parts: Sequence[BatchPart], expected: int, url: str) -> list[BatchResponse]:
    """The N responses of the one change set in ``parts``, or the typed error of a failure.

    A failed change set comes back as one error response instead of N (OData v4 §11.7.4); its
    status and OData error body decide the error class (a business 500 is a DataError,
    ``MI_MODIFIED_ERROR`` stays transient, 412 is a Conflict …).
    """
    responses = [p for p in parts if isinstance(p, BatchResponse)]
    if len(parts) != 1 and len(responses) == len(parts) == expected:
        # A server that answers the change set's requests without grouping them (a JSON batch
        # without atomicityGroup): the same N responses.
        parts = [Changeset(responses)]
    for part in parts:
        for response in part.responses if isinstance(part, Changeset) else [part]:
            if response.status >= 400:
                # The change set was rolled back: the server's own error is the reason.
                raise error_for_part(response, url)
    if len(parts) != 1:
        raise OutcomeUnknown(f"$batch answer has {len(parts)} parts, expected 1 change set",
                             url=url)
    part = parts[0]
    if isinstance(part, BatchResponse):
        raise OutcomeUnknown(f"$batch answer is a single {part.status} instead of a change set",
                             url=url)
    if len(part.responses) != expected:
        raise OutcomeUnknown(
            f"change set answered {len(part.responses)} of {expected} requests", url=url
        )
    return part.responses


def error_for_part(part: BatchResponse, url: str) -> ConnectorError:
    """The typed error for one failed part (same rules as a plain response)."""
    return error_from_response(part_as_response(part, url), what="change set")


def build_read_batch(urls: Sequence[str], *, batch_boundary: str | None = None
                     ) -> tuple[bytes, str]:
    """The body and ``Content-Type`` of a ``$batch`` of GETs, each its own top-level part
    (reads are not allowed in a change set, §9): N reads in one HTTP request."""
    if not urls:
        raise ValueError("a read batch needs at least one request")
    batch_boundary = batch_boundary or new_boundary("batch")
    lines: list[str] = []
    for position, url in enumerate(urls, start=1):
        lines += [
            f"--{batch_boundary}",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            f"Content-ID: {position}",
            "",
            f"GET {url} HTTP/1.1",
            "Accept: application/json",
            "",
            "",
        ]
    lines += [f"--{batch_boundary}--", ""]
    return CRLF.join(lines).encode("utf-8"), f"multipart/mixed; boundary={batch_boundary}"


def read_results(parts: Sequence[BatchPart], expected: int, url: str) -> list[BatchResponse]:
    """The N responses of a read batch, in order. A part that failed stays a response with
    its status (the caller decides what a 404 means); a throttled or failing server part
    (429, 5xx) raises its typed error, so the whole page is retried."""
    responses = [p for p in parts if isinstance(p, BatchResponse)]
    if len(responses) != expected or len(parts) != expected:
        if len(parts) == 1 and isinstance(parts[0], BatchResponse) and parts[0].status >= 400:
            raise error_for_part(parts[0], url)
        raise Transient(f"read batch answered {len(parts)} of {expected} requests", url=url)
    for response in responses:
        if response.status == 429 or response.status >= 500:
            raise error_for_part(response, url)
    return responses
