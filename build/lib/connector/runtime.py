"""Process start-up: settings, logging, embedded servers, in that order, once."""

from __future__ import annotations

import logging

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
    else:
        log.debug("mode: external Postgres and Redis")
    set_settings(settings)
    return settings

