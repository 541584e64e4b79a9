"""IFS requests per record, by scenario (issue 14): counted from the sandbox IFS request log
(``GET /_sandbox/requests``, docs/sandbox.md), with the load run in this process against the
sandbox over real HTTP, so each count belongs to exactly one record.

Targets: a new customer 1, a new order with a known customer 1, a record seen again unchanged
0, an update nobody else touched 1 (PATCH with the stored ETag), a guest order ≤ 2, a GL
voucher ≤ 3; a record whose earlier attempt's outcome is unknown is looked up first and
adopted, never duplicated.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import delete, select, update

from connector.db import session_scope
from connector.models import PENDING, RecordLink, StagedRecord, Tenant
from connector.pipeline import intents, records
from connector.pipeline.load import load as load_record
from connector.pipeline.records import Incoming
from connector.stores.woocommerce.flow import customer_version, order_version
from tests.integration.bigcommerce_harness import (  # noqa: F401 - fixtures
    LABELS,
    add_bc_source,
    bc_sim_fixture,
    make_bc_tenant,
)
from tests.integration.harness import add_woo_source, make_tenant

pytestmark = pytest.mark.integration

ODATA = "/main/ifsapplications/projection/v1/"


class IfsLog:
    """The sandbox IFS request log through its admin API, OData requests only (the token
    request is cached per tenant and is not a per-record cost)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def clear(self) -> None:
        requests.delete(f"{self.url}/_sandbox/requests", timeout=10).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        r = requests.get(f"{self.url}/_sandbox/requests", params={"path_prefix": ODATA},
                         timeout=10)
        r.raise_for_status()
        return list(r.json()["requests"])

    def cost(self, fn: Any) -> list[dict[str, Any]]:
        """Run ``fn`` and return the OData requests it made."""
        self.clear()
        fn()
        return self.requests()


def _shape(reqs: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in reqs:
        tail = r["path"].removeprefix(ODATA)
        out.append(f"{r['method']} {tail.split('(')[0]}")
    return out


def _stage(tenant: int, source: int, entity: str, external_id: str, version: str,
           payload: dict[str, Any]) -> int:
    """Stage one record version and keep it away from any pump or sweeper of a worker that an
    earlier test of the session started (it is 'in flight' for an hour): this test loads it."""
    with session_scope() as s:
        ids = records.stage(s, tenant_id=tenant, source_id=source, origin="poll",
                            records=[Incoming(entity, external_id, version, payload)])
        assert ids, "already staged"
        s.execute(update(StagedRecord).where(StagedRecord.id.in_(ids))
                  .values(enqueued_at=datetime.now(UTC) + timedelta(hours=1)))
        return ids[0]


def _state(staged_id: int) -> str:
    with session_scope() as s:
        rec = s.get(StagedRecord, staged_id)
        assert rec is not None
        return rec.state


def _load(staged_id: int) -> None:
    result = load_record(staged_id)
    assert result.state == "done", (result, _last_error(staged_id))


def _last_error(staged_id: int) -> str | None:
    with session_scope() as s:
        rec = s.get(StagedRecord, staged_id)
        return rec.last_error if rec is not None else None


def _hide_pending(tenant: int) -> None:
    with session_scope() as s:
        s.execute(update(StagedRecord).where(StagedRecord.tenant_id == tenant,
                                             StagedRecord.state == PENDING)
                  .values(enqueued_at=datetime.now(UTC) + timedelta(hours=1)))


@pytest.fixture
def woo_tenant(clean_db: None, sandbox: dict[str, Any]) -> dict[str, Any]:
    ifs, woo = sandbox["ifs"], sandbox["woo"]
    ifs.seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    woo.seed(customers=3, orders=6, seed=3, guest_ratio=0.0, silent=True)
    tenant = make_tenant(sandbox["ifs_url"])
    source = add_woo_source(tenant, sandbox["woo_url"], interval=3600)
    return {**sandbox, "tenant": tenant, "source": source, "log": IfsLog(sandbox["ifs_url"])}


def _later(p: dict[str, Any]) -> None:
    """Move the store's clock on, so the next change has a newer modification time."""
    requests.post(f"{p['woo_url']}/_sandbox/clock", json={"advance_s": 5},
                  timeout=10).raise_for_status()


def _woo_customer(p: dict[str, Any], customer_id: int) -> int:
    customer = next(c for c in p["woo"].customers() if c["id"] == customer_id)
    return _stage(p["tenant"], p["source"], "customer", str(customer_id),
                  customer_version(customer), customer)


def _woo_order(p: dict[str, Any], order: dict[str, Any]) -> int:
    return _stage(p["tenant"], p["source"], "order", str(order["id"]), order_version(order),
                  order)


def test_woo_customer_and_order_cost_one_request_each(woo_tenant: dict[str, Any]) -> None:
    p, log = woo_tenant, woo_tenant["log"]
    order = next(o for o in p["woo"].orders() if o["customer_id"])
    customer_row = _woo_customer(p, order["customer_id"])
    # A new customer: one change set (customer + addresses + contacts), no lookup before it.
    assert _shape(log.cost(lambda: _load(customer_row))) == ["POST CustomerHandling.svc/$batch"]
    # A new order of a known (linked) customer: one change set, no CustomerOrderSet lookup.
    order_row = _woo_order(p, order)
    assert _shape(log.cost(lambda: _load(order_row))) == [
        "POST CustomerOrderHandling.svc/$batch"]
    assert len([o for o in p["ifs"].orders()
                if o["CustomerPoNo"] == f"W{p['source']}-{order['number']}"]) == 1


def test_new_order_of_a_new_customer_costs_one_request_per_record(
        woo_tenant: dict[str, Any]) -> None:
    p, log = woo_tenant, woo_tenant["log"]
    order = next(o for o in p["woo"].orders() if o["customer_id"])
    _woo_customer(p, order["customer_id"])
    order_row = _woo_order(p, order)
    # The order loads its customer first, in the same task: two records, two requests.
    assert _shape(log.cost(lambda: _load(order_row))) == [
        "POST CustomerHandling.svc/$batch", "POST CustomerOrderHandling.svc/$batch"]


def test_unchanged_record_costs_nothing_and_an_update_one_patch(
        woo_tenant: dict[str, Any]) -> None:
    p, log = woo_tenant, woo_tenant["log"]
    woo = p["woo"]
    order = next(o for o in woo.orders() if o["customer_id"])
    _woo_customer(p, order["customer_id"])
    _load(_woo_order(p, order))
    # Seen again with nothing we own changed (a touch: a new modification time only).
    _later(p)
    touched = woo.mutate_order(order["id"], fire_webhooks=False)
    assert order_version(touched) != order_version(order)
    row = _woo_order(p, touched)
    assert log.cost(lambda: _load(row)) == []
    # A change nobody else made in IFS: one PATCH with the stored ETag, no re-read.
    _later(p)
    changed = woo.mutate_order(order["id"], status="completed", fire_webhooks=False)
    row = _woo_order(p, changed)
    reqs = log.cost(lambda: _load(row))
    assert _shape(reqs) == ["PATCH CustomerOrderHandling.svc/CustomerOrderSet"]
    assert reqs[0]["status"] == 200 and reqs[0]["if_match"] and reqs[0]["if_match"] != "*"


def test_customer_whose_phone_alone_changed_gets_no_patch(woo_tenant: dict[str, Any]) -> None:
    p, log = woo_tenant, woo_tenant["log"]
    woo = p["woo"]
    customer = woo.customers()[0]
    _load(_woo_customer(p, customer["id"]))
    # The phone is not a field the connector owns on the IFS customer (Name, Country, …): the
    # content hash changes, the owned fields do not.
    _later(p)
    billing = dict(customer.get("billing") or {}, phone="+46 70 000 00 01")
    changed = woo.mutate_customer(customer["id"], billing=billing, fire_webhooks=False)
    row = _stage(p["tenant"], p["source"], "customer", str(customer["id"]),
                 customer_version(changed), changed)
    assert log.cost(lambda: _load(row)) == []
    # A change of an owned field still goes out, as one PATCH with the stored ETag.
    _later(p)
    renamed = woo.mutate_customer(customer["id"], first_name="Renamed", fire_webhooks=False)
    row = _stage(p["tenant"], p["source"], "customer", str(customer["id"]),
                 customer_version(renamed), renamed)
    assert _shape(log.cost(lambda: _load(row))) == ["PATCH CustomerHandling.svc/CustomerInfoSet"]


def test_unknown_outcome_is_looked_up_and_adopted_not_duplicated(
        woo_tenant: dict[str, Any]) -> None:
    """A crash between the IFS create and our commit: the intent is there, the link is not.
    The retry looks the order up by CustomerPoNo and adopts it (reads only, no second order)."""
    p, log = woo_tenant, woo_tenant["log"]
    order = next(o for o in p["woo"].orders() if o["customer_id"])
    _load(_woo_customer(p, order["customer_id"]))
    row = _woo_order(p, order)
    _load(row)
    with session_scope() as s:  # the commit that never happened
        s.execute(delete(RecordLink).where(RecordLink.entity == "order"))
        s.execute(update(StagedRecord).where(StagedRecord.id == row).values(state=PENDING))
    intents.begin(p["tenant"], "order", f"W{p['source']}-{order['number']}", {})
    with session_scope() as s:  # the outcome of that attempt is unknown
        from connector.models import WriteIntent

        s.execute(update(WriteIntent).values(ifs_key=None, completed_at=None))
    shape = _shape(log.cost(lambda: _load(row)))
    assert shape[0] == "GET CustomerOrderHandling.svc/CustomerOrderSet"
    assert all(r.startswith("GET ") for r in shape), shape  # adopted, nothing written
    po = f"W{p['source']}-{order['number']}"
    assert len([o for o in p["ifs"].orders() if o["CustomerPoNo"] == po]) == 1


def test_adopt_existing_setting_looks_up_hand_keyed_records(woo_tenant: dict[str, Any]) -> None:
    """Over history keyed into IFS by hand, a tenant keeps the lookup before every create."""
    p, log = woo_tenant, woo_tenant["log"]
    customer = p["woo"].customers()[0]
    cid = f"W{p['source']}-{customer['id']}"
    p["ifs"].seed_customer({"CustomerId": cid, "Name": "Keyed by hand", "Company": "10"})
    with session_scope() as s:
        tenant = s.get(Tenant, p["tenant"])
        assert tenant is not None
        tenant.settings = {**tenant.settings, intents.ADOPT_SETTING: True}
    row = _woo_customer(p, customer["id"])
    shape = _shape(log.cost(lambda: _load(row)))
    assert shape[0] == "GET CustomerHandling.svc/CustomerInfoSet"
    assert "POST CustomerHandling.svc/$batch" not in shape
    assert len([c for c in p["ifs"].customers() if c["CustomerId"] == cid]) == 1


# --- BigCommerce: guests and vouchers -------------------------------------------------------

LINES = [{"sku": "SKU-0101", "name": "Linen apron", "quantity": 2, "price": "12.50"}]


def _buyer(email: str) -> dict[str, Any]:
    return {"first_name": "Rosa", "last_name": "Lind", "street_1": "Storgatan 1",
            "city": "Uppsala", "zip": "75320", "country": "Sweden", "country_iso2": "SE",
            "email": email}


@pytest.fixture
def bc_tenant(clean_db: None, sandbox: dict[str, Any],
              bc_sim: tuple[Any, str]) -> dict[str, Any]:
    bc, bc_url = bc_sim
    requests.post(f"{bc_url}/_sandbox/reset", timeout=10).raise_for_status()
    tenant = make_bc_tenant(sandbox["ifs_url"], policy="create", labels=LABELS)
    source = add_bc_source(tenant, bc_url)
    return {**sandbox, "bc": bc, "tenant": tenant, "source": source,
            "log": IfsLog(sandbox["ifs_url"])}


def _fetch_bc_order(p: dict[str, Any], order_id: int) -> list[int]:
    """Stage the order with its events (the webhook path), oldest first."""
    from connector.pipeline.webhooks import fetch_resource

    fetch_resource(p["source"], "order", str(order_id), "webhook")
    _hide_pending(p["tenant"])
    with session_scope() as s:
        return list(s.scalars(select(StagedRecord.id).where(
            StagedRecord.tenant_id == p["tenant"], StagedRecord.state == PENDING)
            .order_by(StagedRecord.id)))


def _entity(staged_id: int) -> str:
    with session_scope() as s:
        rec = s.get(StagedRecord, staged_id)
        assert rec is not None
        return rec.entity


def test_guest_orders_cost_at_most_two_requests(bc_tenant: dict[str, Any]) -> None:
    p, log, bc = bc_tenant, bc_tenant["log"], bc_tenant["bc"]
    first = bc.create_order(lines=LINES, billing_address=_buyer("guest@example.org"))
    order_rows = [i for i in _fetch_bc_order(p, first["id"]) if _entity(i) == "order"]
    # A new buyer created inline: the customer change set and the order change set.
    assert _shape(log.cost(lambda: _load(order_rows[0]))) == [
        "POST CustomerHandling.svc/$batch", "POST CustomerOrderHandling.svc/$batch"]
    # The same buyer again: the e-mail index knows the customer, so only the order.
    again = bc.create_order(lines=LINES, billing_address=_buyer("guest@example.org"))
    rows = [i for i in _fetch_bc_order(p, again["id"]) if _entity(i) == "order"]
    assert _shape(log.cost(lambda: _load(rows[0]))) == ["POST CustomerOrderHandling.svc/$batch"]
    assert len([c for c in p["ifs"].customers() if c["Name"] == "Rosa Lind"]) == 1


def test_vouchers_cost_at_most_three_requests(bc_tenant: dict[str, Any]) -> None:
    p, log, bc, ifs = bc_tenant, bc_tenant["log"], bc_tenant["bc"], bc_tenant["ifs"]
    order = bc.create_order(lines=LINES, billing_address=_buyer("rosa@example.org"), paid=True)
    for row in _fetch_bc_order(p, order["id"]):
        _load(row)
    bc.ship_order(order["id"])
    bc.refund_order(order["id"], amount="5.00", reason="damaged")
    events = [i for i in _fetch_bc_order(p, order["id"]) if _entity(i) in ("shipment", "refund")]
    assert [_entity(i) for i in events] == ["shipment", "refund"]
    costs = {}
    for row in events:
        costs[_entity(row)] = _shape(log.cost(lambda row=row: _load(row)))
    # One change set (header, rows, CreateVoucher) and one PATCH of the order label with the
    # ETag stored on the order's link: no voucher-text lookup, no order re-read.
    for entity, shape in costs.items():
        assert shape == ["POST VoucherEntryAssistantHandling.svc/$batch",
                         "PATCH CustomerOrderHandling.svc/CustomerOrderSet"], (entity, shape)
    assert len(ifs.vouchers()) == 2 + len([v for v in ifs.vouchers()
                                           if ":payment:" in v["VoucherText2"]])
    assert ifs.temp_vouchers() == []
    po = f"B{p['source']}-{order['id']}"
    assert [o["LabelNote"] for o in ifs.orders() if o["CustomerPoNo"] == po] == ["bc:refunded"]


def test_a_load_deferred_by_the_budget_costs_no_lookup_when_it_runs(
        woo_tenant: dict[str, Any]) -> None:
    """A load that finds the tenant's IFS budget spent defers before its first request. Its
    write intent must not be left behind as an attempt of unknown outcome: when it runs, it
    creates without a lookup (seen with 2 and 4 workers, where every budget deferral cost a
    `GET CustomerOrderSet`). The customer deferred inside the order's load is the same case."""
    from connector.errors import RateLimited
    from connector.pipeline.targets import fleet_budget

    p, log = woo_tenant, woo_tenant["log"]
    order = next(o for o in p["woo"].orders() if o["customer_id"])
    _woo_customer(p, order["customer_id"])
    order_row = _woo_order(p, order)
    with session_scope() as s:
        tenant = s.get(Tenant, p["tenant"])
        assert tenant is not None
        tenant.ifs_settings = {**tenant.ifs_settings, "budget_per_min": 6}
    budget = fleet_budget(f"ifs:tenant-{p['tenant']}", 6)
    budget.reset()
    while budget.try_acquire() == 0:  # spend this minute's budget
        pass
    log.clear()
    with pytest.raises(RateLimited):
        load_record(order_row)
    assert log.requests() == []
    with session_scope() as s:
        tenant = s.get(Tenant, p["tenant"])
        assert tenant is not None
        tenant.ifs_settings = {**tenant.ifs_settings, "budget_per_min": 20_000}
    budget.reset()
    assert _shape(log.cost(lambda: _load(order_row))) == [
        "POST CustomerHandling.svc/$batch", "POST CustomerOrderHandling.svc/$batch"]
