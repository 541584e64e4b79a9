"""The clients' HTTP session reads the environment's proxy and CA settings once per destination
(issue 14's profile: ~8 % of a load's CPU went to requests re-reading ``os.environ`` on every
request), with the same outcome as a plain ``requests.Session``."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from connector.http import session as http_session
from connector.http.session import new_session

URLS = ["https://ifs.example.com/main/ifsapplications/projection/v1/X.svc/$batch",
        "https://shop.example.org/wp-json/wc/v3/orders?page=2",
        "http://127.0.0.1:8080/token"]

ENVIRONMENTS: list[dict[str, str]] = [
    {},
    {"HTTPS_PROXY": "http://proxy.corp:3128", "HTTP_PROXY": "http://proxy.corp:3128"},
    {"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": "ifs.example.com,127.0.0.1"},
    {"https_proxy": "http://lower.corp:8080", "REQUESTS_CA_BUNDLE": "/etc/ssl/corp.pem"},
    {"CURL_CA_BUNDLE": "/etc/ssl/curl.pem"},
]


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY", "REQUESTS_CA_BUNDLE",
                 "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_same_settings_as_a_plain_requests_session(monkeypatch: pytest.MonkeyPatch,
                                                   env: dict[str, str]) -> None:
    _clear(monkeypatch)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ours, plain = new_session(), requests.Session()
    for url in URLS:
        for verify in (None, True, False, "/my/ca.pem"):
            expected = plain.merge_environment_settings(url, {}, None, verify, None)
            got = ours.merge_environment_settings(url, {}, None, verify, None)
            assert got == expected, (url, verify)


def test_the_environment_is_read_once_per_destination(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    calls: list[Any] = []
    real = http_session.get_environ_proxies

    def counting(url: str, no_proxy: Any = None) -> Any:
        calls.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(http_session, "get_environ_proxies", counting)
    s = new_session()
    for _ in range(50):
        settings = s.merge_environment_settings(URLS[0], {}, None, None, None)
        s.merge_environment_settings(URLS[1], {}, None, None, None)
    assert settings["proxies"]["https"] == "http://proxy.corp:3128"
    assert len(calls) == 2


def test_explicit_proxies_and_session_settings_still_win(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    s = new_session()
    s.verify = "/session/ca.pem"
    s.proxies = {"https": "http://session-proxy:1"}
    got = s.merge_environment_settings(URLS[0], {}, None, None, None)
    assert got == requests.Session.merge_environment_settings(s, URLS[0], {}, None, None, None)
    explicit = s.merge_environment_settings(URLS[0], {"https": "http://explicit:2"}, None,
                                            None, None)
    assert explicit["proxies"]["https"] == "http://explicit:2"
