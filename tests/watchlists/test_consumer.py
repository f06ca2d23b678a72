"""AlertConsumer against a real Redis: idempotent group, ack after the handler, autoclaim, malformed skipped."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import redis

from tests.redisbus.support import TcpRedis, wait_for
from tests.watchlists.support import make_alert
from watchlists.alerts import Alert
from watchlists.consumer import AlertConsumer, tail
from watchlists.publisher import AlertPublisher
from watchlists.settings import AlertSettings

STREAM = "vehiclewatch:alerts"


def publish(client: redis.Redis, alerts: list[Alert]) -> None:
    with AlertPublisher(client, AlertSettings(channel=None)) as publisher:
        for alert in alerts:
            publisher.submit(alert)


def pending(client: redis.Redis, group: str) -> int:
    return int(client.xpending(STREAM, group)["pending"])


def stop_soon(timeout: float = 5.0) -> threading.Event:
    """A stop event that sets itself after ``timeout`` seconds, so a consumer under test never runs forever."""
    stop = threading.Event()
    timer = threading.Timer(timeout, stop.set)
    timer.daemon = True
    timer.start()
    return stop


def take(consumer: AlertConsumer, count: int, timeout: float = 5.0) -> list[Alert]:
    """The first ``count`` alerts yielded within ``timeout`` (each acknowledged when the next is asked for)."""
    stop = stop_soon(timeout)
    got: list[Alert] = []
    for alert in consumer.alerts(stop):
        got.append(alert)
        if len(got) == count:
            stop.set()
    return got


def consumer(client: redis.Redis, name: str = "c1", **kwargs: Any) -> AlertConsumer:
    return AlertConsumer(client, STREAM, "g", name, block_ms=50, **kwargs)


def test_group_is_created_once(redis_client: redis.Redis) -> None:
    assert not redis_client.exists(STREAM)
    assert consumer(redis_client).ensure_group()  # MKSTREAM: the stream exists now
    assert redis_client.exists(STREAM)
    assert not consumer(redis_client).ensure_group()  # BUSYGROUP is not an error
    groups = redis_client.xinfo_groups(STREAM)
    assert [g["name"] for g in groups] == [b"g"]


@pytest.mark.parametrize(("start_id", "expected"), [("$", ["new"]), ("0", ["old1", "old2", "new"])])
def test_start_id(redis_client: redis.Redis, start_id: str, expected: list[str]) -> None:
    publish(redis_client, [make_alert("old1"), make_alert("old2")])
    reader = consumer(redis_client, start_id=start_id)
    reader.ensure_group()
    publish(redis_client, [make_alert("new")])
    assert [a.entry.id for a in take(reader, len(expected))] == expected


def test_ack_after_handler_returns(redis_client: redis.Redis) -> None:
    reader = consumer(redis_client, start_id="0")
    publish(redis_client, [make_alert("a"), make_alert("b")])
    stop = stop_soon()
    pending_during_handler: list[int] = []

    def handler(alert: Alert) -> None:
        pending_during_handler.append(pending(redis_client, "g"))
        if alert.entry.id == "b":
            stop.set()

    reader.run(handler, stop)
    assert pending_during_handler == [2, 1]  # both delivered in one read; each acknowledged after its handler
    assert pending(redis_client, "g") == 0


def test_failed_handler_leaves_the_alert_pending_and_it_comes_back(redis_client: redis.Redis) -> None:
    reader = consumer(redis_client, start_id="0", claim_idle_s=0.2)
    publish(redis_client, [make_alert("flaky")])
    stop = stop_soon()
    calls: list[str] = []

    def handler(alert: Alert) -> None:
        calls.append(alert.alert_id)
        if len(calls) == 1:
            raise RuntimeError("downstream hiccup")
        stop.set()

    reader.run(handler, stop)
    assert len(calls) == 2
    assert calls[0] == calls[1]  # the same alert, redelivered by XAUTOCLAIM
    assert pending(redis_client, "g") == 0


def test_autoclaim_takes_over_from_a_dead_consumer(redis_client: redis.Redis) -> None:
    consumer(redis_client, "dead", start_id="0").ensure_group()
    alerts = [make_alert("a"), make_alert("b")]
    publish(redis_client, alerts)
    # "dead" reads both and dies before acknowledging
    redis_client.xreadgroup("g", "dead", {STREAM: ">"}, count=10)
    assert pending(redis_client, "g") == 2
    time.sleep(0.25)
    survivor = consumer(redis_client, "survivor", claim_idle_s=0.2)
    assert [a.alert_id for a in take(survivor, 2)] == [a.alert_id for a in alerts]
    wait_for(lambda: pending(redis_client, "g") == 0)


def test_own_pending_alerts_come_first_after_a_restart(redis_client: redis.Redis) -> None:
    publish(redis_client, [make_alert("first"), make_alert("second")])
    before = consumer(redis_client, start_id="0")
    for delivery in before.deliveries():
        assert delivery.alert.entry.id == "first"
        break  # crash before the ack: both were read, neither acknowledged
    assert pending(redis_client, "g") == 2
    again = consumer(redis_client)  # the same consumer name
    assert [a.entry.id for a in take(again, 2)] == ["first", "second"]
    wait_for(lambda: pending(redis_client, "g") == 0)


def test_malformed_messages_are_logged_acked_and_skipped(
    redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    reader = consumer(redis_client, start_id="0")
    reader.ensure_group()
    redis_client.xadd(STREAM, {"alert": "not json"})
    redis_client.xadd(STREAM, {"something": "else"})
    redis_client.xadd(STREAM, {"alert": make_alert().to_json().replace('"schema_version":4', '"schema_version":99')})
    publish(redis_client, [make_alert("good")])
    assert [a.entry.id for a in take(reader, 1)] == ["good"]
    assert reader.malformed == 3
    wait_for(lambda: pending(redis_client, "g") == 0)
    assert caplog.text.count("skipping malformed alert message") == 3
    assert "no 'alert' field" in caplog.text


def test_bad_arguments(redis_client: redis.Redis) -> None:
    with pytest.raises(ValueError, match="block_ms"):
        AlertConsumer(redis_client, block_ms=0)


def test_tail_follows_the_stream_until_stopped(redis_client: redis.Redis) -> None:
    stop = threading.Event()
    seen: list[str] = []
    thread = threading.Thread(target=tail, args=(redis_client, lambda a: seen.append(a.entry.id), stop))
    thread.start()
    wait_for(lambda: bool(redis_client.exists(STREAM)))  # the group is there: new alerts will reach it
    publish(redis_client, [make_alert("x"), make_alert("y")])
    wait_for(lambda: seen == ["x", "y"])
    stop.set()
    thread.join(timeout=15)  # one block period (1 s) expected
    assert not thread.is_alive()


def test_consumer_survives_a_redis_restart(tcp_redis: TcpRedis, caplog: pytest.LogCaptureFixture) -> None:
    client = tcp_redis.client()
    reader = AlertConsumer(client, STREAM, "g", "c1", block_ms=50)
    stop = threading.Event()
    seen: list[str] = []
    thread = threading.Thread(target=reader.run, args=(lambda a: seen.append(a.entry.id), stop))
    thread.start()
    wait_for(lambda: bool(client.exists(STREAM)))
    publish(client, [make_alert("before")])
    wait_for(lambda: seen == ["before"])
    tcp_redis.stop()
    time.sleep(0.3)  # the consumer sees the connection fail and backs off
    tcp_redis.start()  # empty: no stream, no group
    wait_for(lambda: not thread.is_alive() or bool(client.exists(STREAM)))  # it made the group again
    publish(client, [make_alert("after")])
    wait_for(lambda: seen == ["before", "after"])
    stop.set()
    thread.join(timeout=5)
    client.close()
    assert "reading alerts from Redis failed" in caplog.text
    assert "consumer group 'g' of 'vehiclewatch:alerts' is gone (Redis restarted?): creating it again" in caplog.text
