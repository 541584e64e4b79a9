"""OData v4 ``multipart/mixed`` batch format: parse a ``$batch`` request, render its response.

Reference: ``reference/ifs-cloud.md`` §9 — parts in order, change sets (nested
``multipart/mixed``) all-or-nothing, no GET inside a change set, ``Content-ID`` references.
Execution lives in the simulator; this module only deals with the wire format.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus

from sandbox.ifs.odata import ODataError

CRLF = b"\r\n"


def batch_error(message: str) -> ODataError:
    return ODataError(400, "ODP_BATCH_ERROR", message)


@dataclass
class BatchRequest:
    """One ``application/http`` part: an HTTP request line, headers (lower-cased) and body."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


@dataclass
class ChangeSet:
    requests: list[BatchRequest] = field(default_factory=list)


@dataclass
class BatchResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


def boundary_of(content_type: str) -> str:
    m = re.search(r'boundary=(?:"([^"]+)"|([^;\s]+))', content_type, re.I)
    if not m:
        raise batch_error("multipart/mixed Content-Type without boundary.")
    return m.group(1) or m.group(2)


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    """Split at the first blank line (CRLF or bare LF tolerated)."""
    candidates = [
        (i, n) for i, n in ((data.find(b"\r\n\r\n"), 4), (data.find(b"\n\n"), 2)) if i >= 0
    ]
    if data.startswith((b"\r\n", b"\n")):
        return b"", data[2:] if data.startswith(b"\r\n") else data[1:]
    if not candidates:
        return data, b""
    i, n = min(candidates)
    return data[:i], data[i + n :]


def _parse_headers(head: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in head.decode("utf-8").splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise batch_error(f"Malformed header line in batch part: {line!r}.")
        headers[name.strip().lower()] = value.strip()
    return headers


def _split_multipart(body: bytes, boundary: str) -> list[bytes]:
    """Parts between ``--boundary`` lines (RFC 2046: the line break before a delimiter belongs to
    it; a delimiter line is only the boundary, so a longer boundary with this prefix is not one).
    """
    delimiter = re.compile(
        rb"(?:\r?\n|^)--" + re.escape(boundary.encode("utf-8")) + rb"(--)?[ \t]*(?:\r?\n|$)"
    )
    parts: list[bytes] = []
    previous_end: int | None = None
    for m in delimiter.finditer(body):
        if previous_end is not None:
            parts.append(body[previous_end : m.start()])
        if m.group(1):  # closing delimiter
            return parts
        previous_end = m.end()
    if previous_end is None:
        raise batch_error(f"No part delimited by boundary {boundary!r}.")
    raise batch_error(f"Missing closing delimiter --{boundary}--.")


def _parse_http_request(data: bytes, content_id: str | None) -> BatchRequest:
    head, body = _split_head(data)
    lines = head.decode("utf-8").splitlines()
    if not lines:
        raise batch_error("Empty request in batch part.")
    m = re.fullmatch(r"([A-Z]+)\s+(\S+)(?:\s+HTTP/\d\.\d)?", lines[0].strip())
    if not m:
        raise batch_error(f"Malformed request line in batch part: {lines[0]!r}.")
    headers = _parse_headers("\n".join(lines[1:]).encode("utf-8"))
    if content_id is None:
        content_id = headers.get("content-id")
    return BatchRequest(m.group(1), m.group(2), headers, body, content_id)


def _parse_part(data: bytes, *, in_changeset: bool) -> BatchRequest | ChangeSet:
    head, body = _split_head(data)
    headers = _parse_headers(head)
    content_type = headers.get("content-type", "")
    if content_type.lower().startswith("multipart/mixed"):
        if in_changeset:
            raise batch_error("Change sets cannot be nested.")
        changeset = ChangeSet()
        for sub in _split_multipart(body, boundary_of(content_type)):
            part = _parse_part(sub, in_changeset=True)
            assert isinstance(part, BatchRequest)
            if part.method == "GET":
                raise batch_error("GET requests are not allowed inside a change set.")
            changeset.requests.append(part)
        return changeset
    if not content_type.lower().startswith("application/http"):
        raise batch_error(f"Batch part with unsupported Content-Type {content_type!r}.")
    return _parse_http_request(body, headers.get("content-id"))


def parse_batch(body: bytes, content_type: str) -> list[BatchRequest | ChangeSet]:
    """The parts of a ``$batch`` request body, in order. Raises 400 ``ODP_BATCH_ERROR``."""
    if not content_type.lower().startswith("multipart/mixed"):
        raise batch_error("$batch requires Content-Type multipart/mixed with a boundary.")
    return [
        _parse_part(p, in_changeset=False)
        for p in _split_multipart(body, boundary_of(content_type))
    ]


def _render_response(resp: BatchResponse) -> bytes:
    out = [b"Content-Type: application/http", b"Content-Transfer-Encoding: binary"]
    if resp.content_id is not None:
        out.append(f"Content-ID: {resp.content_id}".encode())
    out.append(b"")
    try:
        reason = HTTPStatus(resp.status).phrase
    except ValueError:
        reason = "Unknown"
    out.append(f"HTTP/1.1 {resp.status} {reason}".encode())
    headers = dict(resp.headers)
    if resp.body:
        headers["Content-Length"] = str(len(resp.body))
    out.extend(f"{k}: {v}".encode() for k, v in headers.items())
    out.append(b"")
    return CRLF.join(out) + CRLF + resp.body


def render_batch(parts: list[BatchResponse | list[BatchResponse]]) -> tuple[str, bytes]:
    """``(content_type, body)`` of a batch response; a list is a successful change set."""
    boundary = f"batchresponse_{uuid.uuid4()}"
    out = bytearray()
    for part in parts:
        out += b"--" + boundary.encode() + CRLF
        if isinstance(part, list):
            cs_boundary = f"changesetresponse_{uuid.uuid4()}"
            out += f"Content-Type: multipart/mixed; boundary={cs_boundary}".encode() + CRLF + CRLF
            for resp in part:
                out += b"--" + cs_boundary.encode() + CRLF + _render_response(resp) + CRLF
            out += b"--" + cs_boundary.encode() + b"--" + CRLF
        else:
            out += _render_response(part) + CRLF
    out += b"--" + boundary.encode() + b"--" + CRLF
    return f"multipart/mixed; boundary={boundary}", bytes(out)


def render_json_batch(parts: list[BatchResponse | list[BatchResponse]],
                      changesets: list[bool]) -> bytes:
    """The OData 4.01 JSON batch format (``{"responses": [...]}``): a change set's responses
    share an ``atomicityGroup``; a failed change set is its one error response in the group.
    ``changesets[i]`` says whether part ``i`` answers a change set."""
    out: list[dict[str, object]] = []
    for number, part in enumerate(parts, start=1):
        group = f"g{number}" if changesets[number - 1] else None
        for resp in part if isinstance(part, list) else [part]:
            try:
                body: object = json.loads(resp.body) if resp.body else None
            except ValueError:
                body = resp.body.decode("utf-8", "replace")
            item: dict[str, object] = {"id": resp.content_id or str(len(out) + 1),
                                       "status": resp.status,
                                       "headers": {k.lower(): v for k, v in resp.headers.items()}}
            if group is not None:
                item["atomicityGroup"] = group
            if body is not None:
                item["body"] = body
            out.append(item)
    return json.dumps({"responses": out}).encode()


def parse_batch_response(
    body: bytes, content_type: str
) -> list[BatchResponse | list[BatchResponse]]:
    """Parse a batch *response* (used by tests and the demo to read simulator answers)."""
    result: list[BatchResponse | list[BatchResponse]] = []
    for raw in _split_multipart(body, boundary_of(content_type)):
        head, rest = _split_head(raw)
        headers = _parse_headers(head)
        ctype = headers.get("content-type", "")
        if ctype.lower().startswith("multipart/mixed"):
            result.append(
                [_parse_http_response(sub) for sub in _split_multipart(rest, boundary_of(ctype))]
            )
        else:
            resp = _parse_http_response(raw)
            result.append(resp)
    return result


def _parse_http_response(raw: bytes) -> BatchResponse:
    mime_head, http = _split_head(raw)
    mime = _parse_headers(mime_head)
    head, body = _split_head(http)
    lines = head.decode("utf-8").splitlines()
    m = re.match(r"HTTP/\d\.\d\s+(\d{3})", lines[0] if lines else "")
    if not m:
        raise batch_error("Malformed status line in batch response.")
    headers = _parse_headers("\n".join(lines[1:]).encode("utf-8"))
    return BatchResponse(int(m.group(1)), headers, body, mime.get("content-id"))
