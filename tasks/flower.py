"""Flower behind the operator's basic auth, without the traps of its own option parsing.

- ``FLOWER_BASIC_AUTH`` (and ``--basic-auth``) is split on commas by Flower, so a comma in the
  password silently shortened it to the part before the comma. The credentials are instead set
  on Flower's parsed options as one list entry, in this process: never split, never in ``argv``
  (``ps``) or in the environment of child processes.
- Flower serves ``/metrics`` and ``/healthcheck`` without authentication, and they name the
  workers and tasks: both are wrapped so they ask for the same credentials as every other page.
"""

from __future__ import annotations

import os
from typing import Any


def protect_open_endpoints() -> None:
    """Put Flower's unauthenticated handlers (``/metrics``, ``/healthcheck``) behind its auth."""
    import tornado.web
    from flower.views.monitor import Healthcheck, Metrics

    for handler in (Metrics, Healthcheck):
        get = handler.get
        if getattr(get, "_mlc_protected", False):
            continue
        wrapped: Any = tornado.web.authenticated(get)
        wrapped._mlc_protected = True
        handler.get = wrapped


def run_flower(app: Any, *, user: str, password: str, port: int, address: str) -> None:
    """Start Flower for ``app`` with ``user:password`` as its only basic-auth credential."""
    from flower.options import options  # defines Flower's options on tornado's registry

    # An operator-set FLOWER_BASIC_AUTH would be split on commas and replace ours.
    os.environ.pop("FLOWER_BASIC_AUTH", None)
    options.basic_auth = [f"{user}:{password}"]
    protect_open_endpoints()
    app.start(["flower", f"--port={port}", f"--address={address}"])
