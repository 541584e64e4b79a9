"""Helpers of the WooCommerce simulator tests (client, receiver, error checks).

The tests in this package drive the simulator over real HTTP (``ServerThread`` + plain
``requests``), checked against ``reference/woocommerce.md``: auth (§1, §2), shapes and money
(§3), paging and filters (§4), hosting 429s (§5), webhooks (§6), and the moving-records paging
bug of Decision 2.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import requests
from flask import Flask

from sandbox.woocommerce import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    WooConfig,
    WooSimulator,
)

logging.getLogger("werkzeug").setLevel(logging.ERROR)

CK, CS = DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET
API = "/wp-json/wc/v3"
MONEY = re.compile(r"^-?\d+\.\d{2}$")
NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
ANCHOR = datetime.fromisoformat("2025-03-14T12:00:00+00:00")


@dataclass
class Shop:
    sim: WooSimulator
    url: str
    session: requests.Session

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.session.get(self.url + API + path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.session.post(self.url + API + path, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.session.put(self.url + API + path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.session.delete(self.url + API + path, **kw)

    def admin(self, method: str, path: str, **kw: Any) -> requests.Response:
        return requests.request(method, f"{self.url}/_sandbox{path}", timeout=10, **kw)


class _Switch:
    """One WSGI server for the whole package; each test plugs its own simulator in (stopping a
    ``ServerThread`` costs its 0.5 s poll interval, which adds up over many tests)."""

    def __init__(self) -> None:
        self.app: Any = Flask("idle")

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


def _start(server: tuple[_Switch, str], config: WooConfig | None = None) -> Iterator[Shop]:
    switch, url = server
    sim = WooSimulator(config)
    switch.app = sim.app
    session = requests.Session()
    session.auth = (CK, CS)
    try:
        yield Shop(sim, url, session)
    finally:
        session.close()
        sim.close()


@dataclass
class Receiver:
    """A tiny webhook endpoint recording raw bodies and headers."""

    url: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200


def assert_error(
    resp: requests.Response, status: int, code: str, message: str | None = None
) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"code", "message", "data"}
    assert body["code"] == code
    assert body["data"]["status"] == status
    if message is not None:
        assert body["message"] == message


def cents(value: str) -> int:
    return int(Decimal(value) * 100)


def all_orders(shop: Shop, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        r = shop.get("/orders", params={"per_page": 100, "page": page, **params})
        assert r.status_code == 200
        out.extend(r.json())
        if page >= int(r.headers["X-WP-TotalPages"]):
            return out
        page += 1
