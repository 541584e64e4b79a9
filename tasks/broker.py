"""A work-around for a kombu crash on a broker restart (issue 10, seen 10).

kombu 5.7's Redis transport restores a channel's unacknowledged messages when the channel
closes (``QoS.restore_unacked``). When the worker's consumer loses its connection, the
connection is collected first and its transport detached (``transport.client = None``); a
channel closed after that — the consumer's — builds a new Redis client from
``connection.client.hostname`` and dies with ``AttributeError: 'NoneType' object has no
attribute 'hostname'``. Celery calls that an unrecoverable error and the worker stops.

Nothing needs restoring there: the messages are still in Redis's ``unacked`` hash (the next
consumer's ``restore_visible`` puts them back after the visibility timeout) or, if Redis lost
its data, Postgres is the queue of record and the sweeper hands the rows out again. So a
restore without a connection is skipped with one log line instead of killing the worker.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)

_original = kombu_redis.QoS.restore_unacked


def _restore_unacked(self: Any, client: Any = None) -> Any:
    connection = getattr(self.channel, "connection", None)
    if client is None and getattr(connection, "client", None) is None:
        pending = len(self._delivered)
        self._delivered.clear()
        if pending:
            log.warning("broker connection gone: %d unacknowledged message(s) left to the "
                        "broker's visibility timeout and the sweeper", pending)
        return None
    return _original(self, client)


def install() -> None:
    """Patch kombu once (idempotent)."""
    if kombu_redis.QoS.restore_unacked is not _restore_unacked:
        kombu_redis.QoS.restore_unacked = _restore_unacked
