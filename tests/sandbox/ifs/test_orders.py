"""IFS simulator: customer orders, lines, charges and the release action (§5)."""

from __future__ import annotations

import threading

import requests

from tests.sandbox.ifs.support import ORD, Ifs, assert_odata_error

# ---------------------------------------------------------------------------------------------
# 6. Customer orders, lines, charges, bound action
# ---------------------------------------------------------------------------------------------


def test_order_header_lines_charges_patch_and_release(ifs: Ifs) -> None:
    ifs.create_customer("OR-1")
    order = ifs.create_order(
        "OR-1",
        CustomerPoNo="wc:1042",
        CurrencyCode="SEK",
        WantedDeliveryDate="2025-03-20T00:00:00Z",
    )
    order_no = order["OrderNo"]
    assert order_no and order["Objstate"] == "Planned" and order["Company"] == "10"
    assert order["keyref"] == f"ORDER_NO={order_no}^"
    base = f"{ORD}/CustomerOrderSet(OrderNo='{order_no}')"
    line_nos = []
    for catalog, qty, price in (("P-1", 2, 10.0), ("P-2", 1.5, 4.25)):
        resp = ifs.call(
            "POST",
            f"{base}/OrderLinesArray",
            json_body={"CatalogNo": catalog, "BuyQtyDue": qty, "SaleUnitPrice": price},
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["CurrencyCode"] == "SEK" and resp.json()["Contract"] == "S1"
        line_nos.append(resp.json()["LineNo"])
    assert line_nos == ["1", "2"]
    for body, detail in (
        ({"CatalogNo": "P-3", "BuyQtyDue": 0}, "QTY_NOT_POSITIVE"),
        ({"CatalogNo": "P-3", "BuyQtyDue": -1}, "QTY_NOT_POSITIVE"),
        ({"BuyQtyDue": 1}, "MANDATORY"),
    ):
        assert_odata_error(
            ifs.call("POST", f"{base}/OrderLinesArray", json_body=body), 500, detail=detail
        )
    assert_odata_error(
        ifs.call("POST", f"{base}/OrderLinesArray", json_body={"CatalogNo": "X", "BuyQtyDue": "2"}),
        400,
        "ODP_DESERIALIZATION_ERROR",
    )
    lines = ifs.call(
        "GET", f"{ORD}/CustomerOrderLineSet", params={"$filter": f"OrderNo eq '{order_no}'"}
    ).json()["value"]
    assert [(ln["CatalogNo"], ln["BuyQtyDue"]) for ln in lines] == [("P-1", 2), ("P-2", 1.5)]
    line_key = f"(OrderNo='{order_no}',LineNo='2',RelNo='1',LineItemNo=0)"
    assert ifs.call("GET", f"{ORD}/CustomerOrderLineSet{line_key}").json()["CatalogNo"] == "P-2"
    assert [ln["LineNo"] for ln in ifs.sim.order_lines(order_no)] == ["1", "2"]

    charge = ifs.call(
        "POST",
        f"{base}/CustomerOrderChargeArray",
        json_body={"ChargeType": "FREIGHT", "ChargeAmount": 49, "ChargedQty": 1, "Company": "10"},
    )
    assert charge.status_code == 201 and charge.json()["SequenceNo"] == 1
    assert_odata_error(
        ifs.call(
            "POST",
            f"{base}/CustomerOrderChargeArray",
            json_body={"ChargeType": "FREIGHT", "ChargeAmount": 1, "Company": "20"},
        ),
        500,
        detail="COMPANY_MISMATCH",
    )
    assert ifs.sim.orders()[0]["Charges"][0]["ChargeType"] == "FREIGHT"

    patched = ifs.call(
        "PATCH", base, json_body={"LabelNote": "gift"}, headers={"If-Match": order["@odata.etag"]}
    )
    assert patched.status_code == 200 and patched.json()["LabelNote"] == "gift"
    assert_odata_error(
        ifs.call(
            "PATCH",
            base,
            json_body={"CustomerNo": "SOMEONE"},
            headers={"If-Match": patched.json()["@odata.etag"]},
        ),
        500,
        detail="UPDATE_NOT_ALLOWED",
    )
    release = f"{base}/IfsApp.CustomerOrderHandling.CustomerOrder_Release"
    assert_odata_error(ifs.call("POST", release, json_body={}), 400, "ODP_MISSING_PRECONDITION")
    assert_odata_error(
        ifs.call("POST", release, json_body={}, headers={"If-Match": order["@odata.etag"]}), 412
    )
    assert ifs.call("GET", release).status_code == 405
    released = ifs.call(
        "POST", release, json_body={}, headers={"If-Match": patched.json()["@odata.etag"]}
    )
    assert released.status_code == 204
    assert ifs.call("GET", base).json()["Objstate"] == "Released"
    # natural-key lookup the connector does before creating (decision 6)
    found = ifs.call(
        "GET", f"{ORD}/CustomerOrderSet", params={"$filter": "CustomerPoNo eq 'wc:1042'"}
    ).json()["value"]
    assert [o["OrderNo"] for o in found] == [order_no]


def test_order_ship_address_must_exist(ifs: Ifs) -> None:
    ifs.create_customer("SA-1")
    resp = ifs.call(
        "POST",
        f"{ORD}/CustomerOrderSet",
        json_body={"CustomerNo": "SA-1", "Contract": "S1", "ShipAddrNo": "9"},
    )
    assert_odata_error(resp, 500, detail="ADDRESS_NOT_EXIST")


def test_concurrent_order_creation_is_consistent(ifs: Ifs) -> None:
    ifs.create_customer("CC-1")
    numbers: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        session = requests.Session()
        for _ in range(10):
            resp = session.post(
                ifs.url + f"{ORD}/CustomerOrderSet",
                json={"CustomerNo": "CC-1", "Contract": "S1"},
                headers={"Authorization": f"Bearer {ifs.bearer}"},
                timeout=10,
            )
            assert resp.status_code == 201
            with lock:
                numbers.append(resp.json()["OrderNo"])

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(numbers) == 60 and len(set(numbers)) == 60
    assert len(ifs.sim.orders()) == 60
