"""IFS simulator: query options and server paging (§3)."""

from __future__ import annotations

from tests.sandbox.ifs.support import CUST, ORD, Ifs, assert_odata_error

# ---------------------------------------------------------------------------------------------
# 4. Query options and paging
# ---------------------------------------------------------------------------------------------


def test_filter_orderby_select_top_skip_count(ifs: Ifs) -> None:
    people = [
        ("Q-1", "Anna", "SE"),
        ("Q-2", "Bo", "NO"),
        ("Q-3", "Cia O'Hara", "SE"),
        ("Q-4", "Dan", "DK"),
        ("Q-5", "Anna", "DK"),
    ]
    for cid, name, country in people:
        ifs.create_customer(cid, Name=name, Country=country)

    def ids(params: dict[str, str]) -> list[str]:
        resp = ifs.call("GET", f"{CUST}/CustomerInfoSet", params=params)
        assert resp.status_code == 200, resp.text
        return [row["CustomerId"] for row in resp.json()["value"]]

    assert ids({"$filter": "Country eq 'SE'"}) == ["Q-1", "Q-3"]
    assert ids({"$filter": "Country ne 'SE'"}) == ["Q-2", "Q-4", "Q-5"]
    assert ids({"$filter": "CustomerId gt 'Q-3'"}) == ["Q-4", "Q-5"]
    assert ids({"$filter": "CustomerId ge 'Q-3' and CustomerId le 'Q-4'"}) == ["Q-3", "Q-4"]
    assert ids({"$filter": "CustomerId lt 'Q-2' or Country eq 'NO'"}) == ["Q-1", "Q-2"]
    assert ids({"$filter": "(Country eq 'SE' or Country eq 'DK') and Name eq 'Anna'"}) == [
        "Q-1",
        "Q-5",
    ]
    assert ids({"$filter": "not (Country eq 'SE')"}) == ["Q-2", "Q-4", "Q-5"]
    assert ids({"$filter": "Name eq 'Cia O''Hara'"}) == ["Q-3"]
    assert ids({"$filter": "contains(Name,'O''H')"}) == ["Q-3"]
    assert ids({"$filter": "startswith(Name,'An')"}) == ["Q-1", "Q-5"]
    assert ids({"$filter": "CorporateForm eq null and DefaultDomain eq true"}) == [
        c for c, _, _ in people
    ]
    assert ids({"$filter": "PartyType eq IfsApp.CustomerHandling.PartyType'Customer'"}) == [
        c for c, _, _ in people
    ]
    assert ids({"$orderby": "Name desc,CustomerId asc"}) == ["Q-4", "Q-3", "Q-2", "Q-1", "Q-5"]
    assert ids({"$orderby": "Country,Name desc"}) == ["Q-4", "Q-5", "Q-2", "Q-3", "Q-1"]
    # $top/$skip without $orderby: allowed, insertion order
    assert ids({"$top": "2", "$skip": "1"}) == ["Q-2", "Q-3"]
    assert ids({"$orderby": "CustomerId desc", "$top": "2"}) == ["Q-5", "Q-4"]

    selected = ifs.call(
        "GET", f"{CUST}/CustomerInfoSet", params={"$select": "CustomerId,Name", "$top": "1"}
    ).json()["value"][0]
    assert set(selected) == {"@odata.etag", "luname", "keyref", "Objgrants", "CustomerId", "Name"}
    counted = ifs.call(
        "GET", f"{CUST}/CustomerInfoSet", params={"$filter": "Country eq 'DK'", "$count": "true"}
    ).json()
    assert counted["@odata.count"] == 2
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet/$count").text == "5"

    bad = [
        {"$filter": "Nope eq 1"},
        {"$filter": "Name eq"},
        {"$select": "Nope"},
        {"$orderby": "Name sideways"},
        {"$top": "-1"},
        {"$top": "5001"},
        {"$select": "CommunicationMethods"},
        {"$bogus": "1"},
    ]
    for params in bad:
        resp = ifs.call("GET", f"{CUST}/CustomerInfoSet", params=params)
        assert resp.status_code == 400, params
        assert_odata_error(resp, 400)
    assert ifs.call("GET", f"{CUST}/CustomerInfoSet", params={"$top": "5000"}).status_code == 200
    lam = ifs.call(
        "GET",
        f"{CUST}/CustomerInfoSet",
        params={"$filter": "CommunicationMethods/any(c:c/Value eq 'x')"},
    )
    assert_odata_error(lam, 501, "ODP_NOT_IMPLEMENTED")


def test_expand_collection_is_not_implemented_but_one_to_one_works(ifs: Ifs) -> None:
    ifs.create_customer("EXP-1")
    ifs.create_order("EXP-1")
    assert_odata_error(
        ifs.call("GET", f"{CUST}/CustomerInfoSet", params={"$expand": "CommunicationMethods"}),
        501,
        "ODP_NOT_IMPLEMENTED",
    )
    assert_odata_error(
        ifs.call("GET", f"{ORD}/CustomerOrderSet", params={"$expand": "OrderLinesArray"}),
        501,
        "ODP_NOT_IMPLEMENTED",
    )
    orders = ifs.call("GET", f"{ORD}/CustomerOrderSet", params={"$expand": "CustomerNoRef"})
    assert orders.json()["value"][0]["CustomerNoRef"]["CustomerId"] == "EXP-1"


def test_server_paging_follows_next_link_over_1200_rows(ifs: Ifs) -> None:
    seeded = ifs.admin("POST", "/ifs/customers", {"generate": 1200, "company": "10"})
    assert seeded.status_code == 200 and seeded.json()["count"] == 1200
    ifs.sim.seed_customer({"CustomerId": "ZZ-OTHER", "Company": "20"})  # filtered out below

    url: str | None = ifs.url + f"{CUST}/CustomerInfoSet"
    params: dict[str, str] | None = {
        "$filter": "startswith(CustomerId,'SEED-')",
        "$orderby": "CustomerId desc",
        "$select": "CustomerId",
        "$count": "true",
    }
    pages: list[list[str]] = []
    while url:
        resp = ifs.call("GET", url, params=params)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["@odata.count"] == 1200  # options survive in the nextLink
        pages.append([row["CustomerId"] for row in body["value"]])
        url = body.get("@odata.nextLink")
        if url:
            assert "$skiptoken=" in url and "$filter=" in url
        params = None  # follow the nextLink verbatim
    assert [len(p) for p in pages] == [500, 500, 200]
    flat = [cid for page in pages for cid in page]
    assert len(set(flat)) == 1200 and flat == sorted(flat, reverse=True)

    # $top spans pages; page size is configurable at runtime; Prefer maxpagesize is honoured
    resp = ifs.call("GET", f"{CUST}/CustomerInfoSet", params={"$top": "700"}).json()
    assert len(resp["value"]) == 500
    assert len(ifs.call("GET", resp["@odata.nextLink"]).json()["value"]) == 200
    ifs.admin("POST", "/ifs/config", {"page_size": 1000})
    assert len(ifs.call("GET", f"{CUST}/CustomerInfoSet").json()["value"]) == 1000
    small = ifs.call(
        "GET", f"{CUST}/CustomerInfoSet", headers={"Prefer": "odata.maxpagesize=100"}
    ).json()
    assert len(small["value"]) == 100 and "@odata.nextLink" in small


def test_next_links_on_navigation_paths_are_relative_to_the_service_root(ifs: Ifs) -> None:
    # OData JSON Format §4.6 / ifs-cloud.md §11: CAP answers relative links on navigation paths.
    ifs.sim.seed_customer({"CustomerId": "NAV-1", "Company": "10",
                           "Emails": ["a@example.org", "b@example.org", "c@example.org"]})
    for n in range(2):
        ifs.sim.seed_customer({"CustomerId": f"NAV-{n + 2}", "Company": "10"})
    ifs.admin("POST", "/ifs/config", {"page_size": 2})
    nav = ifs.call("GET", f"{CUST}/CustomerInfoSet(CustomerId='NAV-1')/CommunicationMethods").json()
    link = nav["@odata.nextLink"]
    assert link.startswith("CustomerInfoSet(CustomerId='NAV-1')/CommunicationMethods?")
    assert "$metadata#" in nav["@odata.context"]
    rest = ifs.call("GET", f"{ifs.url}{CUST}/{link}").json()
    assert len(nav["value"]) + len(rest["value"]) == 3
    top = ifs.call("GET", f"{CUST}/CustomerInfoSet").json()
    assert top["@odata.nextLink"].startswith("http")  # entity sets keep absolute links
    ifs.admin("POST", "/ifs/config", {"relative_next_links": "never"})
    nav = ifs.call("GET", f"{CUST}/CustomerInfoSet(CustomerId='NAV-1')/CommunicationMethods").json()
    assert nav["@odata.nextLink"].startswith("http")
