"""WooCommerce simulator: paging headers, filters and sorting (§4) and the moving-records
paging bug of Decision 2.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import requests

from sandbox.woocommerce import DEFAULT_KEY_OWNER
from tests.sandbox.woocommerce.support import CK, CS, Shop, all_orders, assert_error

# ============================================================================ §4 paging


def test_paging_headers_links_and_limits(seeded: Shop) -> None:
    r = seeded.get("/orders")
    assert len(r.json()) == 10  # default per_page
    assert r.headers["X-WP-Total"] == "40" and r.headers["X-WP-TotalPages"] == "4"
    assert set(r.links) == {"next"}
    r = seeded.get(
        "/orders",
        params={
            "per_page": 15,
            "page": 2,
            "status": "any",
            "consumer_key": CK,
            "consumer_secret": CS,
        },
    )
    assert r.headers["X-WP-TotalPages"] == "3"
    assert set(r.links) == {"prev", "next"}  # never first/last
    nxt = r.links["next"]["url"]
    assert (
        "status=any" in nxt
        and "per_page=15" in nxt
        and f"consumer_key={CK}" in nxt
        and "page=3" in nxt
    )
    assert "page=1" in r.links["prev"]["url"]
    followed = requests.get(nxt)  # the link carries the query credentials: followable as is
    assert (
        followed.status_code == 200
        and set(followed.links) == {"prev"}
        and len(followed.json()) == 10
    )
    r = seeded.get("/orders", params={"page": 99})
    assert r.status_code == 200 and r.json() == [] and r.headers["X-WP-Total"] == "40"
    by_offset = seeded.get(
        "/orders", params={"offset": 35, "per_page": 10, "orderby": "id", "order": "asc"}
    )
    all_ids = [
        o["id"]
        for o in seeded.get(
            "/orders", params={"per_page": 100, "orderby": "id", "order": "asc"}
        ).json()
    ]
    assert [o["id"] for o in by_offset.json()] == all_ids[35:]
    r = seeded.get("/orders", params={"per_page": 101})
    assert_error(r, 400, "rest_invalid_param")
    assert "per_page" in r.json()["data"]["params"]
    assert_error(seeded.get("/orders", params={"per_page": 0}), 400, "rest_invalid_param")
    assert_error(seeded.get("/orders", params={"orderby": "total"}), 400, "rest_invalid_param")
    assert_error(
        seeded.get("/orders", params={"modified_after": "yesterday"}), 400, "rest_invalid_param"
    )
    # Plain permalinks reach the same API.
    r = seeded.session.get(seeded.url + "/", params={"rest_route": "/wc/v3/orders", "per_page": 3})
    assert r.status_code == 200 and len(r.json()) == 3


def test_date_filters_time_zone_and_exclusive_bounds(seeded: Shop) -> None:
    orders = seeded.sim.orders()
    target = orders[len(orders) // 2]
    gmt = datetime.fromisoformat(target["date_modified_gmt"])
    local = datetime.fromisoformat(target["date_modified"])
    second = timedelta(seconds=1)

    def ids(**params: Any) -> set[int]:
        return {o["id"] for o in all_orders(seeded, **params)}

    expected_after = {
        o["id"]
        for o in orders
        if datetime.fromisoformat(o["date_modified_gmt"]) > gmt and o["status"] != "trash"
    }
    assert ids(modified_after=gmt.isoformat(), dates_are_gmt="true") == expected_after  # exclusive
    assert target["id"] in ids(modified_after=(gmt - second).isoformat(), dates_are_gmt="true")
    assert target["id"] not in ids(modified_before=gmt.isoformat(), dates_are_gmt="true")
    # Default: the value is site-local. The same naive UTC value reads one hour too early.
    assert ids(modified_after=local.isoformat()) == expected_after
    read_as_local = ids(modified_after=gmt.isoformat())
    assert read_as_local >= expected_after and target["id"] in read_as_local
    # An explicit offset or Z is ignored: "Z" does not make the value UTC.
    assert ids(modified_after=gmt.isoformat() + "Z") == ids(modified_after=gmt.isoformat())
    assert ids(modified_after=local.isoformat() + "+05:00") == expected_after
    created = datetime.fromisoformat(target["date_created_gmt"])
    expected_created = {
        o["id"] for o in orders if datetime.fromisoformat(o["date_created_gmt"]) > created
    }
    assert ids(after=created.isoformat(), dates_are_gmt="true") == expected_created
    assert target["id"] not in ids(before=created.isoformat(), dates_are_gmt="true")


def test_order_sorting_status_and_other_filters(seeded: Shop) -> None:
    made = [
        seeded.post("/orders", json={"line_items": [{"sku": "SKU-0002"}]}).json()["id"]
        for _ in range(3)
    ]
    newest = seeded.get("/orders", params={"per_page": 3}).json()
    assert [o["id"] for o in newest] == sorted(made, reverse=True)
    # Force a tie (same second) on both dates: the sorts break it on the id, same direction.
    with seeded.sim.state.lock:
        tie = seeded.sim.state.orders[made[0]].created
        for oid in made:
            seeded.sim.state.orders[oid].created = seeded.sim.state.orders[oid].modified = tie
        seeded.sim.state.bump()
    newest = seeded.get("/orders", params={"per_page": 3}).json()
    assert [o["id"] for o in newest] == sorted(made, reverse=True)
    latest = seeded.get("/orders", params={"per_page": 3, "orderby": "modified"}).json()
    assert [o["id"] for o in latest] == sorted(made, reverse=True)
    oldest_first = all_orders(seeded, orderby="date", order="asc")
    keys = [(o["date_created_gmt"], o["id"]) for o in oldest_first]
    assert keys == sorted(keys)
    by_modified = all_orders(seeded, orderby="modified", order="asc")
    keys = [(o["date_modified_gmt"], o["id"]) for o in by_modified]
    assert keys == sorted(keys)
    by_id = seeded.get("/orders", params={"orderby": "id", "per_page": 100}).json()
    assert [o["id"] for o in by_id] == sorted((o["id"] for o in by_id), reverse=True)

    victim = made[0]
    assert seeded.delete(f"/orders/{victim}").json()["status"] == "trash"
    assert victim not in {o["id"] for o in all_orders(seeded)}  # any excludes trash
    assert [o["id"] for o in all_orders(seeded, status="trash")] == [victim]
    assert_error(seeded.delete(f"/orders/{victim}"), 410, "woocommerce_rest_already_trashed")
    two = all_orders(seeded, status="completed,refunded")
    assert two and {o["status"] for o in two} <= {"completed", "refunded"}
    customer = next(o["customer_id"] for o in seeded.sim.orders() if o["customer_id"])
    mine = all_orders(seeded, customer=customer)
    assert mine and {o["customer_id"] for o in mine} == {customer}
    some = [o["id"] for o in seeded.sim.orders()[:3]]
    assert {o["id"] for o in all_orders(seeded, include=",".join(map(str, some)))} == set(some)
    assert not set(some) & {o["id"] for o in all_orders(seeded, exclude=",".join(map(str, some)))}
    in_order = seeded.get(
        "/orders", params={"include": f"{some[2]},{some[0]},{some[1]}", "orderby": "include"}
    )
    assert [o["id"] for o in in_order.json()] == [some[2], some[0], some[1]]
    name = seeded.sim.orders()[0]["billing"]["last_name"]
    found = all_orders(seeded, search=name.lower())
    assert found and all(name in json.dumps(o, ensure_ascii=False) for o in found)


def test_customer_filters_have_no_dates(seeded: Shop) -> None:
    default = seeded.get("/customers", params={"per_page": 100}).json()
    assert {c["role"] for c in default} == {"customer"} and len(default) == 12
    names = [(f"{c['first_name']} {c['last_name']}".lower(), c["id"]) for c in default]
    assert names == sorted(names)  # orderby=name, order=asc by default
    everyone = seeded.get(
        "/customers", params={"per_page": 100, "role": "all", "orderby": "id"}
    ).json()
    assert DEFAULT_KEY_OWNER in {c["username"] for c in everyone}
    assert [c["id"] for c in everyone] == sorted(c["id"] for c in everyone)
    # modified_after is silently ignored: same answer as without it.
    future = (datetime.now() + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%S")
    assert (
        seeded.get("/customers", params={"per_page": 100, "modified_after": future}).json()
        == default
    )
    email = default[3]["email"]
    assert [c["email"] for c in seeded.get("/customers", params={"email": email}).json()] == [email]
    assert_error(seeded.get("/customers", params={"role": "wizard"}), 400, "rest_invalid_param")
    r = seeded.get("/customers", params={"per_page": 5, "page": 2})
    assert r.headers["X-WP-Total"] == "12" and set(r.links) == {"prev", "next"}


# ====================================================================== Decision 2: moving records


def test_offset_paging_skips_moving_orders_but_keyset_requery_misses_nothing(shop: Shop) -> None:
    shop.sim.seed(customers=10, orders=60, seed=3)
    all_ids = {o["id"] for o in shop.sim.orders()}
    base = {"orderby": "modified", "order": "asc", "dates_are_gmt": "true", "per_page": 10}

    # Naive: offset paging while two random orders change after every request.
    r = shop.admin("POST", "/woo/mutating", json={"every_n_requests": 1, "count": 2, "seed": 11})
    assert r.json()["active"]
    naive: list[int] = []
    page = 1
    while True:
        rows = shop.get("/orders", params={**base, "page": page}).json()
        naive.extend(o["id"] for o in rows)
        if len(rows) < 10:
            break
        page += 1
    assert shop.admin("GET", "/woo/mutating").json()["done"] > 0
    skipped = all_ids - set(naive)
    assert skipped, "offset paging over a moving set must lose rows"
    assert len(naive) > len(set(naive))  # the moved rows come round again at the end

    # Keyset: re-query from the last seen date_modified_gmt minus an overlap, dedupe on
    # (id, date_modified_gmt); page numbers only while a full page shares the window.
    shop.admin(
        "POST", "/woo/mutating", json={"every_n_requests": 1, "count": 2, "seed": 11, "limit": 30}
    )
    seen: set[tuple[int, str]] = set()
    watermark = "1970-01-01T00:00:00"
    overlap = timedelta(seconds=1)

    def poll() -> None:
        nonlocal watermark
        page = 1
        for _ in range(500):
            since = (datetime.fromisoformat(watermark) - overlap).isoformat()
            rows = shop.get(
                "/orders", params={**base, "modified_after": since, "page": page}
            ).json()
            new = {(o["id"], o["date_modified_gmt"]) for o in rows} - seen
            seen.update(new)
            if len(rows) < 10 and not new:
                return
            top = max((o["date_modified_gmt"] for o in rows), default=watermark)
            if top > watermark:
                watermark, page = top, 1
            else:
                page += 1
        raise AssertionError("keyset polling did not settle")

    poll()
    assert {i for i, _ in seen} == all_ids  # no order missed, even while they moved
    shop.admin("DELETE", "/woo/mutating")
    poll()  # the next poll cycle picks up whatever changed during the last request
    current = {(o["id"], o["date_modified_gmt"]) for o in shop.sim.orders()}
    assert current <= seen


def test_mutate_order_bumps_date_modified_and_can_be_silent(seeded: Shop) -> None:
    order = seeded.sim.orders()[0]
    seeded.sim.state.clock.advance(3600)
    after = seeded.sim.mutate_order(order["id"], status="completed")
    assert (
        after["date_modified_gmt"] > order["date_modified_gmt"] and after["status"] == "completed"
    )
    r = seeded.admin(
        "POST",
        f"/woo/orders/{order['id']}/mutate",
        json={"customer_note": "x", "bump_modified": False},
    )
    assert r.status_code == 200
    same = seeded.get(f"/orders/{order['id']}").json()
    assert same["customer_note"] == "x" and same["date_modified_gmt"] == after["date_modified_gmt"]
