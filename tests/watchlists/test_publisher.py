"""AlertPublisher against a real Redis: one transaction per alert, retries while Redis is away, nothing lost."""

from __future__ import annotations

import threading
import time
from typing import Any

import cv2
import numpy as np
import pytest
import redis

from tests.redisbus.support import TcpRedis, wait_for, xrange
from tests.watchlists.support import make_alert, stream_alerts
from watchlists.alerts import Alert
from watchlists.publisher import AlertPublisher, PublisherClosedError
from watchlists.settings import AlertSettings


def crop() -> np.ndarray[Any, np.dtype[np.uint8]]:
    image = np.zeros((70, 100, 3), np.uint8)
    image[:, :50] = (0, 0, 255)
    return image


class Recorder:
    """A PublishObserver that remembers what it was told."""

    def __init__(self) -> None:
        self.published: list[tuple[Alert, float]] = []
        self.errors: list[Exception] = []
        self.rejected: list[Alert] = []

    def on_published(self, alert: Alert, seconds: float) -> None:
        self.published.append((alert, seconds))

    def on_error(self, exc: Exception) -> None:
        self.errors.append(exc)

    def on_rejected(self, alert: Alert) -> None:
        self.rejected.append(alert)


def test_publish_writes_stream_snapshot_and_channel(redis_client: redis.Redis) -> None:
    settings = AlertSettings()
    pubsub = redis_client.pubsub()
    assert settings.channel is not None
    pubsub.subscribe(settings.channel)
    confirmation = pubsub.get_message(timeout=2)
    assert confirmation is not None
    assert confirmation["type"] == "subscribe"
    recorder = Recorder()
    alert = make_alert()
    with AlertPublisher(redis_client, settings, recorder) as publisher:
        assert publisher.submit(alert, crop())
    [(_message_id, fields)] = xrange(redis_client, settings.stream)
    assert fields[b"alert_id"].decode() == alert.alert_id
    assert fields[b"entry_id"] == b"red-van"
    assert fields[b"camera_id"] == b"gate"
    published = Alert.from_json(fields[b"alert"])
    assert published.alert_id == alert.alert_id
    assert published.published_at is not None
    assert published.published_at >= alert.captured_at
    assert published.snapshot_key == f"vehiclewatch:snapshot:{alert.alert_id}"
    # the snapshot: a JPEG of the crop that expires
    assert 3590 <= redis_client.ttl(published.snapshot_key) <= 3600
    jpeg = redis_client.get(published.snapshot_key)
    assert isinstance(jpeg, bytes)
    assert jpeg[:2] == b"\xff\xd8"
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    assert decoded.shape == (70, 100, 3)
    assert abs(int(decoded[35, 10, 2]) - 255) < 10
    assert int(decoded[35, 90].max()) < 10
    # the channel got the same message
    message = pubsub.get_message(timeout=2, ignore_subscribe_messages=True)
    assert message is not None
    assert Alert.from_json(message["data"]) == published
    pubsub.close()
    # the observer saw it
    [(seen, seconds)] = recorder.published
    assert seen == published
    assert 0 <= seconds < 5
    assert publisher.stats().published_by_entry == {"red-van": 1}


def test_no_crop_no_snapshot_and_no_channel(redis_client: redis.Redis) -> None:
    settings = AlertSettings(channel=None, stream="test:alerts")
    with AlertPublisher(redis_client, settings) as publisher:
        publisher.submit(make_alert(), None)
        publisher.submit(make_alert(), np.zeros((0, 0, 3), np.uint8))
    assert [a.snapshot_key for a in stream_alerts(redis_client, "test:alerts")] == [None, None]
    assert redis_client.keys("vehiclewatch:snapshot:*") == []


def test_stream_is_trimmed_approximately(redis_client: redis.Redis) -> None:
    with AlertPublisher(redis_client, AlertSettings(stream_maxlen=10)) as publisher:
        for i in range(600):
            publisher.submit(make_alert(index=i))
    length = redis_client.xlen("vehiclewatch:alerts")
    assert 10 <= length < 300  # MAXLEN ~ trims whole stream nodes (100 entries each by default)
    last = stream_alerts(redis_client)[-1]
    assert last.frame_index == 599


def test_full_queue_blocks_then_refuses(redis_client: redis.Redis) -> None:
    recorder = Recorder()
    publisher = AlertPublisher(redis_client, AlertSettings(max_pending=1, submit_timeout_s=0.05), recorder)
    first, second = make_alert(index=1), make_alert(index=2)
    assert publisher.submit(first)  # not started yet: it waits in the queue
    started = time.monotonic()
    assert not publisher.submit(second)
    assert time.monotonic() - started >= 0.05
    assert recorder.rejected == [second]
    assert publisher.stats().rejected == 1
    assert publisher.pending == 1
    assert publisher.close(timeout=5) == 0  # close drains what was accepted
    assert [a.alert_id for a in stream_alerts(redis_client)] == [first.alert_id]


def test_submit_after_close_and_bad_crops(redis_client: redis.Redis) -> None:
    publisher = AlertPublisher(redis_client, AlertSettings()).start()
    with pytest.raises(ValueError, match=r"crop must be a BGR uint8 \(H, W, 3\) image, got float32"):
        publisher.submit(make_alert(), np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="got uint8 \\(4, 4\\)"):
        publisher.submit(make_alert(), np.zeros((4, 4), np.uint8))
    publisher.close()
    with pytest.raises(PublisherClosedError):
        publisher.submit(make_alert())
    with pytest.raises(PublisherClosedError):
        publisher.start()


def test_observer_failures_do_not_stop_publishing(redis_client: redis.Redis) -> None:
    class Broken(Recorder):
        def on_published(self, alert: Alert, seconds: float) -> None:
            raise RuntimeError("metrics broke")

    with AlertPublisher(redis_client, AlertSettings(), Broken()) as publisher:
        for i in range(3):
            publisher.submit(make_alert(index=i))
    assert redis_client.xlen("vehiclewatch:alerts") == 3


# Redis going away --------------------------------------------------------------------------------------------------


FAST_RETRY = AlertSettings(retry_initial_s=0.02, retry_max_s=0.2)


def test_alerts_survive_redis_restart(tcp_redis: TcpRedis) -> None:
    client = tcp_redis.client()
    recorder = Recorder()
    publisher = AlertPublisher(client, FAST_RETRY, recorder).start()
    publisher.submit(make_alert(index=0))
    wait_for(lambda: len(recorder.published) == 1)

    tcp_redis.stop()
    sent = [make_alert(entry_id=f"e{i % 3}", index=i) for i in range(1, 21)]
    for alert in sent:
        assert publisher.submit(alert, crop())
    wait_for(lambda: len(recorder.errors) >= 2)  # it is retrying
    assert publisher.pending == len(sent)

    tcp_redis.start()  # a fresh, empty server on the same port
    wait_for(lambda: publisher.pending == 0)
    assert publisher.close(timeout=5) == 0
    arrived = stream_alerts(client)
    assert [a.alert_id for a in arrived] == [a.alert_id for a in sent]  # all of them, in order
    assert all(client.exists(a.snapshot_key) for a in arrived if a.snapshot_key)
    stats = publisher.stats()
    assert (stats.published, stats.rejected, stats.lost_at_close) == (21, 0, 0)
    assert stats.errors == len(recorder.errors) >= 2
    assert all(isinstance(e, redis.ConnectionError) for e in recorder.errors)
    client.close()


def test_close_gives_up_after_its_timeout_and_counts_the_loss(
    tcp_redis: TcpRedis, caplog: pytest.LogCaptureFixture
) -> None:
    client = tcp_redis.client()
    tcp_redis.stop()
    publisher = AlertPublisher(client, FAST_RETRY).start()
    for i in range(5):
        publisher.submit(make_alert(index=i))
    started = time.monotonic()
    assert publisher.close(timeout=0.5) == 5
    assert time.monotonic() - started < 5
    assert "5 alert(s) could not be written to Redis and are lost" in caplog.text
    assert publisher.stats().lost_at_close == 5
    client.close()


def test_close_waits_for_a_submit_in_progress(redis_client: redis.Redis) -> None:
    """An alert that submit() is still waiting to queue when close() begins is written, not lost."""
    publisher = AlertPublisher(redis_client, AlertSettings(max_pending=1, submit_timeout_s=5))
    publisher.submit(make_alert(index=0))  # not started: the queue is full now
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(publisher.submit(make_alert(index=1))))
    thread.start()
    wait_for(lambda: publisher._writer._submitting == 1)  # blocked in submit(), waiting for room
    assert publisher.close(timeout=5) == 0
    thread.join()
    assert results == [True]
    assert [a.frame_index for a in stream_alerts(redis_client)] == [0, 1]


def test_a_bug_drops_one_alert_not_the_publisher(redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    write = AlertPublisher._write
    poisoned = make_alert("poisoned")

    def buggy(self: AlertPublisher, item: Any) -> Alert | None:
        if item.alert.alert_id == poisoned.alert_id:
            raise TypeError("a bug")
        return write(self, item)

    monkeypatch.setattr(AlertPublisher, "_write", buggy)
    recorder = Recorder()
    with AlertPublisher(redis_client, AlertSettings(), recorder) as publisher:
        publisher.submit(poisoned)
        publisher.submit(make_alert("fine"))
    assert [a.entry.id for a in stream_alerts(redis_client)] == ["fine"]
    assert publisher.stats().failed == 1
    assert [type(e) for e in recorder.errors] == [TypeError]
