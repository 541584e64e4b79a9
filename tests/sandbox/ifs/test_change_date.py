"""IFS simulator: the switchable change date on CustomerInfo (sandbox/ifs/change_date.py).

ifs-cloud.md confirms no change-date property on CustomerInfo, so by default there is none;
switched on, it is read-only, moves on every write of the customer row and filters/orders."""

from __future__ import annotations

from typing import Any

from tests.sandbox.ifs.support import CUST, Ifs, assert_odata_error, decode_etag


def _rows(ifs: Ifs, params: dict[str, str]) -> list[dict[str, Any]]:
    resp = ifs.call("GET", f"{CUST}/CustomerInfoSet", params=params)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["value"])


def test_no_change_date_by_default(ifs: Ifs) -> None:
    created = ifs.create_customer("CD-1")
    assert "ChangedDate" not in created
    resp = ifs.call("GET", f"{CUST}/CustomerInfoSet",
                    params={"$filter": "ChangedDate gt 2020-01-01T00:00:00Z"})
    assert_odata_error(resp, 400, "ODP_INVALID_QUERY")
    resp = ifs.call("GET", f"{CUST}/CustomerInfoSet", params={"$orderby": "ChangedDate"})
    assert_odata_error(resp, 400, "ODP_INVALID_QUERY")
    assert "ChangedDate" not in ifs.call("GET", f"{CUST}/$metadata").text


def test_change_date_moves_on_create_and_patch_and_filters(ifs: Ifs) -> None:
    assert ifs.admin("POST", "/ifs/config", {"customer_change_field": "ChangedDate"}).ok
    first = ifs.create_customer("CD-1")
    second = ifs.create_customer("CD-2")
    objversion = decode_etag(first["@odata.etag"])[1]
    stamp = first["ChangedDate"]
    assert stamp == (f"{objversion[:4]}-{objversion[4:6]}-{objversion[6:8]}T"
                     f"{objversion[8:10]}:{objversion[10:12]}:{objversion[12:]}Z")
    assert 'Property Name="ChangedDate" Type="Edm.DateTimeOffset"' in ifs.call(
        "GET", f"{CUST}/$metadata").text
    # read-only: a value in the body is ignored, the server sets it
    ifs.admin("POST", "/clock", {"advance_s": 120})
    resp = ifs.call("PATCH", f"{CUST}/CustomerInfoSet(CustomerId='CD-1')",
                    json_body={"Name": "Renamed", "ChangedDate": "2001-01-01T00:00:00Z"},
                    headers={"If-Match": first["@odata.etag"]})
    assert resp.status_code == 200, resp.text
    patched = resp.json()["ChangedDate"]
    assert patched > stamp and patched > second["ChangedDate"]
    ordered = _rows(ifs, {"$orderby": "ChangedDate,CustomerId",
                          "$select": "CustomerId,ChangedDate"})
    assert [r["CustomerId"] for r in ordered] == ["CD-2", "CD-1"]
    later = [c for c, v in (("CD-1", patched), ("CD-2", second["ChangedDate"])) if v > stamp]
    assert [r["CustomerId"] for r in _rows(ifs, {"$filter": f"ChangedDate gt {stamp}"})] == later
    assert [r["CustomerId"] for r in _rows(ifs, {"$filter": f"ChangedDate ge {patched}"})] == [
        "CD-1"]
    assert [r["CustomerId"] for r in _rows(ifs, {"$filter": f"ChangedDate eq {patched}"})] == [
        "CD-1"]
    # the same instant written with an offset compares as that instant
    offset = patched.replace("Z", "+00:00")
    assert [r["CustomerId"] for r in _rows(ifs, {"$filter": f"ChangedDate eq {offset}"})] == [
        "CD-1"]
    newest = _rows(ifs, {"$orderby": "ChangedDate desc,CustomerId desc", "$top": "1"})
    assert newest[0]["CustomerId"] == "CD-1"


def test_a_new_communication_method_does_not_move_the_customers_change_date(ifs: Ifs) -> None:
    ifs.admin("POST", "/ifs/config", {"customer_change_field": "ChangedDate"})
    created = ifs.create_customer("CD-1")
    ifs.admin("POST", "/clock", {"advance_s": 120})
    resp = ifs.call("POST", f"{CUST}/CustomerInfoSet(CustomerId='CD-1')/CommunicationMethods",
                    json_body={"MethodId": "E_MAIL", "Value": "later@example.org"})
    assert resp.status_code == 201, resp.text
    assert _rows(ifs, {})[0]["ChangedDate"] == created["ChangedDate"]


def test_objversion_format_and_the_switch_resets(ifs: Ifs) -> None:
    ifs.admin("POST", "/ifs/config", {"customer_change_field": "Objversion",
                                      "customer_change_format": "objversion"})
    created = ifs.create_customer("CD-1")
    assert created["Objversion"] == decode_etag(created["@odata.etag"])[1]
    assert 'Property Name="Objversion" Type="Edm.String"' in ifs.call(
        "GET", f"{CUST}/$metadata").text
    value = created["Objversion"]
    assert [r["CustomerId"] for r in _rows(ifs, {"$filter": f"Objversion ge '{value}'"})] == [
        "CD-1"]
    assert _rows(ifs, {"$filter": f"Objversion gt '{value}'"}) == []
    assert ifs.admin("POST", "/reset").ok
    assert ifs.admin("GET", "/ifs/config").json()["customer_change_field"] == ""
