"""Webhook verification: WooCommerce HMAC and BigCommerce Standard Webhooks.

Uses the literal example of ``reference/bigcommerce.md`` §5 (client secret
``demo_client_secret_4f1a``, timestamp 1741943002) and hypothesis for the property "a correctly
signed body verifies; any single-byte change does not".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from connector.config import Secret
from connector.stores.bigcommerce.webhooks import (
    WebhookRejected,
    check_custom_secret,
    dedupe_key,
    library_secret,
    sign_bc_webhook,
    verify_bc_webhook,
)
from connector.stores.woocommerce.webhooks import (
    is_woo_ping,
    sign_woo_body,
    verify_woo_signature,
    woo_ping_webhook_id,
)

# -- the doc's literal example (bigcommerce.md §5) -------------------------------------------

DOC_SECRET = "demo_client_secret_4f1a"
DOC_LIBRARY_SECRET = "ZGVtb19jbGllbnRfc2VjcmV0XzRmMWE="
DOC_ID = "4c1e8b2a-msg"
DOC_TS = 1741943002
DOC_SIGNATURE = "v1,N9vZ+nrqMq2jQw20RRn+Qp6fsw8qRfmPWKqQpA39z6U="
DOC_BODY = (
    b'{"scope":"store/order/statusUpdated","store_id":"1001234","data":{"type":"order",'
    b'"id":3105,"status":{"previous_status_id":11,"new_status_id":2}},'
    b'"hash":"6b1f0c2e9a7d4e3b8c5a1f0e2d3c4b5a69788796","created_at":1741943000,'
    b'"producer":"stores/k7p2r9"}'
)
DOC_HEADERS = {"webhook-id": DOC_ID, "webhook-timestamp": str(DOC_TS),
               "webhook-signature": DOC_SIGNATURE}


def own_signature(msg_id: str, ts: int, body: bytes, client_secret: str) -> str:
    """Standard Webhooks by hand: HMAC-SHA256(key=client secret, "{id}.{ts}.{body}")."""
    digest = hmac.new(client_secret.encode(), f"{msg_id}.{ts}.".encode() + body,
                      hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def test_library_secret_is_base64_of_the_client_secret() -> None:
    assert library_secret(DOC_SECRET) == DOC_LIBRARY_SECRET
    assert library_secret(Secret(DOC_SECRET)) == DOC_LIBRARY_SECRET


def test_doc_example_signature_matches_by_hand_and_by_library() -> None:
    assert own_signature(DOC_ID, DOC_TS, DOC_BODY, DOC_SECRET) == DOC_SIGNATURE
    library = Webhook(DOC_LIBRARY_SECRET).sign(
        DOC_ID, datetime.fromtimestamp(DOC_TS, tz=UTC), DOC_BODY.decode())
    assert library == DOC_SIGNATURE
    assert sign_bc_webhook(DOC_BODY, DOC_ID, DOC_TS, DOC_SECRET) == DOC_SIGNATURE


def test_doc_example_verifies() -> None:
    payload = verify_bc_webhook(DOC_BODY, DOC_HEADERS, DOC_SECRET, now=DOC_TS + 3)
    assert payload["scope"] == "store/order/statusUpdated"
    assert payload["data"]["id"] == 3105
    # header names are case-insensitive
    upper = {k.upper(): v for k, v in DOC_HEADERS.items()}
    assert verify_bc_webhook(DOC_BODY, upper, Secret(DOC_SECRET), now=DOC_TS)["store_id"] == (
        "1001234")


def test_our_signature_is_accepted_by_the_library_itself() -> None:
    """Cross-check with ``standardwebhooks.Webhook.verify`` (it uses the real clock)."""
    ts = int(time.time())
    sig = own_signature("msg_live", ts, DOC_BODY, DOC_SECRET)
    headers = {"webhook-id": "msg_live", "webhook-timestamp": str(ts), "webhook-signature": sig}
    assert Webhook(DOC_LIBRARY_SECRET).verify(DOC_BODY, headers)["data"]["id"] == 3105
    assert verify_bc_webhook(DOC_BODY, headers, DOC_SECRET)["data"]["id"] == 3105


@pytest.mark.parametrize("offset", [301, -301, 3600, -86400])
def test_timestamp_outside_tolerance_is_rejected(offset: int) -> None:
    with pytest.raises(WebhookRejected) as caught:
        verify_bc_webhook(DOC_BODY, DOC_HEADERS, DOC_SECRET, now=DOC_TS + offset)
    assert caught.value.reason == "timestamp outside tolerance"


def test_tolerance_is_configurable() -> None:
    assert verify_bc_webhook(DOC_BODY, DOC_HEADERS, DOC_SECRET, tolerance_s=900,
                             now=DOC_TS + 600)["data"]["id"] == 3105
    with pytest.raises(WebhookRejected, match="tolerance"):
        verify_bc_webhook(DOC_BODY, DOC_HEADERS, DOC_SECRET, tolerance_s=10, now=DOC_TS + 11)


@pytest.mark.parametrize("drop", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_headers(drop: str) -> None:
    headers = {k: v for k, v in DOC_HEADERS.items() if k != drop}
    with pytest.raises(WebhookRejected) as caught:
        verify_bc_webhook(DOC_BODY, headers, DOC_SECRET, now=DOC_TS)
    assert caught.value.reason == "missing signature headers"


def test_wrong_secret_and_tampering_are_signature_mismatches() -> None:
    with pytest.raises(WebhookRejected) as wrong:
        verify_bc_webhook(DOC_BODY, DOC_HEADERS, "another_secret", now=DOC_TS)
    assert wrong.value.reason == "signature mismatch"
    tampered = DOC_BODY.replace(b'"new_status_id":2', b'"new_status_id":5')
    with pytest.raises(WebhookRejected, match="signature mismatch"):
        verify_bc_webhook(tampered, DOC_HEADERS, DOC_SECRET, now=DOC_TS)
    other_id = {**DOC_HEADERS, "webhook-id": "replayed-id"}
    with pytest.raises(WebhookRejected, match="signature mismatch"):
        verify_bc_webhook(DOC_BODY, other_id, DOC_SECRET, now=DOC_TS)


def test_several_signatures_and_malformed_entries() -> None:
    messy = f"v2,abc v1 v1,!!notbase64!! v1,{base64.b64encode(b'x' * 32).decode()} {DOC_SIGNATURE}"
    headers = {**DOC_HEADERS, "webhook-signature": messy}
    assert verify_bc_webhook(DOC_BODY, headers, DOC_SECRET, now=DOC_TS)["data"]["id"] == 3105
    only_bad = {**DOC_HEADERS, "webhook-signature": "v1,!!! garbage"}
    with pytest.raises(WebhookRejected, match="signature mismatch"):
        verify_bc_webhook(DOC_BODY, only_bad, DOC_SECRET, now=DOC_TS)


def test_malformed_timestamp_and_json() -> None:
    with pytest.raises(WebhookRejected, match="malformed timestamp"):
        verify_bc_webhook(DOC_BODY, {**DOC_HEADERS, "webhook-timestamp": "yesterday"},
                          DOC_SECRET, now=DOC_TS)
    body = b"not json at all"
    headers = {**DOC_HEADERS, "webhook-signature": own_signature(DOC_ID, DOC_TS, body,
                                                                 DOC_SECRET)}
    with pytest.raises(WebhookRejected) as caught:
        verify_bc_webhook(body, headers, DOC_SECRET, now=DOC_TS)
    assert caught.value.reason == "malformed JSON"
    array = b"[1,2]"
    headers = {**DOC_HEADERS, "webhook-signature": own_signature(DOC_ID, DOC_TS, array,
                                                                 DOC_SECRET)}
    with pytest.raises(WebhookRejected, match="malformed JSON"):
        verify_bc_webhook(array, headers, DOC_SECRET, now=DOC_TS)


def test_rejection_reasons_never_contain_the_secret() -> None:
    for now in (DOC_TS, DOC_TS + 9999):
        with pytest.raises(WebhookRejected) as caught:
            verify_bc_webhook(DOC_BODY + b" ", DOC_HEADERS, DOC_SECRET, now=now)
        assert DOC_SECRET not in str(caught.value)
        assert DOC_LIBRARY_SECRET not in str(caught.value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
payloads = st.dictionaries(st.text(min_size=1, max_size=10), json_values, min_size=1,
                           max_size=6)


@settings(max_examples=150, deadline=None)
@given(payload=payloads, msg_id=st.text(alphabet="abcdef0123456789-_", min_size=1, max_size=30),
       secret=st.text(min_size=1, max_size=40), data=st.data())
def test_bc_signed_bodies_verify_and_any_byte_change_fails(
    payload: dict[str, Any], msg_id: str, secret: str, data: st.DataObject
) -> None:
    body = json.dumps(payload, ensure_ascii=data.draw(st.booleans())).encode()
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(DOC_TS),
               "webhook-signature": own_signature(msg_id, DOC_TS, body, secret)}
    assert verify_bc_webhook(body, headers, secret, now=DOC_TS) == payload
    index = data.draw(st.integers(0, len(body) - 1))
    delta = data.draw(st.integers(1, 255))
    changed = bytearray(body)
    changed[index] = (changed[index] + delta) % 256
    with pytest.raises(WebhookRejected):
        verify_bc_webhook(bytes(changed), headers, secret, now=DOC_TS)


# -- dedupe and custom secret header ---------------------------------------------------------


def test_dedupe_key_is_stable_across_redeliveries() -> None:
    payload = json.loads(DOC_BODY)
    first = dedupe_key(payload, "4c1e8b2a-msg")
    assert first == dedupe_key(payload, "a-different-message-id")
    assert first.startswith("bc:store/order/statusUpdated:6b1f0c2e")
    later = {**payload, "created_at": payload["created_at"] + 60}
    assert dedupe_key(later, "4c1e8b2a-msg") != first
    no_hash = {k: v for k, v in payload.items() if k != "hash"}
    assert dedupe_key(no_hash, "msg-9") == "bc:id:msg-9"
    assert dedupe_key(no_hash, None) == dedupe_key(dict(no_hash), "")


def test_custom_secret_header() -> None:
    headers = {"X-MLC-Hook-Secret": "8e0f2b7c9a1d4e6f", "Content-Type": "application/json"}
    assert check_custom_secret(headers, "x-mlc-hook-secret", "8e0f2b7c9a1d4e6f")
    assert check_custom_secret(headers, "X-Mlc-Hook-Secret", Secret("8e0f2b7c9a1d4e6f"))
    assert not check_custom_secret(headers, "x-mlc-hook-secret", "8e0f2b7c9a1d4e6")
    assert not check_custom_secret({}, "x-mlc-hook-secret", "8e0f2b7c9a1d4e6f")
    assert not check_custom_secret(headers, "x-mlc-hook-secret", "")


# -- WooCommerce ----------------------------------------------------------------------------

WOO_SECRET = "woo-hook-secret-41"
WOO_BODY = b'{"id":5120,"status":"completed","currency":"EUR"}'


def test_woo_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    expected = base64.b64encode(hmac.new(WOO_SECRET.encode(), WOO_BODY,
                                         hashlib.sha256).digest()).decode()
    assert sign_woo_body(WOO_BODY, WOO_SECRET) == expected
    assert verify_woo_signature(WOO_BODY, expected, WOO_SECRET)
    assert verify_woo_signature(WOO_BODY, expected + "\n", Secret(WOO_SECRET))


def test_woo_signature_rejections() -> None:
    good = sign_woo_body(WOO_BODY, WOO_SECRET)
    assert not verify_woo_signature(WOO_BODY, None, WOO_SECRET)
    assert not verify_woo_signature(WOO_BODY, "", WOO_SECRET)
    assert not verify_woo_signature(WOO_BODY, good, "other-secret")
    assert not verify_woo_signature(WOO_BODY, good, "")
    assert not verify_woo_signature(WOO_BODY + b" ", good, WOO_SECRET)
    # re-serialised JSON is not the raw body
    assert not verify_woo_signature(json.dumps(json.loads(WOO_BODY)).encode(), good, WOO_SECRET)
    assert not verify_woo_signature(WOO_BODY, "ünïcode", WOO_SECRET)


@settings(max_examples=200, deadline=None)
@given(body=st.binary(min_size=1, max_size=2048), secret=st.text(min_size=1, max_size=40),
       data=st.data())
def test_woo_signed_bodies_verify_and_any_byte_change_fails(body: bytes, secret: str,
                                                            data: st.DataObject) -> None:
    header = sign_woo_body(body, secret)
    assert verify_woo_signature(body, header, secret)
    index = data.draw(st.integers(0, len(body) - 1))
    changed = bytearray(body)
    changed[index] = (changed[index] + data.draw(st.integers(1, 255))) % 256
    assert not verify_woo_signature(bytes(changed), header, secret)


def test_woo_creation_ping() -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert is_woo_ping(form, b"webhook_id=41")
    assert woo_ping_webhook_id(form, b"webhook_id=41") == 41
    assert is_woo_ping({}, b"webhook_id=41")
    signed = {**form, "X-WC-Webhook-Signature": "abc="}
    assert not is_woo_ping(signed, b"webhook_id=41")
    assert not is_woo_ping(form, b"webhook_id=41&x=1")
    assert not is_woo_ping(form, b"webhook_id=abc")
    assert not is_woo_ping({"Content-Type": "application/json"}, b'{"webhook_id":41}')
    assert not is_woo_ping(form, b"")
