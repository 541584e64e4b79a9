"""WooCommerce authentication: HTTP Basic or OAuth 1.0a one-legged, and rejected-key detection.

Facts from ``reference/woocommerce.md`` ("woo §N"): HTTPS → HTTP Basic with the consumer
key/secret; plain HTTP → OAuth 1.0a one-legged (no token), parameters in the query string,
``oauth_version`` omitted (woo §1, decision 1). A 401 with one of :data:`KEY_REJECTED_CODES`
means the key no longer works (decision 5).
"""

from __future__ import annotations

from typing import Any, Literal

import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_QUERY
from oauthlib.oauth1 import Client as OAuth1Client
from requests_oauthlib import OAuth1

from connector.config import Secret

__all__ = ["KEY_REJECTED_CODES", "SignAsAuth", "is_key_rejected", "store_auth"]

#: 401 codes meaning "this key no longer works" (woo §1/§2, decision 5): unknown key (revoked, or
#: its owner was deleted — keys die with their WordPress user) or bad secret/signature.
KEY_REJECTED_CODES = frozenset(
    {"woocommerce_rest_cannot_view", "woocommerce_rest_authentication_error"}
)


def is_key_rejected(exc: Exception) -> bool:
    """True when ``exc`` is a 401 saying the store no longer accepts this key (woo decision 5).

    The service pauses the source and raises an alert instead of failing every record. A 403
    ``woocommerce_rest_cannot_view`` (owner demoted) is an :class:`~connector.errors.AuthError`
    too but not this case.
    """
    return getattr(exc, "status", None) == 401 and getattr(exc, "code", None) in KEY_REJECTED_CODES


class _WooOAuthClient(OAuth1Client):  # type: ignore[misc]
    """oauthlib client without ``oauth_version``: WooCommerce's recipe omits it (woo §1)."""

    def get_oauth_params(self, request: Any) -> list[tuple[str, str]]:
        params: list[tuple[str, str]] = super().get_oauth_params(request)
        return [(k, v) for k, v in params if k != "oauth_version"]


class SignAsAuth(requests.auth.AuthBase):
    """OAuth 1.0a signed for the URL the shop signs, sent to the URL we call.

    WooCommerce core signs ``get_home_url(null, path, is_ssl() ? 'https' : 'http')``: behind a
    TLS-terminating proxy that does not set ``HTTPS=on`` the shop signs ``http://…`` while the
    client calls ``https://…``, and a signature over the called URL fails (woo "OAuth 1.0a
    behind a TLS-terminating proxy"). The source setting ``oauth_signed_url`` names the base
    the shop signs; the request still goes to the store URL.
    """

    def __init__(self, inner: requests.auth.AuthBase, called: str, signed: str) -> None:
        self.inner = inner
        self.called = called.rstrip("/")
        self.signed = signed.rstrip("/")

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        url = r.url or ""
        if url.startswith(self.called):
            r.url = self.signed + url[len(self.called):]
        r = self.inner(r)
        url = r.url or ""
        if url.startswith(self.signed):
            r.url = self.called + url[len(self.signed):]
        return r


def store_auth(
    consumer_key: str,
    consumer_secret: Secret,
    *,
    oauth1: bool,
    base: str,
    signature_method: Literal["HMAC-SHA256", "HMAC-SHA1"] = "HMAC-SHA256",
    signed_base: str | None = None,
) -> requests.auth.AuthBase:
    """The ``requests`` auth for one store: OAuth 1.0a one-legged when ``oauth1``, else Basic.

    ``base`` is the site address the client calls; ``signed_base`` (already normalised: no
    ``/wp-json/wc/v3``, no trailing slash) is the address the shop signs, when it differs.
    """
    if not oauth1:
        return requests.auth.HTTPBasicAuth(consumer_key, consumer_secret.reveal())
    method = SIGNATURE_HMAC_SHA1 if signature_method == "HMAC-SHA1" else SIGNATURE_HMAC_SHA256
    auth: requests.auth.AuthBase = OAuth1(
        consumer_key,
        client_secret=consumer_secret.reveal(),
        signature_method=method,
        signature_type=SIGNATURE_TYPE_QUERY,
        client_class=_WooOAuthClient,
    )
    if signed_base:
        auth = SignAsAuth(auth, base, signed_base)
    return auth
