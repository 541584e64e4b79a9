"""WooCommerce REST authentication, after core ``class-wc-rest-authentication.php``
(reference doc §1, Decision 1).

* "HTTPS" (``assume_https``): ``?consumer_key=&consumer_secret=`` first, then HTTP Basic. An
  unknown key leaves the request anonymous (the controller then answers 401
  ``woocommerce_rest_cannot_view``); a known key with a wrong secret is an authentication error.
* Plain HTTP (and, as in core, after Basic found nobody): OAuth 1.0a one-legged, parameters from
  the query, a form body or an ``Authorization: OAuth`` header; HMAC-SHA1/HMAC-SHA256 with key
  ``consumer_secret&``; ±15 minutes by the simulator clock; a nonce is single-use for 15 minutes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, unquote_plus

from sandbox.woocommerce.errors import BASIC_REALM, WooError
from sandbox.woocommerce.models import ApiKey
from sandbox.woocommerce.store import WooState

NONCE_WINDOW_S = 15 * 60
OAUTH_REQUIRED = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)
_HEADER_PARAM = re.compile(r'(oauth_[a-z_-]*)=(:?"([^"]*)"|([^,]*))')


def _auth_error(message: str, **headers: str) -> WooError:
    return WooError(401, "woocommerce_rest_authentication_error", message, headers=headers or None)


@dataclass
class AuthResult:
    key: ApiKey | None = None
    error: WooError | None = None
    credentials_seen: bool = False  # the request tried to authenticate at all

    @property
    def anonymous(self) -> bool:
        return self.key is None


def rfc3986(value: str) -> str:
    """PHP ``rawurlencode``: everything but ``A-Za-z0-9-_.~`` is percent-encoded."""
    return quote(value, safe="-_.~")


def basic_credentials(authorization: str | None) -> tuple[str, str]:
    if not authorization or authorization[:6].lower() != "basic ":
        return "", ""
    try:
        raw = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    user, sep, password = raw.partition(":")
    return (user, password) if sep else ("", "")


def header_oauth_params(authorization: str | None) -> dict[str, str]:
    header = (authorization or "").strip()
    if not header.startswith("OAuth "):
        return {}
    return {
        name: unquote_plus(quoted if quoted else bare)
        for name, _, quoted, bare in _HEADER_PARAM.findall(header)
    }


def signature_base_string(method: str, url: str, params: Mapping[str, str]) -> str:
    """``METHOD&enc(url)&enc(sorted k=v pairs)``; the signature itself is left out."""
    pairs = sorted(
        ((k, v) for k, v in params.items() if k != "oauth_signature"),
        key=lambda kv: kv[0].encode(),
    )
    joined = "%26".join(rfc3986(f"{rfc3986(k)}={rfc3986(v)}") for k, v in pairs)
    return f"{method.upper()}&{rfc3986(url)}&{joined}"


def oauth_signature(method_name: str, base_string: str, consumer_secret: str) -> str:
    algo = hashlib.sha1 if method_name == "HMAC-SHA1" else hashlib.sha256
    digest = hmac.new(f"{consumer_secret}&".encode(), base_string.encode(), algo).digest()
    return base64.b64encode(digest).decode()


def authenticate(
    state: WooState,
    *,
    assume_https: bool,
    http_method: str,
    signed_url: str,
    query: Mapping[str, str],
    form: Mapping[str, str],
    authorization: str | None,
) -> AuthResult:
    """Who is calling. Never raises: errors are returned in ``AuthResult.error``."""
    result = AuthResult()
    with state.lock:
        if assume_https:
            ck, cs = query.get("consumer_key", ""), query.get("consumer_secret", "")
            if not (ck and cs):
                ck, cs = basic_credentials(authorization)
            if ck and cs:
                result.credentials_seen = True
                key = state.keys.get(ck)
                if key is not None:
                    if hmac.compare_digest(key.consumer_secret.encode(), cs.encode()):
                        result.key = key
                        return result
                    result.error = _auth_error(
                        "Consumer secret is invalid.", **{"WWW-Authenticate": BASIC_REALM}
                    )
        elif basic_credentials(authorization)[0] or query.get("consumer_key"):
            # Over plain HTTP Basic/query credentials are ignored: the request is anonymous.
            result.credentials_seen = True
        _oauth(state, result, http_method, signed_url, query, form, authorization)
    return result


def _oauth(
    state: WooState,
    result: AuthResult,
    http_method: str,
    signed_url: str,
    query: Mapping[str, str],
    form: Mapping[str, str],
    authorization: str | None,
) -> None:
    params: dict[str, str] = {**query, **form, **header_oauth_params(authorization)}
    missing = [name for name in OAUTH_REQUIRED if not params.get(name)]
    if len(missing) == len(OAUTH_REQUIRED):
        return  # not trying OAuth
    result.credentials_seen = True
    if missing:
        noun = "parameter" if len(missing) == 1 else "parameters"
        result.error = WooError(
            401,
            "woocommerce_rest_authentication_missing_parameter",
            f"Missing OAuth {noun} {', '.join(missing)}",
        )
        return
    key = state.keys.get(params["oauth_consumer_key"])
    if key is None:
        result.error = _auth_error("Consumer key is invalid.")
        return
    consumer_signature = unquote(params["oauth_signature"].replace(" ", "+"))
    method_name = params["oauth_signature_method"]
    if method_name not in ("HMAC-SHA1", "HMAC-SHA256"):
        result.error = _auth_error("Invalid signature - signature method is invalid.")
        return
    base = signature_base_string(http_method, signed_url, params)
    expected = oauth_signature(method_name, base, key.consumer_secret)
    if not hmac.compare_digest(expected.encode(), consumer_signature.encode()):
        result.error = _auth_error("Invalid signature - provided signature does not match.")
        return
    now = state.clock.time()
    try:
        timestamp = int(params["oauth_timestamp"])
    except ValueError:
        timestamp = -1
    if timestamp < now - NONCE_WINDOW_S or timestamp > now + NONCE_WINDOW_S:
        result.error = _auth_error("Invalid timestamp.")
        return
    for nonce, used_at in list(key.nonces.items()):
        if used_at < now - NONCE_WINDOW_S:
            del key.nonces[nonce]
    nonce = params["oauth_nonce"]
    if nonce in key.nonces:
        result.error = _auth_error("Invalid nonce - nonce has already been used.")
        return
    key.nonces[nonce] = float(timestamp)
    result.key = key
    result.error = None


def check_key_permission(key: ApiKey, http_method: str) -> WooError | None:
    """Key permission first (doc §1): GET/HEAD need read, POST/PUT/PATCH/DELETE need write."""
    method = http_method.upper()
    if method in ("GET", "HEAD"):
        if key.permissions not in ("read", "read_write"):
            return _auth_error("The API key provided does not have read permissions.")
    elif method in ("POST", "PUT", "PATCH", "DELETE"):
        if key.permissions not in ("write", "read_write"):
            return _auth_error("The API key provided does not have write permissions.")
    elif method != "OPTIONS":
        return _auth_error("Unknown request method.")
    return None
