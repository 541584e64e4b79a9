"""OData multipart $batch: building a change set and parsing IFS' answer."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from connector.errors import Conflict, DataError, Transient
from connector.ifs.batch import (
    BatchRequest,
    BatchResponse,
    Changeset,
    boundary_of,
    build_changeset_batch,
    changeset_results,
    parse_batch_response,
)

URL = "http://ifs.test/main/ifsapplications/projection/v1/CustomerOrderHandling.svc/$batch"

ORDER_REQUESTS = [
    BatchRequest("POST", "CustomerOrderSet",
                 {"CustomerNo": "WC7-1042", "CustomerPoNo": "woo:7:1001", "Contract": "1"}),
    BatchRequest("POST", "$1/OrderLinesArray",
                 {"CatalogNo": "SKU-1", "BuyQtyDue": 2, "SaleUnitPrice": Decimal("19.90")}),
    BatchRequest("POST", "$1/OrderLinesArray", {"CatalogNo": "SKU-2", "BuyQtyDue": 1}),
]


def _parse_request_body(body: bytes, content_type: str) -> list[dict[str, object]]:
    """Read a built request back: the server's view of it (method, url, headers, json)."""
    text = body.decode()
    outer = boundary_of(content_type)
    assert text.startswith(f"--{outer}\r\n")
    assert text.rstrip("\r\n").endswith(f"--{outer}--")
    cs_header = text.split("\r\n")[1]
    inner = boundary_of(cs_header.split(":", 1)[1].strip())
    chunks = text.split(f"--{inner}")[1:-1]
    parsed = []
    for chunk in chunks:
        mime_head, http = chunk.strip("\r\n").split("\r\n\r\n", 1)
        request_line, rest = http.split("\r\n", 1)
        head, _, payload = rest.partition("\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.split("\r\n") if line)
        mime = dict(line.split(": ", 1) for line in mime_head.split("\r\n") if line)
        parsed.append({
            "mime": mime,
            "request_line": request_line,
            "headers": headers,
            "json": json.loads(payload) if payload.strip() else None,
        })
    return parsed


def test_build_one_changeset_with_references() -> None:
    body, content_type = build_changeset_batch(
        [*ORDER_REQUESTS[:2], BatchRequest("PATCH", "$1", {"AuthorizeCode": "A"}, if_match="$1")]
    )
    assert content_type.startswith("multipart/mixed; boundary=batch_")
    text = body.decode()
    assert "\n" not in text.replace("\r\n", "")  # CRLF line endings only
    parts = _parse_request_body(body, content_type)
    assert [p["request_line"] for p in parts] == [
        "POST CustomerOrderSet HTTP/1.1",
        "POST $1/OrderLinesArray HTTP/1.1",
        "PATCH $1 HTTP/1.1",
    ]
    assert [p["mime"]["Content-ID"] for p in parts] == ["1", "2", "3"]  # type: ignore[index]
    assert all(p["mime"]["Content-Type"] == "application/http" for p in parts)  # type: ignore[index]
    assert parts[1]["json"] == {"CatalogNo": "SKU-1", "BuyQtyDue": 2, "SaleUnitPrice": 19.9}
    assert parts[0]["headers"]["Content-Type"] == "application/json"  # type: ignore[index]
    assert parts[2]["headers"]["If-Match"] == "$1"  # type: ignore[index]
    assert "If-Match" not in parts[0]["headers"]  # type: ignore[operator]


def test_boundaries_are_random() -> None:
    _, first = build_changeset_batch(ORDER_REQUESTS)
    _, second = build_changeset_batch(ORDER_REQUESTS)
    assert first != second


def test_no_get_inside_a_changeset() -> None:
    with pytest.raises(ValueError):
        build_changeset_batch([BatchRequest("GET", "CustomerOrderSet")])
    with pytest.raises(ValueError):
        build_changeset_batch([])


def _ok_answer(batch: str = "batchresponse_1", cs: str = "changesetresponse_1") -> str:
    etag = 'W/"Vy8iQUFCN1FYQUFLQUFBZDVoQUFDOjIwMjUwMzE0MDkxNTIyIg=="'
    parts = [
        f"--{batch}",
        f"Content-Type: multipart/mixed; boundary={cs}",
        "",
    ]
    for cid, entity in (
        ("1", {"@odata.etag": etag, "OrderNo": "C1001", "CustomerNo": "WC7-1042"}),
        ("2", {"OrderNo": "C1001", "LineNo": "1", "RelNo": "1", "LineItemNo": 0}),
        ("3", {"OrderNo": "C1001", "LineNo": "2", "RelNo": "1", "LineItemNo": 0}),
    ):
        parts += [
            f"--{cs}",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            f"Content-ID: {cid}",
            "",
            "HTTP/1.1 201 Created",
            "Content-Type: application/json;odata.metadata=minimal",
            "OData-Version: 4.0",
            "",
            json.dumps(entity),
        ]
    parts += [f"--{cs}--", "", f"--{batch}--", ""]
    return "\r\n".join(parts)


def test_parse_successful_changeset() -> None:
    content_type = "multipart/mixed; boundary=batchresponse_1"
    parsed = parse_batch_response(_ok_answer().encode(), content_type)
    assert len(parsed) == 1 and isinstance(parsed[0], Changeset)
    responses = changeset_results(parsed, 3, URL)
    assert [r.status for r in responses] == [201, 201, 201]
    assert [r.content_id for r in responses] == ["1", "2", "3"]
    assert responses[0].body["OrderNo"] == "C1001"
    assert responses[0].etag is not None and responses[0].etag.startswith('W/"')
    assert responses[2].body["LineNo"] == "2"
    status, headers, body = responses[1]  # a (status, headers, json) tuple
    assert status == 201 and headers["content-type"].startswith("application/json")
    assert body["LineNo"] == "1"


def test_parse_tolerates_lf_and_quoted_boundary() -> None:
    text = _ok_answer().replace("\r\n", "\n")
    parsed = parse_batch_response(text, 'multipart/mixed; boundary="batchresponse_1"')
    assert len(changeset_results(parsed, 3, URL)) == 3


def test_round_trip_request_ids_match_response_ids() -> None:
    body, content_type = build_changeset_batch(ORDER_REQUESTS)
    sent = [p["mime"]["Content-ID"] for p in _parse_request_body(body, content_type)]  # type: ignore[index]
    answer = changeset_results(
        parse_batch_response(_ok_answer(), "multipart/mixed; boundary=batchresponse_1"), 3, URL
    )
    assert [r.content_id for r in answer] == sent


def _failed_answer(status_line: str, error: dict[str, object], content_id: str = "2") -> str:
    return "\r\n".join([
        "--batchresponse_9",
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        f"Content-ID: {content_id}",
        "",
        status_line,
        "Content-Type: application/json;odata.metadata=minimal",
        "",
        json.dumps(error),
        "--batchresponse_9--",
        "",
    ])


def test_failed_changeset_raises_business_error() -> None:
    answer = _failed_answer(
        "HTTP/1.1 500 Internal Server Error",
        {"error": {"code": "DATABASE_ERROR", "message": "Database error",
                   "details": [{"code": "CATNOTEXIST",
                                "message": "Sales part SKU-9 does not exist."}]}},
    )
    parsed = parse_batch_response(answer, "multipart/mixed; boundary=batchresponse_9")
    assert isinstance(parsed[0], BatchResponse) and parsed[0].content_id == "2"
    with pytest.raises(DataError) as caught:
        changeset_results(parsed, 3, URL)
    assert "Sales part SKU-9 does not exist." in str(caught.value)
    assert caught.value.status == 500
    assert not caught.value.retryable


def test_failed_changeset_412_is_conflict() -> None:
    answer = _failed_answer(
        "HTTP/1.1 412 Precondition Failed",
        {"error": {"code": "ODP_PRECONDITION_FAILED", "message": "ETag mismatch"}},
    )
    with pytest.raises(Conflict) as caught:
        changeset_results(parse_batch_response(answer, "multipart/mixed; boundary=batchresponse_9"),
                          3, URL)
    assert caught.value.status == 412 and caught.value.code == "ODP_PRECONDITION_FAILED"


def test_failed_changeset_mi_modified_stays_transient() -> None:
    answer = _failed_answer(
        "HTTP/1.1 500 Internal Server Error",
        {"error": {"code": "MI_MODIFIED_ERROR", "message": "Metadata modified",
                   "details": [{"code": "MI_MODIFIED_ERROR", "message": "Reload"}]}},
    )
    with pytest.raises(Transient) as caught:
        changeset_results(parse_batch_response(answer, "multipart/mixed; boundary=batchresponse_9"),
                          3, URL)
    assert caught.value.code == "MI_MODIFIED_ERROR"


def test_short_changeset_answer_is_not_trusted() -> None:
    answer = _ok_answer()
    with pytest.raises(Transient):
        changeset_results(parse_batch_response(answer, "multipart/mixed; boundary=batchresponse_1"),
                          4, URL)


def test_truncated_answer_is_rejected() -> None:
    truncated = _ok_answer().split("--changesetresponse_1--")[0]
    with pytest.raises(ValueError):
        parse_batch_response(truncated, "multipart/mixed; boundary=batchresponse_1")
    with pytest.raises(ValueError):
        parse_batch_response(_ok_answer(), "application/json")
