"""Workers survive a broker restart (issue 10, seen 10): kombu's ``restore_unacked`` crashed
the worker with ``AttributeError: 'NoneType' object has no attribute 'hostname'`` while the
channel closed, and the process exited 0. A real ``ml-connector worker`` against a Redis of
the test's own, restarted under it several times with messages in flight, then still syncing;
and the two kombu paths of the crash (``tasks/broker.py``) one by one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
from celery import Celery

from tests.integration.fleet import OwnRedis, Process, ping
from tests.integration.harness import add_woo_source, make_tenant, wait_until

pytestmark = pytest.mark.integration


def _producer(broker: str) -> Celery:
    app = Celery("mlc-test-producer", broker=broker)
    app.conf.update(task_serializer="json", accept_content=["json"])
    return app


def _ifs_orders_of(ifs: Any, source: int) -> set[str]:
    return {o["CustomerPoNo"] for o in ifs.orders()
            if o["CustomerPoNo"].startswith(f"W{source}-")}


def test_a_worker_survives_redis_restarts_and_still_syncs_afterwards(
        clean_db: None, ifs_sim: Any, woo_sim: tuple[Any, str], tmp_path: Path) -> None:
    """A whole ``ml-connector worker`` (the real CLI, prefork pool) against a Redis of the
    test's own, restarted under it four times while fetches are running and retries wait for
    their countdown (their messages delivered, not acked). Afterwards the worker is alive,
    answers a ping and syncs a source it has never seen end to end (fetch, transform, load:
    orders in IFS). Should it exit anyway, the exit is non-zero, so a supervisor restarts it
    (it was 0: seen 10)."""
    ifs, ifs_url = ifs_sim
    woo, woo_url = woo_sim
    for url in (ifs_url, woo_url):
        requests.post(f"{url}/_sandbox/reset", timeout=10).raise_for_status()
    ifs.seed_customer({"CustomerId": "WALKIN", "Name": "Walk-in", "Company": "10"})
    woo.seed(customers=2, orders=4, seed=3, guest_ratio=0.5, silent=True)
    tenant = make_tenant(ifs_url)
    sources = [add_woo_source(tenant, woo_url, name=f"shop{i}") for i in range(4)]
    broker = OwnRedis(tmp_path).start()
    name = f"restart-{time.monotonic_ns()}@localhost"
    worker = Process(["worker", "-n", name, "--concurrency", "2"], tmp_path / "worker.log",
                     env={"CELERY_BROKER_URL": broker.url, "REDIS_URL": broker.url}).start()
    producer = _producer(broker.url)
    try:
        wait_until(lambda: ping(broker.url, name), 90, interval=0.5, what="the worker")
        # Slow store answers keep fetches running (their messages delivered, not acked)
        # while the broker goes away; messages waiting for their countdown (a retry's ETA)
        # are held delivered and unacknowledged too. Each restart comes once the worker is
        # back on the broker, so each is a connection the worker loses with work in flight.
        requests.post(f"{woo_url}/_sandbox/faults", json={"latency_ms": 2500}, timeout=10)
        for i in range(4):
            for source in sources:
                producer.send_task("sync.fetch", args=[source, "orders", None], queue="fetch")
            producer.send_task("notify.sweep", queue="maintenance", countdown=8)
            time.sleep(1.5)  # the fetches are in flight (nothing to wait on from outside)
            broker.restart(down_s=0.5 + i * 0.5)
            wait_until(lambda: not worker.alive or ping(broker.url, name), 120, interval=1,
                       what="the worker to reconnect to the restarted broker (or exit)")
            if not worker.alive:
                break
        requests.delete(f"{woo_url}/_sandbox/faults", timeout=10)
        if not worker.alive:
            code = worker.proc.returncode if worker.proc else None
            assert code not in (0, None), (
                f"the worker exited with {code} after the broker restarts: a supervisor "
                f"that restarts on failure would not restart it\n{worker.output()[-3000:]}")
            return
        log = worker.output()
        assert "Unrecoverable error" not in log, log[-3000:]
        # Still working: a source it has never fetched syncs end to end after the restarts.
        fresh = add_woo_source(tenant, woo_url, name="after-restarts")
        expected = {f"W{fresh}-{o['number']}" for o in woo.orders()}
        producer.send_task("sync.fetch", args=[fresh, "orders", None], queue="fetch")
        wait_until(lambda: _ifs_orders_of(ifs, fresh) >= expected, 180, interval=1,
                   what="the orders of a source synced after the restarts")
        assert worker.alive, worker.output()[-3000:]
    finally:
        producer.close()
        code = worker.stop()
        broker.stop()
    assert code in (0, None) or code < 0  # a clean stop; an unrecoverable error is non-zero


def test_closing_a_channel_after_its_connection_was_collected_does_not_crash(
        tmp_path: Path) -> None:
    """The exact path of the crash: a message delivered and not acked, the broker restarted,
    the connection collected (its transport detached), then the consumer's channel closed."""
    from kombu import Connection, Exchange, Queue

    import tasks.app  # noqa: F401 - installs the work-around, as every worker does

    broker = OwnRedis(tmp_path).start()
    try:
        queue = Queue("t", Exchange("t"), "t")
        with Connection(broker.url) as producer:
            producer.Producer().publish({"id": 1}, exchange=queue.exchange, routing_key="t",
                                        declare=[queue])
        conn = Connection(broker.url)
        channel = conn.channel()
        assert queue(channel).get(no_ack=False) is not None  # delivered, not acked
        broker.restart(down_s=0.5)
        conn._do_close_transport()  # what Connection.collect() does after a lost connection
        channel.close()  # kombu 5.7 without the work-around: AttributeError ... 'hostname'
    finally:
        broker.stop()


def test_acknowledging_on_a_collected_connection_does_not_crash(tmp_path: Path) -> None:
    """A task that was running when the broker went away finishes and acks its message on the
    old channel (seen in the chaos run: ``'NoneType' object has no attribute 'client'``)."""
    from kombu import Connection, Exchange, Queue

    import tasks.app  # noqa: F401 - installs the work-around, as every worker does

    broker = OwnRedis(tmp_path).start()
    try:
        queue = Queue("t", Exchange("t"), "t")
        with Connection(broker.url) as producer:
            producer.Producer().publish({"id": 1}, exchange=queue.exchange, routing_key="t",
                                        declare=[queue])
        conn = Connection(broker.url)
        channel = conn.channel()
        message = queue(channel).get(no_ack=False)
        assert message is not None
        broker.restart(down_s=0.5)
        # The consumer's channel as the lost connection leaves it: detached from its
        # transport, its pools disconnected.
        conn.transport.close_channel(channel)
        channel._disconnect_pools()
        message.ack()  # kombu 5.7 without the work-around: AttributeError ... 'client'
    finally:
        broker.stop()
