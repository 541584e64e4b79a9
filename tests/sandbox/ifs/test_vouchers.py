"""IFS simulator: the GL voucher wizard and its read side (§6)."""

from __future__ import annotations

from typing import Any

from tests.sandbox.ifs.support import (
    CREATE_VOUCHER,
    REMOVE_VOUCHER,
    VEA,
    VRA,
    Ifs,
    assert_odata_error,
)

# ---------------------------------------------------------------------------------------------
# 9. GL voucher wizard and read side
# ---------------------------------------------------------------------------------------------


def _voucher_draft(ifs: Ifs, rows: list[dict[str, Any]], **header: Any) -> str:
    body = {
        "Company": "20",
        "VoucherType": "M",
        "VoucherDate": "2025-03-14",
        "VoucherText2": "bc:txn-88412",
        **header,
    }
    resp = ifs.call("POST", f"{VEA}/VoucherSet", json_body=body)
    assert resp.status_code == 201, resp.text
    objkey = str(resp.json()["Objkey"])
    for row in rows:
        posted = ifs.call(
            "POST", f"{VEA}/VoucherSet(Objkey='{objkey}')/VoucherPostingArray", json_body=row
        )
        assert posted.status_code == 201, posted.text
    return objkey


def test_voucher_wizard_creates_balanced_voucher_and_read_side_finds_it(ifs: Ifs) -> None:
    objkey = _voucher_draft(
        ifs,
        [
            {"Account": "1930", "DebetAmount": 84.5, "CodeB": "100", "Text": "payment"},
            {"Account": "3010", "CreditAmount": 60.25},
            {"Account": "2611", "CreditAmount": 24.25, "OptionalCode": "VAT25"},
        ],
        CurrencyCode="USD",
    )
    created = ifs.call(
        "POST", f"{VEA}/VoucherSet(Objkey='{objkey}')/{CREATE_VOUCHER}", json_body={}
    )
    assert created.status_code == 200, created.text
    voucher_no = created.json()["value"]
    assert isinstance(voucher_no, int) and voucher_no == 25000001
    assert ifs.sim.temp_vouchers() == []
    vouchers = ifs.sim.vouchers("20")
    assert len(vouchers) == 1 and vouchers[0]["VoucherNo"] == voucher_no
    assert [r["Account"] for r in vouchers[0]["Rows"]] == ["1930", "3010", "2611"]
    assert ifs.sim.vouchers("10") == []

    rows = ifs.call(
        "GET",
        f"{VRA}/VoucherRowSet",
        params={"$filter": "VoucherText2 eq 'bc:txn-88412'", "$orderby": "RowNo"},
    ).json()["value"]
    assert [(r["RowNo"], r["Account"], r["DebetAmount"], r["CreditAmount"]) for r in rows] == [
        (1, "1930", 84.5, None),
        (2, "3010", None, 60.25),
        (3, "2611", None, 24.25),
    ]
    assert all(r["VoucherNo"] == voucher_no and r["Company"] == "20" for r in rows)
    assert rows[0]["CodeB"] == "100" and rows[0]["CurrencyCode"] == "USD"
    assert rows[0]["luname"] == "VoucherRow" and rows[0]["@odata.etag"].startswith('W/"')
    contains = ifs.call(
        "GET",
        f"{VRA}/VoucherRowSet",
        params={
            "$filter": "contains(VoucherText2,'88412') and Company eq '20' and VoucherNo eq "
            f"{voucher_no}"
        },
    ).json()["value"]
    assert len(contains) == 3
    assert (
        ifs.call(
            "GET", f"{VRA}/VoucherRowSet", params={"$filter": "VoucherText2 eq 'bc:other'"}
        ).json()["value"]
        == []
    )
    # second voucher of the same type and year gets the next number
    second = _voucher_draft(
        ifs, [{"Account": "1", "DebetAmount": 1}, {"Account": "2", "CreditAmount": 1}]
    )
    nxt = ifs.call("POST", f"{VEA}/VoucherSet(Objkey='{second}')/{CREATE_VOUCHER}", json_body={})
    assert nxt.json()["value"] == 25000002
    assert ifs.call("POST", f"{VRA}/VoucherRowSet", json_body={}).status_code == 405


def test_voucher_wizard_rejects_unbalanced_and_incomplete_and_removes_temp(ifs: Ifs) -> None:
    objkey = _voucher_draft(
        ifs, [{"Account": "1930", "DebetAmount": 100}, {"Account": "3010", "CreditAmount": 90}]
    )
    action = f"{VEA}/VoucherSet(Objkey='{objkey}')"
    unbalanced = ifs.call("POST", f"{action}/{CREATE_VOUCHER}", json_body={})
    assert_odata_error(unbalanced, 500, "DATABASE_ERROR", "VOUCHER_NOT_BALANCED")
    assert ifs.sim.vouchers() == [] and len(ifs.sim.temp_vouchers()) == 1
    removed = ifs.call("POST", f"{action}/{REMOVE_VOUCHER}", json_body={})
    assert removed.status_code == 204
    assert ifs.sim.temp_vouchers() == []
    assert_odata_error(ifs.call("POST", f"{action}/{CREATE_VOUCHER}", json_body={}), 404)

    no_type = _voucher_draft(
        ifs,
        [{"Account": "1", "DebetAmount": 5}, {"Account": "2", "CreditAmount": 5}],
        VoucherType=None,
    )
    assert_odata_error(
        ifs.call("POST", f"{VEA}/VoucherSet(Objkey='{no_type}')/{CREATE_VOUCHER}", json_body={}),
        500,
        detail="MANDATORY",
    )
    no_account = _voucher_draft(ifs, [{"DebetAmount": 5}, {"Account": "2", "CreditAmount": 5}])
    assert_odata_error(
        ifs.call("POST", f"{VEA}/VoucherSet(Objkey='{no_account}')/{CREATE_VOUCHER}", json_body={}),
        500,
        detail="ACCOUNT_MISSING",
    )
    no_rows = _voucher_draft(ifs, [])
    assert_odata_error(
        ifs.call("POST", f"{VEA}/VoucherSet(Objkey='{no_rows}')/{CREATE_VOUCHER}", json_body={}),
        500,
        detail="NO_VOUCHER_ROWS",
    )
    forbidden = ifs.call(
        "POST",
        f"{VEA}/VoucherSet",
        json_body={"Company": "30", "VoucherType": "M"},
    )
    assert_odata_error(forbidden, 403)
    assert ifs.call("GET", f"{action}/{CREATE_VOUCHER}").status_code in (404, 405)
    assert ifs.sim.vouchers() == []
