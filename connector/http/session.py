"""The HTTP session every client uses (IFS, WooCommerce, BigCommerce, notifications).

``requests`` reads the environment (``HTTPS_PROXY``/``NO_PROXY``, ``REQUESTS_CA_BUNDLE``) on
*every* request: on this hot path that was ~8 % of a load's CPU (issue 14's profile). Here it is
read once per process and destination (scheme and host), with the same outcome as requests'
own merge: proxies and CA bundle from the environment still apply (docs/configuration.md,
outbound HTTP); a change of those variables takes effect at the next start, like every other
setting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.utils import get_environ_proxies


class EnvironmentOnceSession(requests.Session):
    """A session that reads the environment's proxy and CA settings once per destination."""

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[str, str], tuple[dict[str, str], str | None]] = {}

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: MutableMapping[str, str] | None,
        stream: bool | None, verify: bool | str | None, cert: Any,
    ) -> Any:
        if not self.trust_env or proxies or not isinstance(url, str):
            return super().merge_environment_settings(url, proxies or {}, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        env = self._environment.get(key)
        if env is None:
            ca = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            env = (dict(get_environ_proxies(url, no_proxy=None)), ca)
            self._environment[key] = env
        env_proxies, ca_bundle = env
        if ca_bundle and (verify is True or verify is None):
            verify = ca_bundle
        return {"proxies": _merged(env_proxies, self.proxies),
                "stream": self.stream if stream is None else stream,
                "verify": self.verify if verify is None else verify,
                "cert": self.cert if cert is None else cert}


def _merged(request: Mapping[str, str], session: Mapping[str, str | None]) -> dict[str, str]:
    """requests' ``merge_setting`` for proxies: the session's, updated with the request's,
    without the keys set to None."""
    out = {**session, **request}
    return {k: v for k, v in out.items() if v is not None}


def new_session(user_agent: str = "ml-connector/0.1") -> requests.Session:
    """A plain session: JSON by default, no urllib3 retries (the task layer retries), the
    environment's proxy settings read once per destination."""
    session = EnvironmentOnceSession()
    session.headers.update({"Accept": "application/json", "User-Agent": user_agent})
    return session
