"""IFS simulator: customers, keys, content negotiation and errors (§4, §8)."""

from __future__ import annotations

import json

from tests.sandbox.ifs.support import CUST, Ifs, assert_odata_error

# ---------------------------------------------------------------------------------------------
# 3. Customers, keys, content negotiation, errors
# ---------------------------------------------------------------------------------------------


def test_customer_create_returns_full_entity_and_reads_back(ifs: Ifs) -> None:
    resp = ifs.call(
        "POST",
        f"{CUST}/CustomerInfoSet",
        json_body={"CustomerId": "WC7-1042", "Name": "Lena Ortiz", "Country": "SE"},
    )
    assert resp.status_code == 201
    body = resp.json()
    assert body["luname"] == "CustomerInfo"
    assert body["keyref"] == "CUSTOMER_ID=WC7-1042^"
    assert body["Objgrants"] is None
    assert body["Name"] == "Lena Ortiz" and body["Company"] == "10"
    assert body["CreationDate"] == ifs.admin("GET", "/clock").json()["now"][:10]
    assert resp.headers["ETag"] == body["@odata.etag"]
    assert resp.headers["Location"].endswith("CustomerInfoSet(CustomerId='WC7-1042')")

    got = ifs.call("GET", f"{CUST}/CustomerInfoSet(CustomerId='WC7-1042')")
    assert got.status_code == 200 and got.json()["Name"] == "Lena Ortiz"
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet('WC7-1042')").status_code == 200

    auto = ifs.call("POST", f"{CUST}/CustomerInfoSet", json_body={"Name": "Auto", "Country": "NO"})
    assert auto.status_code == 201 and auto.json()["CustomerId"]
    assert len(ifs.sim.customers()) == 2


def test_customer_validation_errors(ifs: Ifs) -> None:
    ifs.create_customer("DUP-1")
    path = f"{CUST}/CustomerInfoSet"
    assert_odata_error(
        ifs.call("POST", path, json_body={"CustomerId": "V-1", "Country": "SE"}),
        500,
        "DATABASE_ERROR",
        "MANDATORY",
    )
    assert_odata_error(
        ifs.call("POST", path, json_body={"CustomerId": "V-1", "Name": "N", "Country": "Sweden"}),
        500,
        detail="COUNTRY_NOT_EXIST",
    )
    assert_odata_error(
        ifs.call("POST", path, json_body={"CustomerId": "V" * 21, "Name": "N", "Country": "SE"}),
        500,
        detail="VALUE_TOO_LONG",
    )
    assert_odata_error(
        ifs.call("POST", path, json_body={"CustomerId": "DUP-1", "Name": "N", "Country": "SE"}),
        500,
        detail="RECORD_EXIST",
    )
    assert_odata_error(
        ifs.call(
            "POST", path, json_body={"CustomerId": "V-1", "Name": "N", "Country": "SE", "Nope": 1}
        ),
        400,
        "ODP_DESERIALIZATION_ERROR",
    )
    assert_odata_error(
        ifs.call("POST", path, json_body={"CustomerId": "V-1", "Name": 5, "Country": "SE"}),
        400,
        "ODP_DESERIALIZATION_ERROR",
    )
    # writes without Content-Type: application/json
    form = ifs.call("POST", path, data={"CustomerId": "V-1", "Name": "N", "Country": "SE"})
    assert_odata_error(form, 400, "ODP_DESERIALIZATION_ERROR")
    text = ifs.call(
        "POST", path, data=json.dumps({"Name": "N"}), headers={"Content-Type": "text/plain"}
    )
    assert_odata_error(text, 400, "ODP_DESERIALIZATION_ERROR")
    assert [c["CustomerId"] for c in ifs.sim.customers()] == ["DUP-1"]


def test_key_syntax(ifs: Ifs) -> None:
    ifs.create_customer("O'BRIEN")
    ok = ifs.call("GET", f"{CUST}/CustomerInfoSet(CustomerId='O''BRIEN')")
    assert ok.status_code == 200 and ok.json()["CustomerId"] == "O'BRIEN"
    assert_odata_error(ifs.call("GET", f"{CUST}/CustomerInfoSet(CustomerId=42)"), 400)
    assert_odata_error(ifs.call("GET", f"{CUST}/CustomerInfoSet(Nope='x')"), 400)
    assert_odata_error(ifs.call("GET", f"{CUST}/CustomerInfoSet(CustomerId='x'"), 400)
    assert_odata_error(
        ifs.call("GET", f"{CUST}/CustomerInfoSet(CustomerId='NOPE')"), 404, "ODP_RESOURCE_NOTFOUND"
    )
    assert_odata_error(ifs.call("GET", f"{CUST}/NoSuchSet"), 404, "ODP_RESOURCE_NOTFOUND")
    # composite keys: named, comma-separated; numbers bare
    comm = ifs.call(
        "POST",
        f"{CUST}/CustomerInfoSet(CustomerId='O''BRIEN')/CommunicationMethods",
        json_body={"MethodId": "E_MAIL", "Value": "ob@example.com"},
    )
    assert comm.status_code == 201 and comm.json()["CommId"] == 1
    nav = f"{CUST}/CustomerInfoSet(CustomerId='O''BRIEN')/CommunicationMethods"
    assert (
        ifs.call("GET", f"{nav}(CustomerId='O''BRIEN',CommId=1)").json()["Value"]
        == "ob@example.com"
    )
    assert ifs.call("GET", f"{nav}(CommId=1)").status_code == 200
    assert_odata_error(ifs.call("GET", f"{nav}(CommId='1')"), 400)
    assert_odata_error(ifs.call("GET", f"{nav}(CommId=2)"), 404, "ODP_RESOURCE_NOTFOUND")


def test_addresses_and_communication_methods(ifs: Ifs) -> None:
    ifs.create_customer("ADDR-1")
    base = f"{CUST}/CustomerInfoSet(CustomerId='ADDR-1')"
    addr = ifs.call(
        "POST",
        f"{base}/CustomerInfoAddresses",
        json_body={
            "AddressId": "1",
            "Address1": "Storgatan 1",
            "ZipCode": "11122",
            "City": "Sthlm",
        },
    )
    assert addr.status_code == 201
    assert addr.json()["keyref"] == "CUSTOMER_ID=ADDR-1^ADDRESS_ID=1^"
    assert addr.json()["Country"] == "SE" and addr.json()["DefaultDomain"] is True
    got = ifs.call("GET", f"{base}/CustomerInfoAddresses(CustomerId='ADDR-1',AddressId='1')")
    assert got.json()["City"] == "Sthlm"
    for value in ("a@example.com", "b@example.com"):
        resp = ifs.call(
            "POST", f"{base}/CommunicationMethods", json_body={"MethodId": "E_MAIL", "Value": value}
        )
        assert resp.status_code == 201
    # a new default clears the previous default of the same method
    third = ifs.call(
        "POST",
        f"{base}/CommunicationMethods",
        json_body={"MethodId": "E_MAIL", "Value": "c@example.com", "MethodDefault": True},
    )
    assert third.status_code == 201
    emails = ifs.call(
        "GET", f"{base}/CommunicationMethods", params={"$filter": "MethodId eq 'E_MAIL'"}
    ).json()["value"]
    assert [(e["Value"], e["MethodDefault"]) for e in emails] == [
        ("a@example.com", False),
        ("b@example.com", False),
        ("c@example.com", True),
    ]
    # the e-mail MethodId is configurable (tenant-specific literal)
    ifs.admin("POST", "/ifs/config", {"email_method_id": "EMAIL"})
    rejected = ifs.call(
        "POST", f"{base}/CommunicationMethods", json_body={"MethodId": "E_MAIL", "Value": "d@x.io"}
    )
    assert_odata_error(rejected, 400, "ODP_DESERIALIZATION_ERROR")
    accepted = ifs.call(
        "POST", f"{base}/CommunicationMethods", json_body={"MethodId": "EMAIL", "Value": "d@x.io"}
    )
    assert accepted.status_code == 201
