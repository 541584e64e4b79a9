"""BigCommerce webhook verification (``reference/bigcommerce.md`` §5, decision 2).

BigCommerce signs callbacks per **Standard Webhooks**: headers ``webhook-id``,
``webhook-timestamp`` (unix seconds) and ``webhook-signature`` (space-separated
``v1,<base64 HMAC-SHA256>`` over ``"{id}.{timestamp}.{raw body}"``), keyed with the API
account's client secret. The ``standardwebhooks`` library takes that secret **base64-encoded**
(client secret ``demo_client_secret_4f1a`` ↔ library secret ``ZGVtb19jbGllbnRfc2VjcmV0XzRmMWE=``).
There is no ``X-BC-Signature`` header.

Why the library's ``Webhook.verify`` is not called directly: its tolerance is hard-coded to five
minutes against the real wall clock (no parameter, no injectable clock), and a malformed
signature entry escapes as ``ValueError``/``binascii.Error`` instead of its own error. So the
timestamp is checked here against ``tolerance_s``/``now``, the expected signature comes from the
library's ``Webhook.sign`` (the scheme itself stays the library's), and every ``v1`` candidate
is compared in constant time.

The payload ``hash`` is for duplicate detection only, never authentication (bc §5).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from connector.config import Secret

__all__ = [
    "WebhookRejected",
    "check_custom_secret",
    "dedupe_key",
    "library_secret",
    "sign_bc_webhook",
    "verify_bc_webhook",
]


class WebhookRejected(Exception):
    """The delivery failed verification; ``reason`` is safe to log (never secret material)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _reveal(secret: str | Secret) -> str:
    return secret.reveal() if isinstance(secret, Secret) else secret


def library_secret(client_secret: str | Secret) -> str:
    """The ``standardwebhooks`` secret for a BigCommerce client secret: its base64 (bc §5)."""
    return base64.b64encode(_reveal(client_secret).encode("utf-8")).decode("ascii")


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def sign_bc_webhook(raw_body: bytes, msg_id: str, timestamp: int,
                    client_secret: str | Secret) -> str:
    """The ``webhook-signature`` value BigCommerce would send (tests and the sandbox)."""
    hook = Webhook(library_secret(client_secret))
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return hook.sign(msg_id=msg_id, timestamp=moment, data=raw_body.decode("utf-8"))


def verify_bc_webhook(
    raw_body: bytes,
    headers: Mapping[str, str],
    client_secret: str | Secret,
    tolerance_s: int = 300,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify a BigCommerce callback over its raw body and return the parsed JSON object.

    Raises :class:`WebhookRejected` with one of: ``"missing signature headers"``,
    ``"malformed timestamp"``, ``"timestamp outside tolerance"``, ``"signature mismatch"``,
    ``"malformed JSON"``. ``now`` (unix seconds) is for tests; ``tolerance_s`` applies both
    ways (stale and future-dated deliveries).
    """
    if not _reveal(client_secret):
        raise WebhookRejected("no client secret configured")
    lowered = _lower(headers)
    msg_id = (lowered.get("webhook-id") or "").strip()
    stamp = (lowered.get("webhook-timestamp") or "").strip()
    signatures = (lowered.get("webhook-signature") or "").strip()
    if not (msg_id and stamp and signatures):
        raise WebhookRejected("missing signature headers")
    # isdigit() alone accepts Unicode digits such as "²", which int() then refuses.
    if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12:
        raise WebhookRejected("malformed timestamp")
    timestamp = int(stamp)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise WebhookRejected("timestamp outside tolerance")
    try:
        text = raw_body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected("malformed JSON") from None
    hook = Webhook(library_secret(client_secret))
    expected_b64 = hook.sign(msg_id=msg_id, timestamp=datetime.fromtimestamp(timestamp, tz=UTC),
                             data=text).split(",", 1)[1]
    expected = base64.b64decode(expected_b64)
    matched = False
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version != "v1" or not value:
            continue
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        # No early exit: every candidate costs the same.
        matched = hmac.compare_digest(expected, given) or matched
    if not matched:
        raise WebhookRejected("signature mismatch")
    try:
        payload = json.loads(text)
    except ValueError:
        raise WebhookRejected("malformed JSON") from None
    if not isinstance(payload, dict):
        raise WebhookRejected("malformed JSON")
    return payload


def dedupe_key(payload: Mapping[str, Any], webhook_id: str | None) -> str:
    """A stable key so a redelivered event is stored once (design §4 "webhook deliveries").

    BigCommerce's ``hash`` (SHA-1 of the event data) and ``created_at`` are identical on every
    re-fire of one event, including duplicates sent as separate messages (bc §5), so
    ``scope + hash + created_at`` is preferred. Two *different* events with identical data in
    the same second collapse, which is harmless: the payload is only a stub and the resource is
    fetched fresh. Without a hash the Standard Webhooks ``webhook-id`` (stable across retries)
    is used.
    """
    scope = str(payload.get("scope") or "")
    event_hash = payload.get("hash")
    created = payload.get("created_at")
    if isinstance(event_hash, str) and event_hash and created is not None:
        return f"bc:{scope}:{event_hash}:{created}"
    if webhook_id:
        return f"bc:id:{webhook_id.strip()}"
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return f"bc:body:{digest}"


def check_custom_secret(headers: Mapping[str, str], header_name: str,
                        expected: str | Secret) -> bool:
    """True when ``header_name`` carries ``expected`` (constant-time; header name
    case-insensitive). This is the optional second factor set at hook creation (bc decision 2);
    an empty expected value never matches."""
    wanted = _reveal(expected)
    if not wanted:
        return False
    given = _lower(headers).get(header_name.lower())
    if given is None:
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), wanted.encode("utf-8"))
