"""RedisBudget against a real Redis (db 15): the fleet-wide token bucket."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from connector.errors import RateLimited
from connector.ratelimit import KEY_PREFIX, RedisBudget, budget_key

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def r() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    yield client
    client.close()


@pytest.fixture
def key(r: redis.Redis) -> Iterator[str]:
    name = f"test-ratelimit-{uuid.uuid4().hex}"
    yield name
    for k in r.scan_iter(f"{KEY_PREFIX}{name}*"):
        r.delete(k)


def test_key_is_namespaced(r: redis.Redis, key: str) -> None:
    budget = RedisBudget(r, key, rate_per_min=600, burst=1)
    assert budget.key == f"mlc:budget:{key}"
    assert budget.try_acquire() == 0.0
    assert r.exists(f"mlc:budget:{key}")
    assert r.pttl(f"mlc:budget:{key}") > 0  # idle buckets expire
    assert budget_key("ifs", 7) == "ifs:7"


def test_grants_up_to_burst_then_asks_to_wait(r: redis.Redis, key: str) -> None:
    budget = RedisBudget(r, key, rate_per_min=600, burst=3)  # 10 tokens/s
    assert [budget.try_acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = budget.try_acquire()
    assert 0.0 < wait <= 0.1
    # Asking again does not consume anything: the wait only shrinks.
    assert 0.0 < budget.try_acquire() <= wait


def test_refills_over_time(r: redis.Redis, key: str) -> None:
    budget = RedisBudget(r, key, rate_per_min=600, burst=2)
    assert budget.try_acquire() == 0.0
    assert budget.try_acquire() == 0.0
    wait = budget.try_acquire()
    assert wait > 0
    time.sleep(wait + 0.02)
    assert budget.try_acquire() == 0.0
    assert budget.try_acquire() > 0  # only one token came back in that time


def test_refill_never_exceeds_burst(r: redis.Redis, key: str) -> None:
    budget = RedisBudget(r, key, rate_per_min=6000, burst=2)  # 100 tokens/s
    time.sleep(0.05)
    assert budget.try_acquire() == 0.0
    time.sleep(0.1)  # would be 10 tokens without the cap
    assert budget.try_acquire() == 0.0
    assert budget.try_acquire() == 0.0
    assert budget.try_acquire() > 0


def test_two_workers_share_one_budget(r: redis.Redis, key: str) -> None:
    worker_a = RedisBudget(r, key, rate_per_min=60, burst=4)
    worker_b = RedisBudget(redis.Redis.from_url(REDIS_URL), key, rate_per_min=60, burst=4)
    assert worker_a.try_acquire() == 0.0
    assert worker_b.try_acquire() == 0.0
    assert worker_a.try_acquire(2) == 0.0
    assert worker_b.try_acquire() > 0  # a's spending is b's too
    assert worker_a.try_acquire() > 0


def test_concurrent_workers_never_overspend(r: redis.Redis, key: str) -> None:
    burst = 50
    granted: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        budget = RedisBudget(redis.Redis.from_url(REDIS_URL), key, rate_per_min=1, burst=burst)
        mine = sum(1 for _ in range(20) if budget.try_acquire() == 0.0)
        with lock:
            granted.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == burst  # 160 attempts, exactly the burst granted


def test_acquire_or_raise(r: redis.Redis, key: str) -> None:
    budget = RedisBudget(r, key, rate_per_min=60, burst=1)
    started = time.monotonic()
    budget.acquire_or_raise()
    with pytest.raises(RateLimited) as caught:
        budget.acquire_or_raise()
    assert time.monotonic() - started < 0.1  # never sleeps
    assert caught.value.retry_after is not None
    assert 0.5 < caught.value.retry_after <= 1.0
    assert caught.value.retryable


def test_rejects_impossible_requests(r: redis.Redis, key: str) -> None:
    budget = RedisBudget(r, key, rate_per_min=60, burst=2)
    with pytest.raises(ValueError):
        budget.try_acquire(3)
    with pytest.raises(ValueError):
        budget.try_acquire(0)
    with pytest.raises(ValueError):
        RedisBudget(r, key, rate_per_min=0)


def test_default_burst_is_one_second_of_rate(r: redis.Redis, key: str) -> None:
    assert RedisBudget(r, key, rate_per_min=1000).burst == 17
    assert RedisBudget(r, key, rate_per_min=10).burst == 1


def test_works_with_decoded_responses(r: redis.Redis, key: str) -> None:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    budget = RedisBudget(client, key, rate_per_min=600, burst=1)
    assert budget.try_acquire() == 0.0
    assert budget.try_acquire() > 0
    budget.reset()
    assert budget.try_acquire() == 0.0
