"""A work-around for a kombu crash on a broker restart (issue 10, seen 10).

kombu 5.7's Redis transport restores a channel's unacknowledged messages when the channel
closes (``QoS.restore_unacked``). When the worker's consumer loses its connection, the
connection is collected first and its transport detached (``transport.client = None``); a
channel closed after that — the consumer's — builds a new Redis client from
``connection.client.hostname`` and dies with ``AttributeError: 'NoneType' object has no
attribute 'hostname'``. Celery calls that an unrecoverable error and the worker stops.

The same detached channel kills the worker when a task that was running finishes and its
message is acknowledged (``QoS.ack`` → ``'NoneType' object has no attribute 'client'``, seen
in the chaos run).

Nothing needs restoring there: the messages are still in Redis's ``unacked`` hash (the next
consumer's ``restore_visible`` puts them back after the visibility timeout) or, if Redis lost
its data, Postgres is the queue of record and the sweeper hands the rows out again. So a
restore without a connection is skipped with one log line instead of killing the worker.

kombu's own code runs first: it still works on a detached channel that kept its Redis client
(the messages are then restored at once, not after the visibility timeout). Only the
``AttributeError`` of a detached channel is caught; any other error is kombu's to raise.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)

_original = kombu_redis.QoS.restore_unacked
_original_ack = kombu_redis.QoS.ack
_original_reject = kombu_redis.QoS.reject


def _detached(qos: Any) -> bool:
    """The channel's connection was collected: no Redis client can be built from it."""
    connection = getattr(qos.channel, "connection", None)
    return getattr(connection, "client", None) is None


def _restore_unacked(self: Any, client: Any = None) -> Any:
    try:
        return _original(self, client)
    except AttributeError:
        if client is not None or not _detached(self):
            raise
    pending = len(self._delivered)
    self._delivered.clear()
    if pending:
        log.warning("broker connection gone: %d unacknowledged message(s) left to the "
                    "broker's visibility timeout and the sweeper", pending)
    return None


def _ack(self: Any, delivery_tag: Any) -> Any:
    # A task that finished after the connection it came on was lost: the ack cannot reach
    # Redis. The message is redelivered after the visibility timeout; every task is
    # idempotent (acks_late), so the repeat finds its work done.
    try:
        return _original_ack(self, delivery_tag)
    except AttributeError:
        if not _detached(self):
            raise
    self._delivered.pop(delivery_tag, None)
    log.warning("broker connection gone: message %s not acknowledged; it comes back after "
                "the visibility timeout", delivery_tag)
    return None


def _reject(self: Any, delivery_tag: Any, requeue: bool = False) -> Any:
    try:
        return _original_reject(self, delivery_tag, requeue=requeue)
    except AttributeError:
        if not _detached(self):
            raise
    self._delivered.pop(delivery_tag, None)
    log.warning("broker connection gone: message %s not rejected; it comes back after the "
                "visibility timeout", delivery_tag)
    return None


def install() -> None:
    """Patch kombu once (idempotent)."""
    if kombu_redis.QoS.restore_unacked is not _restore_unacked:
        kombu_redis.QoS.restore_unacked = _restore_unacked
        kombu_redis.QoS.ack = _ack
        kombu_redis.QoS.reject = _reject
