"""BigCommerce → IFS end to end: the simulator delivers signed webhooks over real HTTP to a real
``web`` process; a real worker and beat load orders and GL vouchers into the IFS simulator."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from connector.cli import cli
from connector.db import session_scope
from connector.models import Alert, CustomerIndex, StagedRecord, WebhookDelivery
from tests.integration.bigcommerce_harness import (  # noqa: F401 - fixtures
    POSTING_RULES,
    add_bc_source,
    bc_pipeline_fixture,
    bc_sim_fixture,
    delivery,
    hook_secret,
    hook_url,
    make_bc_tenant,
    order_fetches,
    post,
    wait_for,
    web_fixture,
)
from tests.integration.harness import settled, states, sync_and_settle

pytestmark = pytest.mark.integration

LINES = [{"sku": "SKU-0101", "name": "Linen apron", "quantity": 2, "price": "12.50"},
         {"sku": "SKU-0102", "name": "Oak board", "quantity": 1, "price": "7.00"}]


def _cli(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _sync_hooks(p: dict[str, Any], tenant: str = "acme", source: str = "bc") -> str:
    return _cli("bigcommerce", "hooks", "sync", "--tenant", tenant, "--source", source,
                "--destination", hook_url(p["web"], tenant, source))


def _vouchers(ifs: Any) -> dict[str, dict[str, Any]]:
    return {v["VoucherText2"]: v for v in ifs.vouchers()}


def _assert_balanced(voucher: dict[str, Any], amount: Decimal, currency: str) -> None:
    debit = sum(Decimal(str(r.get("DebetAmount") or 0)) for r in voucher["Rows"])
    credit = sum(Decimal(str(r.get("CreditAmount") or 0)) for r in voucher["Rows"])
    assert debit == credit == amount, (voucher["VoucherText2"], debit, credit, amount)
    assert voucher["CurrencyCode"] == currency


def _order(ifs: Any, po: str) -> dict[str, Any] | None:
    found = [o for o in ifs.orders() if o["CustomerPoNo"] == po]
    assert len(found) <= 1, found
    return found[0] if found else None


def _staged(tenant: int, **where: Any) -> list[StagedRecord]:
    with session_scope() as s:
        q = select(StagedRecord).where(StagedRecord.tenant_id == tenant)
        for name, value in where.items():
            q = q.where(getattr(StagedRecord, name) == value)
        rows = list(s.scalars(q.order_by(StagedRecord.id)))
        s.expunge_all()
        return rows


def _count(model: Any, **where: Any) -> int:
    with session_scope() as s:
        q = select(func.count()).select_from(model)
        for name, value in where.items():
            q = q.where(getattr(model, name) == value)
        return int(s.scalar(q) or 0)


def _buyer(email: str) -> dict[str, Any]:
    return {"first_name": "Rosa", "last_name": "Lind", "street_1": "Storgatan 1",
            "city": "Uppsala", "zip": "75320", "country": "Sweden", "country_iso2": "SE",
            "email": email}


def test_webhooks_deliver_the_order_and_one_balanced_voucher_per_event(
        bc_pipeline: dict[str, Any]) -> None:
    p = bc_pipeline
    bc, ifs = p["bc"], p["ifs"]
    tenant = make_bc_tenant(p["ifs_url"], policy="create")
    source = add_bc_source(tenant, p["bc_url"])
    first = _sync_hooks(p)
    assert "created store/order/*, store/shipment/*, store/customer/*" in first
    assert "ok store/order/*, store/shipment/*, store/customer/*" in _sync_hooks(p)  # no dupes
    hooks = bc.webhooks.find(None)
    assert len(hooks) == 3 and all(h.headers == {"x-mlc-hook-secret": hook_secret(source)}
                                   for h in hooks)
    listed = json.loads(_cli("bigcommerce", "hooks", "list", "--tenant", "acme", "--source",
                             "bc", "--json"))
    assert len(listed) == 3 and not any("headers" in h for h in listed)  # the secret stays
    unset = CliRunner().invoke(cli, ["bigcommerce", "hooks", "sync", "--tenant", "acme",
                                     "--source", "bc"])
    assert unset.exit_code == 2 and "MLC_PUBLIC_URL is not set" in unset.output

    # Displayed in USD, transacted in EUR: every amount in IFS must be EUR (bc §2).
    order = bc.create_order(lines=LINES, billing_address=_buyer("rosa@example.org"),
                            currency_code="USD", default_currency_code="EUR",
                            shipping_cost="4.00", tax_rate="0.25", paid=True,
                            customer_message="leave at the door")
    oid = order["id"]
    po = f"B{source}-{oid}"
    wait_for(lambda: _order(ifs, po), "the IFS order")
    shipment = bc.ship_order(oid)
    refund = bc.refund_order(oid, amount="10.00", reason="damaged")
    txn = bc.store.order(oid).transactions[0]
    texts = {f"bc:sbx1:payment:{txn.id}", f"bc:sbx1:shipment:{shipment['id']}",
             f"bc:sbx1:refund:{refund['id']}"}
    wait_for(lambda: set(_vouchers(ifs)) == texts, "three vouchers")
    bc.flush_webhooks()
    wait_for(lambda: settled(tenant) and (_order(ifs, po) or {}).get("LabelNote")
             == "bc:refunded", "the pipeline to settle")

    vouchers = _vouchers(ifs)
    assert len(ifs.vouchers()) == 3  # exactly one per store event
    _assert_balanced(vouchers[f"bc:sbx1:payment:{txn.id}"], Decimal(order["total_inc_tax"]),
                     "EUR")
    _assert_balanced(vouchers[f"bc:sbx1:shipment:{shipment['id']}"], Decimal("32.00"), "EUR")
    _assert_balanced(vouchers[f"bc:sbx1:refund:{refund['id']}"], Decimal("10.00"), "EUR")
    payment_rows = vouchers[f"bc:sbx1:payment:{txn.id}"]["Rows"]
    assert {r["Account"] for r in payment_rows} == {"1930", "2990"}
    assert all(r["CodeB"] == "100" for r in payment_rows)
    assert ifs.temp_vouchers() == []

    ifs_order = _order(ifs, po)
    assert ifs_order is not None
    assert ifs_order["CurrencyCode"] == "EUR"
    assert ifs_order["NoteText"] == "leave at the door"
    assert ifs_order["LabelNote"] == "bc:refunded"  # set with If-Match by the refund voucher
    lines = ifs.order_lines(ifs_order["OrderNo"])
    net = sum(Decimal(str(x["BuyQtyDue"])) * Decimal(str(x["SaleUnitPrice"])) for x in lines)
    net += sum(Decimal(str(c["ChargeAmount"])) for c in ifs_order["Charges"])
    assert net == Decimal(bc.store.order(oid).totals()["total_ex_tax"])
    customers = [c for c in ifs.customers() if c["CustomerId"] == ifs_order["CustomerNo"]]
    assert len(customers) == 1 and customers[0]["Name"] == "Rosa Lind"

    rows = _staged(tenant)
    assert {r.entity for r in rows} == {"order", "payment", "shipment", "refund"}
    assert {r.origin for r in rows} == {"webhook"}
    assert set(states(tenant)) <= {"done", "superseded"}, states(tenant)
    patches = [r for r in ifs.state.requests if r["method"] == "PATCH"]
    assert patches and all(r["if_match"] for r in patches)


def test_duplicate_and_replayed_deliveries_are_noops(bc_pipeline: dict[str, Any]) -> None:
    p = bc_pipeline
    bc, ifs = p["bc"], p["ifs"]
    tenant = make_bc_tenant(p["ifs_url"], policy="create")
    source = add_bc_source(tenant, p["bc_url"])
    _sync_hooks(p)
    bc.set_webhook_mode("off")  # this test delivers by hand
    order = bc.create_order(lines=LINES[:1], billing_address=_buyer("dup@example.org"),
                            default_currency_code="EUR")
    oid = order["id"]
    url = hook_url(p["web"])
    from sandbox.bigcommerce import DEFAULT_CLIENT_SECRET

    body, headers = delivery("store/order/created", {"type": "order", "id": oid},
                             secret=DEFAULT_CLIENT_SECRET, custom_secret=hook_secret(source))
    assert post(url, body, headers).status_code == 200
    wait_for(lambda: _order(ifs, f"B{source}-{oid}"), "the IFS order")
    wait_for(lambda: settled(tenant), "the pipeline to settle")
    fetches, staged = order_fetches(bc, oid), len(_staged(tenant))
    assert _count(WebhookDelivery) == 1 and fetches >= 1

    # The same delivery again (a BigCommerce retry: same webhook-id) ...
    again = post(url, body, headers)
    # ... and the same event re-fired as a new message (same hash and created_at, new id).
    refired = delivery("store/order/created", {"type": "order", "id": oid},
                       secret=DEFAULT_CLIENT_SECRET, custom_secret=hook_secret(source),
                       created_at=json.loads(body)["created_at"])
    replayed = post(url, *refired)
    assert (again.status_code, again.content) == (200, b"")
    assert (replayed.status_code, replayed.content) == (200, b"")
    time.sleep(2)  # give a wrongly enqueued fetch the time to show up
    assert _count(WebhookDelivery) == 1
    assert order_fetches(bc, oid) == fetches  # nothing was enqueued
    assert len(_staged(tenant)) == staged

    # A genuinely new event about the unchanged order is fetched, and dedupes on the record
    # key; so does the polling path reading the same order.
    new_event = delivery("store/order/updated", {"type": "order", "id": oid},
                         secret=DEFAULT_CLIENT_SECRET, custom_secret=hook_secret(source))
    assert post(url, *new_event).status_code == 200
    wait_for(lambda: order_fetches(bc, oid) > fetches, "the fetch of the new event")
    sync_and_settle(tenant, source, ("orders",))
    assert len(_staged(tenant)) == staged
    assert len([o for o in ifs.orders() if o["CustomerPoNo"] == f"B{source}-{oid}"]) == 1


def test_forged_stale_and_cross_tenant_deliveries_are_rejected(
        bc_pipeline: dict[str, Any]) -> None:
    from sandbox.bigcommerce import DEFAULT_CLIENT_SECRET

    p = bc_pipeline
    bc = p["bc"]
    acme = make_bc_tenant(p["ifs_url"], policy="create")
    acme_source = add_bc_source(acme, p["bc_url"])
    _sync_hooks(p)
    globex = make_bc_tenant(p["ifs_url"], name="globex", policy="create")
    add_bc_source(globex, p["bc_url"], client_secret="globex_client_secret")
    bc.set_webhook_mode("off")
    oid = bc.create_order(lines=LINES[:1], billing_address=_buyer("x@example.org"))["id"]
    url = hook_url(p["web"])
    custom = hook_secret(acme_source)
    data = {"type": "order", "id": oid}
    scope = "store/order/created"

    forged = delivery(scope, data, secret="not_the_client_secret", custom_secret=custom)
    stale = delivery(scope, data, secret=DEFAULT_CLIENT_SECRET, custom_secret=custom,
                     timestamp=int(time.time()) - 600)
    future = delivery(scope, data, secret=DEFAULT_CLIENT_SECRET, custom_secret=custom,
                      timestamp=int(time.time()) + 600)
    no_custom = delivery(scope, data, secret=DEFAULT_CLIENT_SECRET, custom_secret=None)
    wrong_custom = delivery(scope, data, secret=DEFAULT_CLIENT_SECRET, custom_secret="guess")
    acme_signed = delivery(scope, data, secret=DEFAULT_CLIENT_SECRET, custom_secret=custom)
    body, headers = acme_signed
    assert post(url, *forged).status_code == 401
    assert post(url, *stale).status_code == 401
    assert post(url, *future).status_code == 401
    assert post(url, *no_custom).status_code == 401
    assert post(url, *wrong_custom).status_code == 401
    # acme's valid delivery is worthless at globex's endpoint (and the other way round)
    assert post(hook_url(p["web"], "globex", "bc"), body, headers).status_code == 401
    globex_signed = delivery(scope, data, secret="globex_client_secret", custom_secret=custom)
    assert post(url, *globex_signed).status_code == 401
    assert post(hook_url(p["web"], "nobody", "bc"), body, headers).status_code == 401
    assert post(url, body, {**headers, "Content-Type": "text/plain"}).status_code == 415
    garbage = delivery(scope, data, secret=DEFAULT_CLIENT_SECRET, custom_secret=custom)
    tampered = garbage[0].replace(b'"scope"', b'"scope" ', 1)
    assert post(url, tampered, garbage[1]).status_code == 401  # body changed after signing
    time.sleep(1.5)
    assert _count(WebhookDelivery) == 0
    assert _staged(acme) == [] and _staged(globex) == []
    assert order_fetches(bc, oid) == 0  # nothing was enqueued
    # the genuine delivery still goes through
    assert post(url, body, headers).status_code == 200
    assert _count(WebhookDelivery) == 1


def test_polling_alone_delivers_everything(bc_pipeline: dict[str, Any],
                                           tmp_path: Path) -> None:
    p = bc_pipeline
    bc, ifs = p["bc"], p["ifs"]
    rules = {k: v for k, v in POSTING_RULES.items() if k != "refund"}
    tenant = make_bc_tenant(p["ifs_url"], policy="create", rules=rules)
    source = add_bc_source(tenant, p["bc_url"])
    _sync_hooks(p)
    bc.set_webhook_mode("off")  # hooks off: every event is dropped
    orders = []
    for n in range(3):
        order = bc.create_order(lines=LINES, billing_address=_buyer(f"poll{n}@example.org"),
                                default_currency_code="EUR", paid=True)
        orders.append(order["id"])
    bc.ship_order(orders[0])
    bc.ship_order(orders[1], items=[{"order_product_id": bc.store.order(orders[1]).lines[0].id,
                                     "quantity": 1}])
    refund = bc.refund_order(orders[0], amount="5.00")
    sync_and_settle(tenant, source, ("orders",))

    assert {o["CustomerPoNo"] for o in ifs.orders()} == {f"B{source}-{i}" for i in orders}
    vouchers = _vouchers(ifs)
    assert sum(t.startswith("bc:sbx1:payment:") for t in vouchers) == 3
    assert sum(t.startswith("bc:sbx1:shipment:") for t in vouchers) == 2
    partial = [v for t, v in vouchers.items() if t.startswith("bc:sbx1:shipment:")
               and Decimal(str(v["Rows"][0].get("DebetAmount") or 0)) == Decimal("12.50")]
    assert len(partial) == 1  # the partial shipment recognises one apron (12.50 ex tax)
    # no refund rule yet: the refund fails with a reason the operator can act on
    failed = _staged(tenant, state="failed")
    assert [r.entity for r in failed] == ["refund"]
    assert "no posting rule for BigCommerce refunds" in (failed[0].last_error or "")
    assert {r.origin for r in _staged(tenant)} == {"poll"}

    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps(POSTING_RULES))
    _cli("tenant", "set", "acme", "--posting-rules", str(rules_file))
    assert "1 record(s) queued for replay" in _cli("replay", "--tenant", "acme")
    text = f"bc:sbx1:refund:{refund['id']}"
    wait_for(lambda: text in _vouchers(ifs), "the refund voucher after replay")
    _assert_balanced(_vouchers(ifs)[text], Decimal("5.00"), "EUR")
    wait_for(lambda: settled(tenant), "the pipeline to settle")
    assert (_order(ifs, f"B{source}-{orders[0]}") or {}).get("LabelNote") == "bc:refunded"

    # another poll (overlap window) reads the same versions again: nothing new, no duplicate
    staged = len(_staged(tenant))
    sync_and_settle(tenant, source, ("orders",))
    assert len(_staged(tenant)) == staged
    assert len(ifs.vouchers()) == 6


def test_deactivated_hook_is_reactivated_and_alerted(bc_pipeline: dict[str, Any]) -> None:
    from sandbox.bigcommerce import DEFAULT_CLIENT_ID
    from tasks.bigcommerce import hooks_health_all

    p = bc_pipeline
    bc, ifs = p["bc"], p["ifs"]
    tenant = make_bc_tenant(p["ifs_url"], policy="create")
    source = add_bc_source(tenant, p["bc_url"])
    _sync_hooks(p)
    by_scope = {h.scope: h.id for h in bc.webhooks.find(None)}
    bc.deactivate_hook(by_scope["store/order/*"])  # what BigCommerce does after ~48 h of 5xx
    bc.webhooks.delete(DEFAULT_CLIENT_ID, by_scope["store/customer/*"])
    bc.webhooks.block_domain(DEFAULT_CLIENT_ID, f"127.0.0.1:{p['web'].port}", 600,
                             "success ratio under 90%")

    hooks_health_all.delay()  # what beat runs periodically, on the real worker

    def repaired() -> bool:
        hooks = {h.scope: h for h in bc.webhooks.find(None)}
        return (set(hooks) == {"store/order/*", "store/shipment/*", "store/customer/*"}
                and all(h.is_active for h in hooks.values()))

    wait_for(repaired, "the hooks to be repaired")
    wait_for(lambda: _count(Alert, kind="bc_domain_blocked", state="open") == 1,
             "the blocked-domain alert")
    with session_scope() as s:
        alert = s.scalar(select(Alert).where(Alert.kind == "bc_hook_repaired"))
        assert alert is not None and alert.state == "open" and alert.source_id == source
        assert "re-activated store/order/*" in alert.message
        assert "created store/customer/*" in alert.message
    assert "ok store/order/*" in _cli("bigcommerce", "hooks", "health", "--tenant", "acme",
                                      "--source", "bc")

    # unblocked again: the alerts resolve (hooks healthy, nothing left to repair) and the
    # re-activated hook delivers
    bc.webhooks.unblock_all()
    _cli("bigcommerce", "hooks", "health", "--tenant", "acme", "--source", "bc")
    assert _count(Alert, kind="bc_domain_blocked", state="open") == 0
    assert _count(Alert, kind="bc_hook_repaired", state="open") == 0
    assert _count(Alert, kind="bc_hook_repaired", state="resolved") == 1
    oid = bc.create_order(lines=LINES[:1], billing_address=_buyer("again@example.org"))["id"]
    wait_for(lambda: _order(ifs, f"B{source}-{oid}"), "an order through the repaired hook")
    assert {r.origin for r in _staged(tenant)} == {"webhook"}


def test_skip_policy_parks_until_the_customer_exists_then_replay_completes(
        bc_pipeline: dict[str, Any]) -> None:
    from connector.operations.enrichment import enrich

    p = bc_pipeline
    bc, ifs = p["bc"], p["ifs"]
    tenant = make_bc_tenant(p["ifs_url"], policy="skip")
    source = add_bc_source(tenant, p["bc_url"])
    _sync_hooks(p)
    oid = bc.create_order(lines=LINES, billing_address=_buyer("Parked.Buyer@example.org"),
                          default_currency_code="EUR", paid=True)["id"]
    parked = wait_for(lambda: _staged(tenant, entity="order", state="parked"), "a parked order")
    assert parked[0].last_error == ("no IFS customer with e-mail parked.buyer@example.org; "
                                    "create it in IFS (or set bc_customer_policy=create) and "
                                    "replay")
    wait_for(lambda: settled(tenant), "the pipeline to settle")
    assert ifs.orders() == [] and ifs.customers() == []  # skip never creates customers
    assert len(ifs.vouchers()) == 1  # the payment is booked regardless of the customer

    ifs.seed_customer({"CustomerId": "C-4711", "Name": "Parked Buyer", "Company": "10",
                       "Email": "parked.buyer@example.org"})
    assert enrich(tenant) == 1
    assert "record(s) queued for replay" in _cli("replay", "--tenant", "acme")
    wait_for(lambda: _order(ifs, f"B{source}-{oid}"), "the replayed order in IFS")
    wait_for(lambda: settled(tenant), "the pipeline to settle")
    assert (_order(ifs, f"B{source}-{oid}") or {})["CustomerNo"] == "C-4711"
    assert [c["CustomerId"] for c in ifs.customers()] == ["C-4711"]
    assert _staged(tenant, entity="order", state="parked") == []
    # replay is idempotent: nothing left to replay, nothing duplicated
    assert "0 record(s) queued for replay" in _cli("replay", "--tenant", "acme")
    assert len(ifs.orders()) == 1 and len(ifs.vouchers()) == 1


def test_create_policy_creates_the_customer_once(bc_pipeline: dict[str, Any]) -> None:
    p = bc_pipeline
    bc, ifs = p["bc"], p["ifs"]
    tenant = make_bc_tenant(p["ifs_url"], policy="create", labels={})
    source = add_bc_source(tenant, p["bc_url"])
    _sync_hooks(p)
    # two orders of one guest buyer, arriving together (their loads may overlap)
    first = bc.create_order(lines=LINES[:1], billing_address=_buyer("twice@example.org"))
    second = bc.create_order(lines=LINES[1:], billing_address=_buyer("TWICE@example.org"))
    pos = {f"B{source}-{first['id']}", f"B{source}-{second['id']}"}
    wait_for(lambda: {o["CustomerPoNo"] for o in ifs.orders()} == pos, "both IFS orders")
    wait_for(lambda: settled(tenant), "the pipeline to settle")
    buyers = {o["CustomerNo"] for o in ifs.orders()}
    assert len(buyers) == 1
    created = [c for c in ifs.customers() if c["CustomerId"] in buyers]
    assert len(created) == 1 and len(ifs.customers()) == 1
    assert created[0]["Name"] == "Rosa Lind" and created[0]["Country"] == "SE"
    with session_scope() as s:
        index = s.scalar(select(CustomerIndex.customer_id).where(
            CustomerIndex.tenant_id == tenant, CustomerIndex.email == "twice@example.org"))
    assert index == buyers.pop()
    # a later order of the same buyer reuses the customer through the e-mail index
    third = bc.create_order(lines=LINES[:1], billing_address=_buyer("twice@example.org"))
    wait_for(lambda: _order(ifs, f"B{source}-{third['id']}"), "the third order")
    assert len(ifs.customers()) == 1
    # a registered shopper who orders at once: the customer record (its own webhook) and the
    # order's inline buyer are the same IFS customer, created once
    member = bc.create_customer(email="member@example.org", first_name="Mia", last_name="Berg")
    fourth = bc.create_order(customer_id=member["id"], lines=LINES[:1])
    wait_for(lambda: _order(ifs, f"B{source}-{fourth['id']}"), "the registered buyer's order")
    wait_for(lambda: settled(tenant), "the pipeline to settle")
    assert (_order(ifs, f"B{source}-{fourth['id']}") or {})["CustomerNo"] == (
        f"B{source}-{member['id']}")
    assert len(ifs.customers()) == 2  # the guest and the member, once each
    assert {r.state for r in _staged(tenant, entity="customer")} == {"done"}
    # no labels mapped: LabelNote follows the store status
    assert (_order(ifs, f"B{source}-{third['id']}") or {})["LabelNote"].startswith("bc:")
