"""Process start-up: settings, logging, embedded servers, in that order, once."""

from __future__ import annotations

import atexit
import contextlib
import logging
import signal
from types import FrameType

from connector import embedded
from connector.config import Settings, get_settings, set_settings
from connector.logs import setup_logging

log = logging.getLogger(__name__)


def bootstrap(settings: Settings | None = None) -> Settings:
    """Resolve the settings of this process (starting embedded servers when configured so)."""
    settings = settings or get_settings()
    setup_logging(settings.log_level)
    if settings.embedded_database or settings.embedded_redis or not settings.encryption_keys:
        settings = embedded.start(settings)
        _stop_embedded_on_exit()
    else:
        log.debug("mode: external Postgres and Redis")
    set_settings(settings)
    return settings



def _stop_embedded_on_exit() -> None:
    """Stop the embedded servers at exit, on Ctrl-C and on SIGTERM. SIGTERM's default action
    ends the process without running exit handlers, so it becomes a normal exit (status 143)
    unless someone (Celery's worker, gunicorn) installs a handler of their own later, which
    ends the process normally too."""
    atexit.register(embedded.stop)
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        # Not the main thread (ValueError): the process's own handling applies.
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
