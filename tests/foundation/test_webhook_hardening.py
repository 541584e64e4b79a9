"""Issue 9, webhook edges: replay-proof WooCommerce deliveries, one answer for every refusal,
no 500 on crafted input, log lines that cannot be forged."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from connector.db import session_scope
from connector.logs import RedactingFilter
from connector.models import WebhookDelivery
from tests.foundation.webhook_helpers import (
    BC_URL,
    WOO_URL,
    bc_delivery,
    drain_fetch_queue,
    make_sources,
    woo_headers,
)


@pytest.fixture
def client(clean_db: None) -> Iterator[FlaskClient]:
    from web.app import create_app

    drain_fetch_queue()
    make_sources()
    yield create_app().test_client()
    drain_fetch_queue()


def _deliveries() -> list[WebhookDelivery]:
    with session_scope() as s:
        return list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def _count() -> int:
    with session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(WebhookDelivery)) or 0)


# --- 1. replays --------------------------------------------------------------------------------

def test_a_captured_woo_body_replayed_with_fresh_delivery_ids_is_stored_and_fetched_once(
        client: FlaskClient) -> None:
    body = json.dumps({"id": 4711, "status": "processing"}).encode()
    for i in range(50):
        r = client.post(WOO_URL, data=body, headers=woo_headers(body, delivery=f"replay-{i}"))
        assert r.status_code == 200
    deliveries = _deliveries()
    assert len(deliveries) == 1
    assert [d.state for d in deliveries] == ["enqueued"]  # one fetch handed to the broker


def test_changing_bodies_cannot_make_us_fetch_one_resource_more_than_the_cap(
        client: FlaskClient) -> None:
    from connector.config import get_settings

    cap = get_settings().webhook_fetches_per_min
    for i in range(cap + 4):
        body = json.dumps({"id": 99, "n": i}).encode()
        assert client.post(WOO_URL, data=body, headers=woo_headers(body)).status_code == 200
    for i in range(cap + 2):
        body, headers = bc_delivery({"type": "order", "id": 5, "n": i})
        assert client.post(BC_URL, data=body, headers=headers).status_code == 200
    states = [(d.topic.split(".")[0].split("/")[0], d.state) for d in _deliveries()]
    assert states.count(("order", "enqueued")) == cap          # woo
    assert states.count(("order", "throttled")) == 4
    assert states.count(("store", "enqueued")) == cap          # bigcommerce
    assert states.count(("store", "throttled")) == 2
    from connector.pipeline.webhooks import delivery_counts

    counts = delivery_counts()
    assert counts[("woocommerce", "throttled")] == 4
    assert counts[("bigcommerce", "throttled")] == 2


def test_a_bc_replay_of_the_same_signed_message_is_a_no_op(client: FlaskClient) -> None:
    body, headers = bc_delivery({"type": "order", "id": 8})
    for _ in range(20):
        assert client.post(BC_URL, data=body, headers=headers).status_code == 200
    assert [d.state for d in _deliveries()] == ["enqueued"]
    stale_body, stale = bc_delivery({"type": "order", "id": 8}, stamp=1_700_000_000)
    assert client.post(BC_URL, data=stale_body, headers=stale).status_code == 401


# --- 4. crafted input never crashes ------------------------------------------------------------

def test_unicode_digit_timestamp_is_a_4xx(client: FlaskClient) -> None:
    body, headers = bc_delivery({"type": "order", "id": 8})
    r = client.post(BC_URL, data=body, headers={**headers, "webhook-timestamp": "²"})
    assert r.status_code == 401 and _count() == 0


@pytest.mark.parametrize("path", ["/webhooks/bc/ac%00me/bc", "/webhooks/woo/acme/sh%00op",
                                  "/webhooks/woo/%C3%A4cme/shop", "/webhooks/bc/acme/b%0Ac"])
def test_nul_and_control_characters_in_names_are_a_4xx(client: FlaskClient, path: str) -> None:
    body, headers = bc_delivery({"type": "order", "id": 8})
    r = client.post(path, data=body, headers=headers)
    assert r.status_code == 401 and _count() == 0


def test_bc_resource_id_longer_than_the_column_is_a_4xx(client: FlaskClient) -> None:
    body, headers = bc_delivery({"type": "order", "id": "9" * 150})
    r = client.post(BC_URL, data=body, headers=headers)
    assert r.status_code == 400 and _count() == 0


@pytest.mark.parametrize("resource_id", [True, False, -3, 0, 1.5, "12", None, 10**30])
def test_woo_resource_id_must_be_a_positive_integer(client: FlaskClient,
                                                    resource_id: object) -> None:
    body = json.dumps({"id": resource_id}).encode()
    r = client.post(WOO_URL, data=body, headers=woo_headers(body))
    assert r.status_code == 400 and _count() == 0


# --- 5. no enumeration -------------------------------------------------------------------------

def test_unknown_names_missing_secret_and_bad_signature_get_one_answer(
        client: FlaskClient) -> None:
    body = json.dumps({"id": 12}).encode()
    woo_answers = [client.post(url, data=body, headers=woo_headers(body, secret=secret))
                   for url, secret in [("/webhooks/woo/nobody/shop", "x"),
                                       ("/webhooks/woo/acme/nope", "x"),
                                       ("/webhooks/woo/acme/bare", "x"),       # no secret
                                       (WOO_URL, "wrong-secret")]]
    bc_body, bc_headers = bc_delivery({"type": "order", "id": 3}, secret="wrong-secret")
    bc_answers = [client.post(url, data=bc_body, headers=bc_headers)
                  for url in ("/webhooks/bc/nobody/bc", "/webhooks/bc/acme/nope", BC_URL)]
    seen = {(r.status_code, r.get_data()) for r in woo_answers + bc_answers}
    assert len(seen) == 1, seen
    assert seen.pop()[0] == 401
    # a ping tells nothing either: 200 whether or not the endpoint exists
    ping = b"webhook_id=12"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert client.post("/webhooks/woo/nobody/x", data=ping, headers=form).status_code == 200
    assert client.post(WOO_URL, data=ping, headers=form).status_code == 200
    assert _count() == 0


def test_names_outside_the_safe_alphabet_are_refused_at_creation(clean_db: None) -> None:
    from connector.handles import get_vault
    from connector.operations.admin import InvalidInput, add_source, add_tenant

    for bad in ("a/b", "a b", "ä", "-x", "x" * 64, "a\x00b", "a%0Ab", ""):
        with session_scope() as s, pytest.raises(InvalidInput):
            add_tenant(s, bad, "10")
    with session_scope() as s:
        t = add_tenant(s, "Acme_2-eu", "10")
        with pytest.raises(InvalidInput):
            add_source(s, get_vault(), t, name="shop/eu", system="woocommerce",
                       base_url="https://x.test", credentials=None)


# --- 3. log lines ------------------------------------------------------------------------------

def test_crafted_path_cannot_forge_a_log_line(client: FlaskClient) -> None:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("mlc.webhooks")
    logger.addHandler(handler)
    try:
        forged = "acme%0AINFO%20mlc.webhooks:%20woocommerce%20webhook%20acme%20-%3E%20200"
        client.post(f"/webhooks/woo/{forged}/shop", data=b"{}",
                    headers={"Content-Type": "application/json"})
        client.post("/webhooks/woo/acme/shop%0D%0AINFO%20forged", data=b"{}",
                    headers={"Content-Type": "application/json"})
    finally:
        logger.removeHandler(handler)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert all(line.startswith("WARNING mlc.webhooks:") for line in lines)
    assert "\\n" in lines[0] and "\\r\\n" in lines[1]
