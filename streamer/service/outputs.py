"""Where alerts go besides Redis, and the HTTP API: webhook deliverers, MQTT, the history archiver and the web app.

Each is a consumer of the alert stream (or serves from it) and is started once the publisher is; the web stack,
MQTT and SQLAlchemy are imported only when their section is enabled, so the serving path never loads them otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from streamer.outputs.webhooks import WebhookDeliverer
from streamer.service.config import ServiceSettings
from streamer.service.startup import StartupError

log = logging.getLogger(__name__)


@dataclass
class Outputs:
    """The running outputs (None where not enabled); ``stop`` stops them all."""

    webhooks: list[WebhookDeliverer] = field(default_factory=list)
    mqtt: Any = None  # streamer.outputs.mqtt.MqttPublisher
    archiver: Any = None  # streamer.history.archiver.Archiver
    preview: Any = None  # streamer.web.preview.PreviewHub
    web: Any = None  # streamer.web.runtime.WebApi

    def stop(self) -> None:
        for deliverer in self.webhooks:
            deliverer.stop()
        for part in (self.mqtt, self.web, self.archiver):
            if part is not None:
                part.stop()


def start_outputs(s: ServiceSettings, client: redis.Redis, camera_status: Callable[[], list[Any]]) -> Outputs:
    """Starts every enabled output.

    Raises:
        StartupError: an enabled output needs an extra that is not installed.
    """
    out = Outputs()
    for endpoint in s.webhooks.endpoints:
        deliverer = WebhookDeliverer(client, endpoint, s.alerts.stream, s.webhooks.dead_letter_stream)
        out.webhooks.append(deliverer.start())
    if s.mqtt.enabled:
        try:
            from streamer.outputs.mqtt import MqttPublisher
        except ImportError as exc:
            raise StartupError(
                f"mqtt.enabled needs the mqtt extra (pip install 'vehiclewatch[mqtt]'): {exc.name} is missing"
            ) from exc
        out.mqtt = MqttPublisher(client, s.mqtt, s.alerts.stream).start()
    if s.history.enabled:
        try:
            from streamer.history.archiver import Archiver
        except ImportError as exc:
            raise StartupError(
                f"history.enabled needs the web extra (pip install 'vehiclewatch[web]'): {exc.name} is missing"
            ) from exc
        track_stream = s.tracking.events.stream if s.tracking.enabled and s.tracking.events.enabled else None
        if track_stream is None:
            log.warning("history: tracking.events is off, so only alerts are archived (no track summaries)")
        out.archiver = Archiver(client, s.history, s.alerts.stream, track_stream).start()
    if s.web.enabled:
        try:
            from streamer.web.runtime import start_web_api
        except ImportError as exc:
            raise StartupError(
                f"web.enabled needs the web extra (pip install 'vehiclewatch[web]'): {exc.name} is missing"
            ) from exc
        from streamer.web.live import LiveContext
        from streamer.web.preview import PreviewHub

        out.preview = PreviewHub()
        live = LiveContext(client, s.alerts, s.watchlist, camera_status, out.preview)
        out.web = start_web_api(s.web, s.detector, s.classifiers, s.history, live)
    return out
