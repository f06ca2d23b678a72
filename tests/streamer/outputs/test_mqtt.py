"""MQTT: alerts from the stream reach a subscriber of a real broker, each once, acknowledged in their group.

Needs a broker on 127.0.0.1:1883 (``$VEHICLEWATCH_TEST_MQTT_URL``); skipped, saying so, where none answers (CI has
none: MQTT is optional).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

mqtt = pytest.importorskip("paho.mqtt.client", reason="install the mqtt extra (paho-mqtt)")

from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from streamer.outputs.mqtt import MqttPublisher, wait_connected  # noqa: E402
from streamer.outputs.settings import MqttSettings  # noqa: E402
from tests.streamer.outputs.test_webhooks import STREAM, publish  # noqa: E402

URL = os.environ.get("VEHICLEWATCH_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")


@pytest.fixture
def broker() -> str:
    where = urlsplit(URL)
    try:
        socket.create_connection((where.hostname or "127.0.0.1", where.port or 1883), timeout=1).close()
    except OSError:
        pytest.skip(f"no MQTT broker at {where.hostname}:{where.port} (set VEHICLEWATCH_TEST_MQTT_URL)")
    return URL


def test_alerts_reach_an_mqtt_subscriber_once_each(broker: str, redis_client: redis.Redis) -> None:
    prefix = f"vehiclewatch-test/{uuid.uuid4().hex[:8]}"
    received: list[tuple[str, dict[str, Any]]] = []
    subscribed = threading.Event()
    subscriber = mqtt.Client(CallbackAPIVersion.VERSION2)
    subscriber.on_connect = lambda c, *_: c.subscribe(f"{prefix}/#", qos=1)
    subscriber.on_subscribe = lambda *_: subscribed.set()
    subscriber.on_message = lambda _c, _u, m: received.append((m.topic, json.loads(m.payload)))
    where = urlsplit(broker)
    subscriber.connect(where.hostname or "127.0.0.1", where.port or 1883)
    subscriber.loop_start()
    publisher = MqttPublisher(redis_client, MqttSettings(enabled=True, url=broker, topic_prefix=prefix), STREAM)
    publisher.consumer.start_id = "0"
    try:
        assert subscribed.wait(5)
        ids = publish(redis_client, 3)
        publisher.start()
        assert wait_connected(publisher, 5)
        deadline = time.monotonic() + 10
        while len(received) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # anything more would be a duplicate
        assert [body["alert_id"] for _, body in received] == ids
        assert {topic for topic, _ in received} == {f"{prefix}/gate"}
        summary: Any = redis_client.xpending(STREAM, "vehiclewatch:mqtt")
        assert summary["pending"] == 0
    finally:
        publisher.stop()
        subscriber.loop_stop()
        subscriber.disconnect()
