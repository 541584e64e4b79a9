"""Fixtures of the WooCommerce simulator tests: one WSGI server for the package with a
fresh simulator per test, and a webhook receiver.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask, Response, request

from sandbox.common import ServerThread
from sandbox.woocommerce import WooConfig
from tests.sandbox.woocommerce.support import Receiver, Shop, _start, _Switch


@pytest.fixture(scope="package")
def server() -> Iterator[tuple[_Switch, str]]:
    switch = _Switch()
    thread = ServerThread(switch).start()  # type: ignore[arg-type]
    yield switch, thread.url
    thread.stop()


@pytest.fixture()
def shop(server: tuple[_Switch, str]) -> Iterator[Shop]:
    yield from _start(server)


@pytest.fixture()
def seeded(shop: Shop) -> Shop:
    shop.sim.seed(customers=12, orders=40, seed=7, invalid=3, currencies=("EUR", "USD"))
    return shop


@pytest.fixture()
def http_shop(server: tuple[_Switch, str]) -> Iterator[Shop]:
    """A plain-HTTP store: OAuth 1.0a only."""
    yield from _start(server, WooConfig(assume_https=False))


@pytest.fixture(scope="package")
def _receiver_server() -> Iterator[tuple[dict[str, Receiver], str]]:
    app = Flask("receiver")
    holder: dict[str, Receiver] = {}
    lock = threading.Lock()

    @app.post("/hook")
    def hook() -> Response:
        rec = holder["r"]
        with lock:
            rec.calls.append(
                {
                    "headers": dict(request.headers),
                    "body": request.get_data(),
                    "form": dict(request.form),
                }
            )
        return Response("ok", status=rec.status)

    thread = ServerThread(app).start()
    yield holder, thread.url
    thread.stop()


@pytest.fixture()
def receiver(_receiver_server: tuple[dict[str, Receiver], str]) -> Receiver:
    holder, url = _receiver_server
    holder["r"] = Receiver(url=url + "/hook")
    return holder["r"]
