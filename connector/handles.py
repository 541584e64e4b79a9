"""Process-wide handles the connector shares: the vault and the Redis connection."""

from __future__ import annotations

from collections.abc import Callable

import redis

from connector import faults
from connector.config import get_settings
from connector.crypto import Vault

_vault: Vault | None = None
_redis: redis.Redis | None = None
#: Caches built from these handles register here to be forgotten with them.
_on_reset: list[Callable[[], None]] = []


def on_reset(fn: Callable[[], None]) -> None:
    """Call ``fn`` whenever the handles are reset (e.g. to drop cached clients)."""
    _on_reset.append(fn)


def get_vault() -> Vault:
    global _vault
    if _vault is None:
        _vault = Vault(get_settings().encryption_keys)
    return _vault


def get_redis() -> redis.Redis:
    global _redis
    if _redis is None:
        url = get_settings().redis_url
        if not url:
            raise RuntimeError("Redis URL not resolved yet (call connector.runtime.bootstrap)")
        _redis = redis.Redis.from_url(url, socket_timeout=10, health_check_interval=30)
    return _redis


def reset_handles() -> None:
    """Forget cached handles (settings changed, or a forked worker)."""
    global _vault, _redis
    for fn in _on_reset:
        fn()
    _vault = None
    if _redis is not None:
        _redis.close()
    _redis = None


def _count_fault(kind: str) -> None:
    get_redis().hincrby(faults.COUNTER_KEY, kind, 1)


faults.set_sink(_count_fault)
