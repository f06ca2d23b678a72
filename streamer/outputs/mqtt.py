"""MQTT: every alert of the stream published as JSON to ``<topic_prefix>/<camera_id>``, by a Redis consumer group.

At least once, like the webhooks: an alert is acknowledged in its group only after the broker acknowledged the
publish (QoS 1 or 2); while the broker is away, paho reconnects with backoff and the alerts wait in the stream.
Subscribers de-duplicate on ``alert_id``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import redis
from paho.mqtt.enums import CallbackAPIVersion

from common.redaction import redact_url
from redisbus.streams import StreamConsumer, StreamMessage
from streamer.outputs.settings import MqttSettings
from watchlists.publisher import STREAM_FIELD_ALERT

log = logging.getLogger(__name__)


class MqttPublisher:
    """Publishes the alert stream to an MQTT broker, on a thread of its own."""

    def __init__(self, client: redis.Redis, settings: MqttSettings, stream: str, *, block_ms: int = 1000) -> None:
        self.settings = settings
        url = urlsplit(settings.url.get_secret_value())
        if url.scheme not in ("mqtt", "mqtts") or not url.hostname:
            raise ValueError(f"mqtt.url must be mqtt://host[:port] or mqtts://...; got {redact_url(url.geturl())}")
        self.shown = redact_url(url.geturl())
        self.mqtt = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"vehiclewatch-{socket.gethostname()}")
        if url.username:
            self.mqtt.username_pw_set(url.username, url.password)
        if url.scheme == "mqtts":
            self.mqtt.tls_set_context(ssl.create_default_context())
        self.mqtt.reconnect_delay_set(min_delay=1, max_delay=30)
        self._host, self._port = url.hostname, url.port or (8883 if url.scheme == "mqtts" else 1883)
        self.consumer = StreamConsumer(
            client, stream, settings.group, f"mqtt@{socket.gethostname()}", block_ms=block_ms, noun="alert"
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0

    def start(self) -> MqttPublisher:
        self.consumer.ensure_group()
        # connect_async + loop_start: a broker that is down at start is retried in the background.
        self.mqtt.connect_async(self._host, self._port, keepalive=30)
        self.mqtt.loop_start()
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)
        self._thread.start()
        log.info("alerts to MQTT %s under %s/<camera>", self.shown, self.settings.topic_prefix)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.mqtt.loop_stop()
        self.mqtt.disconnect()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for message in self.consumer.messages(self._stop):
                    if self._publish(message):
                        self.consumer.ack(message.message_id)
                    if self._stop.is_set():
                        return
            except Exception:
                log.exception("mqtt: reading alerts failed; retrying")
                self._stop.wait(1.0)

    def _publish(self, message: StreamMessage) -> bool:
        """True when done with (published, or malformed and skipped); False when stopping before the broker ack."""
        body = message.fields.get(STREAM_FIELD_ALERT.encode())
        try:
            if body is None:
                raise ValueError("no alert field")
            camera = str(json.loads(body)["camera_id"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("mqtt: skipping malformed alert message %s: %s", message.message_id, exc)
            return True
        topic = f"{self.settings.topic_prefix}/{camera}"
        delay = 0.5
        while not self._stop.is_set():
            if self.mqtt.is_connected():
                info = self.mqtt.publish(topic, body, qos=self.settings.qos, retain=self.settings.retain)
                with contextlib.suppress(RuntimeError, ValueError):  # not queued (disconnected): tried again below
                    info.wait_for_publish(self.settings.timeout_s)
                if info.is_published():
                    self.published += 1
                    return True
            log.debug("mqtt: broker %s not reachable; alert %s waits", self.shown, message.message_id)
            self._stop.wait(delay)
            delay = min(delay * 2, 5.0)
        return False


def wait_connected(publisher: MqttPublisher, timeout: float) -> bool:
    """True once the publisher's client is connected (tests)."""
    deadline = time.monotonic() + timeout
    while not publisher.mqtt.is_connected():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
