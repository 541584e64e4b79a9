"""WooCommerce webhook verification (``reference/woocommerce.md`` §6, decision 6).

``X-WC-Webhook-Signature`` is base64(HMAC-SHA256(raw body, webhook secret)). Verify over the raw
bytes exactly as received — never over re-serialised JSON — and compare in constant time.
Webhooks are an accelerator only: polling stays the source of truth.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from urllib.parse import parse_qs

from connector.config import Secret

__all__ = [
    "SIGNATURE_HEADER",
    "is_woo_ping",
    "sign_woo_body",
    "verify_woo_signature",
    "woo_ping_webhook_id",
]

SIGNATURE_HEADER = "X-WC-Webhook-Signature"
_PING = re.compile(rb"\A\s*webhook_id=(\d{1,20})\s*\Z")


def _secret_bytes(secret: str | Secret) -> bytes:
    raw = secret.reveal() if isinstance(secret, Secret) else secret
    return raw.encode("utf-8")


def sign_woo_body(raw_body: bytes, secret: str | Secret) -> str:
    """The ``X-WC-Webhook-Signature`` value WooCommerce sends for ``raw_body`` (tests, sandbox)."""
    digest = hmac.new(_secret_bytes(secret), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_woo_signature(raw_body: bytes, header_value: str | None, secret: str | Secret) -> bool:
    """True when ``header_value`` is the base64 HMAC-SHA256 of ``raw_body`` under ``secret``.

    A missing header or an empty secret never verifies. The comparison is constant-time.
    """
    if not header_value or not secret:
        return False
    expected = sign_woo_body(raw_body, secret).encode("ascii")
    try:
        given = header_value.strip().encode("utf-8")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected, given)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def woo_ping_webhook_id(headers: Mapping[str, str], body: bytes) -> int | None:
    """The webhook id of WooCommerce's creation ping, else ``None``.

    On creation WooCommerce posts a form-encoded ``webhook_id=<id>`` *without* signature headers
    and expects exactly 200 (woo §6). Anything carrying a signature header is a real delivery.
    """
    if _header(headers, SIGNATURE_HEADER):
        return None
    # The content type is deliberately not checked: WordPress' HTTP layer decides it, and a
    # rejected ping makes WooCommerce refuse to create the webhook.
    match = _PING.match(body)
    if not match:
        return None
    parsed = parse_qs(body.decode("ascii").strip())
    if set(parsed) != {"webhook_id"}:
        return None
    return int(match.group(1))


def is_woo_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """True for WooCommerce's unsigned creation ping (answer it with a bare 200)."""
    return woo_ping_webhook_id(headers, body) is not None
