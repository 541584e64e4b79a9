"""Issue 9: the webhook fuzz test. Hypothesis drives both webhook endpoints with crafted paths,
headers and bodies (unsigned, and signed with the real secret so the code behind the signature
check is reached too). Whatever arrives: never a 5xx, and a refused delivery stores nothing and
enqueues nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from connector.db import session_scope
from connector.models import WebhookDelivery
from connector.stores.bigcommerce.webhooks import sign_bc_webhook
from connector.stores.woocommerce.webhooks import sign_woo_body
from tests.foundation.webhook_helpers import (
    BC_SECRET,
    WOO_SECRET,
    drain_fetch_queue,
    make_sources,
)

NAMES = st.one_of(st.sampled_from(["acme", "shop", "bc", "bare", "nobody", "ACME", "a/b", "..",
                                   "a\x00", "a\nb", "%2F", "x" * 200]),
                  st.text(min_size=1, max_size=80))
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                             blacklist_characters="\x7f"), max_size=120)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12)
BODIES = st.one_of(
    st.binary(max_size=300),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"id": JSON_VALUES}).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"scope": st.sampled_from(["store/order/updated",
                                                     "store/customer/address/updated",
                                                     "store/shipment/created",
                                                     "store/order/refund/created"]),
                           "data": JSON_VALUES, "hash": JSON_VALUES,
                           "created_at": JSON_VALUES}).map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"webhook_id=12", b"webhook_id=1&x=2", b"\x00", b"{\"id\": 1e999}"]),
)
HEADER_NAMES = ["Content-Type", "X-WC-Webhook-Signature", "X-WC-Webhook-Resource",
                "X-WC-Webhook-Event", "X-WC-Webhook-Topic", "X-WC-Webhook-Delivery-ID",
                "webhook-id", "webhook-timestamp", "webhook-signature", "x-mlc-hook-secret"]
HEADERS = st.dictionaries(st.sampled_from(HEADER_NAMES),
                          st.one_of(HEADER_TEXT, st.sampled_from(
                              ["application/json", "order", "customer", "²", "١٢٣",
                               "v1,AAAA", "v1,!!!", "99999999999999999999"])), max_size=8)


@pytest.fixture(scope="module")
def fuzz_client(services: object) -> Iterator[FlaskClient]:
    from sqlalchemy import text

    from connector.db import get_engine
    from connector.models import Base
    from web.app import create_app

    tables = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))
    with get_engine().begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    make_sources()
    yield create_app().test_client()
    drain_fetch_queue()


def _stored() -> int:
    with session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(WebhookDelivery)) or 0)


def _sign(store: str, body: bytes, headers: dict[str, str], stamp: Any) -> dict[str, str]:
    out = dict(headers)
    if store == "woo":
        out["X-WC-Webhook-Signature"] = sign_woo_body(body, WOO_SECRET)
        return out
    try:
        text = body.decode("utf-8")
        del text
    except UnicodeDecodeError:
        return out  # BigCommerce signs text: nothing to sign
    msg_id = out.get("webhook-id") or "msg_fuzz"
    moment = stamp
    out.update({"webhook-id": msg_id, "webhook-timestamp": str(moment),
                "webhook-signature": sign_bc_webhook(body, msg_id, moment, BC_SECRET)})
    return out


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(store=st.sampled_from(["woo", "bc", "woo", "bc", "nope"]),
       tenant=NAMES, source=NAMES, headers=HEADERS, body=BODIES,
       signed=st.booleans(), json_type=st.booleans())
def test_no_webhook_input_gets_a_5xx_and_refusals_store_nothing(
        fuzz_client: FlaskClient, store: str, tenant: str, source: str,
        headers: dict[str, str], body: bytes, signed: bool, json_type: bool) -> None:
    import time

    if json_type:
        headers = {**headers, "Content-Type": "application/json"}
    if signed:
        headers = _sign(store, body, headers, int(time.time()))
    path = f"/webhooks/{store}/{quote(tenant, safe='')}/{quote(source, safe='')}"
    before = _stored()
    response = fuzz_client.post(path, data=body, headers=headers)
    assert response.status_code < 500, (path, headers, body, response.get_data())
    if response.status_code >= 400 or not signed:
        assert _stored() == before, (path, headers, body, response.status_code)
    if response.status_code >= 400:
        assert response.is_json and set(response.get_json()) == {"error"}
