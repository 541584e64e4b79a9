"""Helpers of the BigCommerce simulator tests (client, webhook receiver, paging helpers).

The tests in this package drive the simulator over real HTTP (plain ``requests`` against
``ServerThread``), checked against reference/bigcommerce.md. Webhooks go to tiny local Flask
receivers.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from flask import Flask, request

from sandbox.bigcommerce import DEFAULT_ACCESS_TOKEN, DEFAULT_STORE_HASH, BcConfig, BcSimulator
from sandbox.common import ServerThread

logging.getLogger("werkzeug").setLevel(logging.ERROR)

AUTH = {"X-Auth-Token": DEFAULT_ACCESS_TOKEN, "Accept": "application/json"}
MONEY = re.compile(r"^-?\d+\.\d{4}$")
RFC2822 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$")
RATE_HEADERS = (
    "X-Rate-Limit-Time-Window-Ms",
    "X-Rate-Limit-Time-Reset-Ms",
    "X-Rate-Limit-Requests-Quota",
    "X-Rate-Limit-Requests-Left",
)
NOT_FOUND_V2 = [{"status": 404, "message": "The requested resource was not found."}]


class Sim:
    """A simulator served over HTTP, with URL helpers."""

    def __init__(self, config: BcConfig | None = None) -> None:
        self.sim = BcSimulator(config or BcConfig(quota=100_000))
        self.server = ServerThread(self.sim.app).start()
        self.url = self.server.url
        self.v2 = f"{self.url}/stores/{DEFAULT_STORE_HASH}/v2"
        self.v3 = f"{self.url}/stores/{DEFAULT_STORE_HASH}/v3"
        self.admin = f"{self.url}/_sandbox/bc"

    def get(self, url: str, **kw: Any) -> requests.Response:
        return requests.get(url, headers=kw.pop("headers", AUTH), timeout=10, **kw)

    def close(self) -> None:
        self.sim.close()
        self.server.stop()


class Receiver:
    """A webhook destination recording raw bodies and headers; ``respond`` picks the status."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.respond: Callable[[int], int] = lambda n: 200
        app = Flask("receiver")

        @app.post("/<path:name>")
        def hook(name: str) -> tuple[str, int]:
            with self.lock:
                n = len(self.calls)
                self.calls.append(
                    {
                        "path": name,
                        "headers": dict(request.headers),
                        "body": request.get_data(as_text=True),
                        "at": time.monotonic(),
                    }
                )
            return "", self.respond(n)

        self.server = ServerThread(app).start()

    def url(self, name: str = "hook") -> str:
        return f"{self.server.url}/{name}"

    def payloads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(c["body"]) for c in self.calls]


def make_hook(s: Sim, scope: str, destination: str, **extra: Any) -> dict[str, Any]:
    r = requests.post(
        f"{s.v3}/hooks",
        headers=AUTH,
        json={"scope": scope, "destination": destination, **extra},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    hook: dict[str, Any] = r.json()["data"]
    return hook


def all_orders(s: Sim, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        r = s.get(f"{s.v2}/orders", params={"limit": 250, "page": page, **params})
        if r.status_code == 204:
            return out
        assert r.status_code == 200
        out += r.json()
        page += 1
