"""IFS simulator: ``$batch`` with atomic change sets (§9, decision 5)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from sandbox.ifs.batch import BatchResponse, parse_batch_response
from tests.sandbox.ifs.support import CUST, ORD, Ifs, assert_odata_error

# ---------------------------------------------------------------------------------------------
# 7. $batch with atomic change sets
# ---------------------------------------------------------------------------------------------


def _http_part(req: dict[str, Any]) -> list[str]:
    out = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if "id" in req:
        out.append(f"Content-ID: {req['id']}")
    out += ["", f"{req['method']} {req['url']} HTTP/1.1"]
    headers = dict(req.get("headers", {}))
    if "json" in req:
        headers["Content-Type"] = "application/json"
    out += [f"{k}: {v}" for k, v in headers.items()]
    out += ["", json.dumps(req["json"]) if "json" in req else ""]
    return out


def batch_body(parts: list[dict[str, Any] | list[dict[str, Any]]]) -> tuple[str, bytes]:
    boundary = f"batch_{uuid.uuid4().hex}"
    lines: list[str] = []
    for part in parts:
        lines.append(f"--{boundary}")
        if isinstance(part, list):
            cs = f"changeset_{uuid.uuid4().hex}"
            lines += [f"Content-Type: multipart/mixed; boundary={cs}", ""]
            for req in part:
                lines.append(f"--{cs}")
                lines += _http_part(req)
            lines.append(f"--{cs}--")
        else:
            lines += _http_part(part)
    lines.append(f"--{boundary}--")
    return f"multipart/mixed; boundary={boundary}", "\r\n".join(lines).encode()


def post_batch(
    ifs: Ifs, parts: list[dict[str, Any] | list[dict[str, Any]]]
) -> list[BatchResponse | list[BatchResponse]]:
    content_type, body = batch_body(parts)
    resp = ifs.call("POST", f"{ORD}/$batch", data=body, headers={"Content-Type": content_type})
    assert resp.status_code == 200, resp.text
    ctype = resp.headers["Content-Type"]
    assert ctype.startswith("multipart/mixed; boundary=")
    boundary = ctype.split("boundary=")[1]
    assert resp.content.rstrip().endswith(f"--{boundary}--".encode())
    return parse_batch_response(resp.content, ctype)


def test_batch_change_set_with_content_id_references(ifs: Ifs) -> None:
    ifs.create_customer("B-1")
    parts: list[dict[str, Any] | list[dict[str, Any]]] = [
        [
            {
                "method": "POST",
                "url": "CustomerOrderSet",
                "id": "1",
                "json": {"CustomerNo": "B-1", "Contract": "S1", "CustomerPoNo": "wc:100"},
            },
            {
                "method": "POST",
                "url": "$1/OrderLinesArray",
                "id": "2",
                "json": {"CatalogNo": "A", "BuyQtyDue": 1, "SaleUnitPrice": 5},
            },
            {
                "method": "POST",
                "url": "$1/OrderLinesArray",
                "id": "3",
                "json": {"CatalogNo": "B", "BuyQtyDue": 3, "SaleUnitPrice": 7},
            },
            {
                "method": "PATCH",
                "url": "$1",
                "id": "4",
                "headers": {"If-Match": "$1"},
                "json": {"LabelNote": "batched"},
            },
        ],
        {"method": "GET", "url": "CustomerOrderSet?$filter=CustomerPoNo%20eq%20'wc:100'"},
    ]
    result = post_batch(ifs, parts)
    assert len(result) == 2
    changeset, query = result
    assert isinstance(changeset, list) and isinstance(query, BatchResponse)
    assert [r.status for r in changeset] == [201, 201, 201, 200]
    assert [r.content_id for r in changeset] == ["1", "2", "3", "4"]
    order_no = json.loads(changeset[0].body)["OrderNo"]
    assert json.loads(changeset[2].body)["LineNo"] == "2"
    assert query.status == 200
    found = json.loads(query.body)["value"]
    assert [(o["OrderNo"], o["LabelNote"]) for o in found] == [(order_no, "batched")]
    assert [ln["CatalogNo"] for ln in ifs.sim.order_lines(order_no)] == ["A", "B"]


@pytest.mark.parametrize(
    ("header", "bad_line", "detail"),
    [
        (
            {"CustomerNo": "B-2", "Contract": "S1"},
            {"CatalogNo": "X", "BuyQtyDue": -2},
            "QTY_NOT_POSITIVE",
        ),
        (
            {"CustomerNo": "NOBODY", "Contract": "S1"},
            {"CatalogNo": "X", "BuyQtyDue": 1},
            "CUSTNOTEXIST",
        ),
    ],
)


def test_batch_change_set_is_all_or_nothing(
    ifs: Ifs, header: dict[str, Any], bad_line: dict[str, Any], detail: str
) -> None:
    ifs.create_customer("B-2")
    failing = [
        {"method": "POST", "url": "CustomerOrderSet", "id": "1", "json": header},
        {
            "method": "POST",
            "url": "$1/OrderLinesArray",
            "id": "2",
            "json": {"CatalogNo": "OK", "BuyQtyDue": 1},
        },
        {"method": "POST", "url": "$1/OrderLinesArray", "id": "3", "json": bad_line},
    ]
    succeeding = [
        {
            "method": "POST",
            "url": "CustomerOrderSet",
            "id": "a",
            "json": {"CustomerNo": "B-2", "Contract": "S1"},
        },
        {
            "method": "POST",
            "url": "$a/OrderLinesArray",
            "id": "b",
            "json": {"CatalogNo": "Y", "BuyQtyDue": 1},
        },
    ]
    result = post_batch(ifs, [failing, succeeding])
    failed, ok = result
    assert isinstance(failed, BatchResponse), "a failed change set answers with one response"
    assert failed.status == 500
    err = json.loads(failed.body)["error"]
    assert err["code"] == "DATABASE_ERROR" and err["details"][0]["code"] == detail
    assert isinstance(ok, list) and [r.status for r in ok] == [201, 201]
    # nothing of the failed change set persisted: exactly the second order and its line
    orders = ifs.sim.orders()
    assert len(orders) == 1 and orders[0]["OrderNo"] == json.loads(ok[0].body)["OrderNo"]
    assert ifs.sim.counts()["order_lines"] == 1
    assert ifs.call("GET", f"{ORD}/CustomerOrderLineSet").json()["value"][0]["CatalogNo"] == "Y"


def test_batch_rejects_get_inside_change_set_and_bad_bodies(ifs: Ifs) -> None:
    content_type, body = batch_body([[{"method": "GET", "url": "CustomerOrderSet"}]])
    resp = ifs.call("POST", f"{ORD}/$batch", data=body, headers={"Content-Type": content_type})
    assert_odata_error(resp, 400, "ODP_BATCH_ERROR")
    no_boundary = ifs.call(
        "POST", f"{ORD}/$batch", data=b"x", headers={"Content-Type": "multipart/mixed"}
    )
    assert_odata_error(no_boundary, 400)
    # an unknown Content-ID reference fails that change set only
    result = post_batch(
        ifs, [[{"method": "POST", "url": "$9/OrderLinesArray", "json": {"CatalogNo": "X"}}]]
    )
    assert isinstance(result[0], BatchResponse) and result[0].status == 400


def test_batch_tolerates_lf_only_prefixed_boundaries_and_absolute_urls(ifs: Ifs) -> None:
    ifs.create_customer("LF-1")
    body = f"""preamble
--b1
Content-Type: multipart/mixed; boundary=b1_cs

--b1_cs
Content-Type: application/http

POST {ifs.url}{ORD}/CustomerOrderSet HTTP/1.1
Content-ID: h
Content-Type: application/json

{{"CustomerNo":"LF-1","Contract":"S1"}}
--b1_cs
Content-Type: application/http

POST $h/OrderLinesArray HTTP/1.1
Content-Type: application/json

{{"CatalogNo":"X","BuyQtyDue":1}}
--b1_cs--
--b1
Content-Type: application/http

GET {ORD}/CustomerOrderLineSet?$select=CatalogNo HTTP/1.1

--b1--
epilogue"""
    resp = ifs.call(
        "POST",
        f"{ORD}/$batch",
        data=body.encode(),
        headers={"Content-Type": "multipart/mixed; boundary=b1"},
    )
    assert resp.status_code == 200, resp.text
    changeset, read = parse_batch_response(resp.content, resp.headers["Content-Type"])
    assert isinstance(changeset, list) and [(r.status, r.content_id) for r in changeset] == [
        (201, "h"),
        (201, None),
    ]
    assert isinstance(read, BatchResponse)
    assert [ln["CatalogNo"] for ln in json.loads(read.body)["value"]] == ["X"]


def test_keys_with_slashes_and_unicode_round_trip_through_location(ifs: Ifs) -> None:
    created = ifs.call(
        "POST",
        f"{CUST}/CustomerInfoSet",
        json_body={"CustomerId": "WC/1 ä", "Name": "Slash", "Country": "SE"},
    )
    assert created.status_code == 201
    location = created.headers["Location"]
    assert "%2F" in location
    assert ifs.call("GET", location).json()["CustomerId"] == "WC/1 ä"
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet(CustomerId='WC/1 ä')").status_code == 200


# ---------------------------------------------------------------------------------------------
# JSON batch format when asked for JSON (OData 4.01, ifs-cloud.md §11)
# ---------------------------------------------------------------------------------------------


def _order_changeset(customer: str,
                     catalog: str = "A") -> list[dict[str, Any] | list[dict[str, Any]]]:
    return [[
        {"method": "POST", "url": "CustomerOrderSet", "id": "1",
         "json": {"CustomerNo": customer, "Contract": "S1", "CustomerPoNo": f"wc:{uuid.uuid4()}"}},
        {"method": "POST", "url": "$1/OrderLinesArray", "id": "2",
         "json": {"CatalogNo": catalog, "BuyQtyDue": 1, "SaleUnitPrice": 5}},
    ]]


def test_batch_asked_for_json_is_answered_in_the_json_batch_format(ifs: Ifs) -> None:
    ifs.create_customer("J-1")
    content_type, body = batch_body(_order_changeset("J-1"))
    resp = ifs.call("POST", f"{ORD}/$batch", data=body,
                    headers={"Content-Type": content_type, "Accept": "application/json"})
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/json"
    answers = resp.json()["responses"]
    assert [(a["id"], a["status"], a["atomicityGroup"]) for a in answers] == [
        ("1", 201, "g1"), ("2", 201, "g1")]
    assert answers[0]["body"]["OrderNo"] and answers[1]["body"]["CatalogNo"] == "A"


def test_a_failed_change_set_in_json_is_one_error_response(ifs: Ifs) -> None:
    content_type, body = batch_body(_order_changeset("NOBODY"))
    resp = ifs.call("POST", f"{ORD}/$batch", data=body,
                    headers={"Content-Type": content_type, "Accept": "application/json"})
    (answer,) = resp.json()["responses"]
    assert answer["status"] >= 400 and answer["atomicityGroup"] == "g1"
    assert answer["body"]["error"]["details"][0]["code"] == "CUSTNOTEXIST"


def test_batch_format_json_answers_json_even_to_multipart(ifs: Ifs) -> None:
    ifs.admin("POST", "/ifs/config", {"batch_format": "json"})
    ifs.create_customer("J-2")
    content_type, body = batch_body(_order_changeset("J-2"))
    resp = ifs.call("POST", f"{ORD}/$batch", data=body, headers={"Content-Type": content_type})
    assert resp.headers["Content-Type"] == "application/json"
    assert len(resp.json()["responses"]) == 2
