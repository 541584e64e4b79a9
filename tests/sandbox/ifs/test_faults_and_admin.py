"""IFS simulator: injected failures (``MI_MODIFIED_ERROR``, common fault switches) and the
admin API, service document and ``$metadata``.
"""

from __future__ import annotations

from sandbox.ifs import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.sandbox.ifs.support import CUST, ORD, TOKEN_PATH, Ifs, assert_odata_error

# ---------------------------------------------------------------------------------------------
# 10. Injected failures: MI_MODIFIED_ERROR and the common fault switches
# ---------------------------------------------------------------------------------------------


def test_mi_modified_error_injection(ifs: Ifs) -> None:
    ifs.admin("POST", "/ifs/config", {"mi_modified_ratio": 1.0})
    resp = ifs.call("POST", f"{CUST}/CustomerInfoSet", json_body={"Name": "N", "Country": "SE"})
    assert_odata_error(resp, 500, "MI_MODIFIED_ERROR")
    assert ifs.sim.customers() == []  # nothing written
    ifs.admin("POST", "/ifs/config", {"mi_modified_ratio": 0.0})
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet").status_code == 200
    # via /_sandbox/faults extra, limited to one projection by path_prefix
    ifs.admin("POST", "/faults", {"extra": {"mi_modified_ratio": 1.0}, "path_prefix": ORD})
    assert_odata_error(ifs.call("GET", f"{ORD}/CustomerOrderSet"), 500, "MI_MODIFIED_ERROR")
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet").status_code == 200


def test_common_fault_injection_applies_to_projection_calls(ifs: Ifs) -> None:
    ifs.admin("POST", "/faults", {"error_5xx_ratio": 1.0, "path_prefix": ORD})
    assert ifs.call("GET", f"{ORD}/CustomerOrderSet").status_code == 503
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet").status_code == 200
    ifs.admin("DELETE", "/faults")
    ifs.admin("POST", "/faults", {"rate_limit_ratio": 1.0, "retry_after_s": 7})
    limited = ifs.call("GET", f"{CUST}/CustomerInfoSet")
    assert_odata_error(limited, 429)
    assert limited.headers["Retry-After"] == "7"
    ifs.admin("DELETE", "/faults")
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet").status_code == 200
    log = ifs.admin("GET", "/requests?path_prefix=" + CUST).json()["requests"]
    assert [e["status"] for e in log] == [200, 429, 200]


# ---------------------------------------------------------------------------------------------
# 11. Admin API
# ---------------------------------------------------------------------------------------------


def test_admin_seed_inspect_config_and_reset(ifs: Ifs) -> None:
    seeded = ifs.admin(
        "POST",
        "/ifs/customers",
        {
            "customers": [
                {
                    "CustomerId": "HAND-1",
                    "Name": "Keyed by hand",
                    "Company": "20",
                    "Emails": ["hand@example.com"],
                    "Phones": ["+46 8 123"],
                    "Addresses": [{"AddressId": "1", "City": "Malmö"}],
                }
            ]
        },
    )
    assert seeded.status_code == 200, seeded.text
    comms = ifs.call(
        "GET",
        f"{CUST}/CustomerInfoSet(CustomerId='HAND-1')/CommunicationMethods",
        params={"$filter": "MethodId eq 'E_MAIL'"},
    ).json()["value"]
    assert [c["Value"] for c in comms] == ["hand@example.com"]
    listed = ifs.admin("GET", "/ifs/customers?company=20").json()
    assert listed["count"] == 1 and len(listed["customers"][0]["CommunicationMethods"]) == 2
    assert ifs.admin("GET", "/ifs/customers?company=10").json()["count"] == 0
    bad_seed = ifs.admin("POST", "/ifs/customers", {"CustomerId": "B", "Country": "nope"})
    assert bad_seed.status_code == 400

    order = ifs.create_order("HAND-1", Contract="S2")
    assert ifs.admin("GET", "/ifs/orders").json()["orders"][0]["OrderNo"] == order["OrderNo"]
    assert ifs.admin("GET", f"/ifs/orders/{order['OrderNo']}/lines").json()["count"] == 0
    counts = ifs.admin("GET", "/ifs/counts").json()
    assert counts["customers"] == 1 and counts["orders"] == 1 and counts["addresses"] == 1

    assert ifs.admin("POST", "/ifs/config", {"nope": 1}).status_code == 400
    assert ifs.admin("POST", "/ifs/config", {"page_size": "big"}).status_code == 400
    cfg = ifs.admin("POST", "/ifs/config", {"token_ttl_s": 60, "budget_per_min": 50}).json()
    assert cfg["token_ttl_s"] == 60
    assert (
        ifs.http.post(
            ifs.url + TOKEN_PATH,
            data={"grant_type": "client_credentials"},
            auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
        ).json()["expires_in"]
        == 60
    )

    assert ifs.admin("POST", "/reset").status_code == 200
    assert ifs.sim.customers() == [] and ifs.sim.orders() == []
    assert ifs.admin("GET", "/ifs/config").json()["token_ttl_s"] == 180
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet").status_code == 401  # tokens cleared


def test_service_document_and_metadata(ifs: Ifs) -> None:
    doc = ifs.call("GET", f"{ORD}/").json()
    assert {s["name"] for s in doc["value"]} >= {"CustomerOrderSet", "CustomerOrderLineSet"}
    meta = ifs.call("GET", f"{ORD}/$metadata")
    assert meta.status_code == 200 and 'Name="CustomerOrder_Release"' in meta.text
