"""``ml-connector web``: the webhook and operator app under gunicorn (the ``web`` process)."""

from __future__ import annotations

from typing import Any

import click

from connector.cli.common import bootstrap


def _child_exit(server: Any, worker: Any) -> None:
    """A gunicorn worker exited: drop its live metrics (multiprocess mode)."""
    from connector.metrics import mark_process_dead

    mark_process_dead(worker.pid)


@click.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True, envvar="MLC_WEB_BIND",
              help="host:port (env MLC_WEB_BIND; PaaS platforms pass 0.0.0.0:$PORT).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              envvar="WEB_CONCURRENCY",
              help="gunicorn worker processes (env WEB_CONCURRENCY, as Heroku sets it).")
def web(bind: str, workers: int) -> None:
    """Serve webhooks, health and operator pages under gunicorn (the `web` process)."""
    bootstrap()
    from gunicorn.app.base import BaseApplication

    from web.app import create_app

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")
            self.cfg.set("child_exit", _child_exit)

        def load(self) -> Any:
            return create_app()

    _App().run()
