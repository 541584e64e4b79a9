"""IFS simulator: ETags and ``If-Match`` (§7, decision 3)."""

from __future__ import annotations

from datetime import datetime

from tests.sandbox.ifs.support import CUST, Ifs, assert_odata_error, decode_etag

# ---------------------------------------------------------------------------------------------
# 5. ETags and If-Match
# ---------------------------------------------------------------------------------------------


def test_etag_format_and_change_on_every_write(ifs: Ifs) -> None:
    created = ifs.create_customer("ET-1")
    objid, version = decode_etag(created["@odata.etag"])
    clock_now = datetime.fromisoformat(ifs.admin("GET", "/clock").json()["now"])
    stamp = datetime.strptime(version, "%Y%m%d%H%M%S")
    assert abs((stamp - clock_now.replace(tzinfo=None)).total_seconds()) < 5

    etags = [created["@odata.etag"]]
    path = f"{CUST}/CustomerInfoSet(CustomerId='ET-1')"
    for i in range(3):  # several writes within the same second
        resp = ifs.call(
            "PATCH", path, json_body={"Name": f"Name {i}"}, headers={"If-Match": etags[-1]}
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["Name"] == f"Name {i}"
        assert resp.headers["ETag"] == resp.json()["@odata.etag"]
        etags.append(resp.json()["@odata.etag"])
    assert len(set(etags)) == 4
    decoded = [decode_etag(e) for e in etags]
    assert {d[0] for d in decoded} == {objid}  # same row, new version each time
    assert [d[1] for d in decoded] == sorted({d[1] for d in decoded})
    assert ifs.call("GET", path).json()["@odata.etag"] == etags[-1]


def test_if_match_mismatch_412_star_and_strict_missing(ifs: Ifs) -> None:
    first = ifs.create_customer("IM-1")["@odata.etag"]
    path = f"{CUST}/CustomerInfoSet(CustomerId='IM-1')"
    second = ifs.call("PATCH", path, json_body={"Name": "B"}, headers={"If-Match": first})
    assert second.status_code == 200
    stale = ifs.call("PATCH", path, json_body={"Name": "C"}, headers={"If-Match": first})
    assert_odata_error(stale, 412)
    missing = ifs.call("PATCH", path, json_body={"Name": "D"})
    assert_odata_error(missing, 400, "ODP_MISSING_PRECONDITION")
    assert_odata_error(ifs.call("DELETE", path), 400, "ODP_MISSING_PRECONDITION")
    assert ifs.sim.customers()[0]["Name"] == "B"
    star = ifs.call("PATCH", path, json_body={"Name": "E"}, headers={"If-Match": "*"})
    assert star.status_code == 200 and star.json()["Name"] == "E"
    # PATCH needs JSON too
    assert_odata_error(
        ifs.call("PATCH", path, data="Name=F", headers={"If-Match": "*"}),
        400,
        "ODP_DESERIALIZATION_ERROR",
    )
    assert_odata_error(
        ifs.call("PATCH", path, json_body={"CustomerId": "OTHER"}, headers={"If-Match": "*"}), 400
    )
    gone = ifs.call("DELETE", path, headers={"If-Match": star.json()["@odata.etag"]})
    assert gone.status_code == 204
    assert ifs.sim.customers() == []


def test_upsert_mode_when_not_strict(ifs: Ifs) -> None:
    etag = ifs.create_customer("UP-1")["@odata.etag"]
    assert ifs.admin("POST", "/ifs/config", {"strict_if_match": False}).status_code == 200
    path = f"{CUST}/CustomerInfoSet(CustomerId='UP-1')"
    updated = ifs.call("PATCH", path, json_body={"Name": "No precondition"})
    assert updated.status_code == 200 and updated.json()["Name"] == "No precondition"
    created = ifs.call(
        "PATCH",
        f"{CUST}/CustomerInfoSet(CustomerId='UP-2')",
        json_body={"Name": "Upserted", "Country": "FI"},
    )
    assert created.status_code == 201 and created.json()["CustomerId"] == "UP-2"
    assert {c["CustomerId"] for c in ifs.sim.customers()} == {"UP-1", "UP-2"}
    # an If-Match that is sent is still checked
    assert_odata_error(
        ifs.call("PATCH", path, json_body={"Name": "x"}, headers={"If-Match": etag}), 412
    )


def test_etag_churn_switch_makes_patch_fail_with_412(ifs: Ifs) -> None:
    etag = ifs.create_customer("CH-1")["@odata.etag"]
    path = f"{CUST}/CustomerInfoSet(CustomerId='CH-1')"
    ifs.admin("POST", "/ifs/config", {"etag_churn_ratio": 1.0})
    conflict = ifs.call("PATCH", path, json_body={"Name": "mine"}, headers={"If-Match": etag})
    assert_odata_error(conflict, 412)
    reread = ifs.call("GET", path).json()
    assert reread["@odata.etag"] != etag and reread["Name"] == "Customer CH-1"
    ifs.admin("POST", "/ifs/config", {"etag_churn_ratio": 0.0})
    ok = ifs.call(
        "PATCH", path, json_body={"Name": "mine"}, headers={"If-Match": reread["@odata.etag"]}
    )
    assert ok.status_code == 200
    # the same switch via the common faults endpoint
    ifs.admin("POST", "/faults", {"extra": {"etag_churn_ratio": 1.0}})
    again = ifs.call(
        "PATCH", path, json_body={"Name": "again"}, headers={"If-Match": ok.json()["@odata.etag"]}
    )
    assert_odata_error(again, 412)


def test_admin_touch_simulates_an_edit_in_ifs(ifs: Ifs) -> None:
    etag = ifs.create_customer("TO-1")["@odata.etag"]
    touched = ifs.admin("PATCH", "/ifs/customers/TO-1", {"Name": "Edited in IFS"})
    assert touched.status_code == 200 and touched.json()["@odata.etag"] != etag
    path = f"{CUST}/CustomerInfoSet(CustomerId='TO-1')"
    assert_odata_error(
        ifs.call("PATCH", path, json_body={"Name": "x"}, headers={"If-Match": etag}), 412
    )
    assert ifs.call("GET", path).json()["Name"] == "Edited in IFS"
