"""Service events → Prometheus: what the camera readers and the alert publisher report, and per-camera rates for
the live page (read back from the registry)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from classifiers.color.camera_adapt import CameraAdapters
from streamer.service.metrics import CameraLevelsSource, Metrics
from streamer.sources.camera_state import AvailabilityTracker, CameraStateChange
from watchlists.alerts import Alert
from watchlists.track_events import CameraEvent, TrackEventPublisher

log = logging.getLogger(__name__)


class CameraMetrics:
    """Camera reader events → Prometheus, and a camera coming up or going down → the track events stream."""

    def __init__(self, metrics: Metrics, events: TrackEventPublisher | None = None) -> None:
        self.m = metrics
        self.events = events
        self.availability = AvailabilityTracker()

    def on_state(self, change: CameraStateChange) -> None:
        self.m.set_camera_state(change.camera_id, str(change.state))
        self.m.camera_state_changes.labels(change.camera_id, str(change.state)).inc()
        if self.events is not None and self.availability.is_news(change):
            self.events.submit_camera_event(
                CameraEvent(
                    camera_id=change.camera_id,
                    state=str(change.state),
                    previous=str(change.previous),
                    reason=change.reason,
                    at=datetime.fromtimestamp(change.at, UTC),
                )
            )

    def on_fault(self, camera_id: str, kind: str) -> None:
        self.m.source_faults.labels(camera_id, kind).inc()

    def on_frame_read(self, camera_id: str, decode_seconds: float) -> None:
        self.m.frames_read.labels(camera_id).inc()
        self.m.stage_seconds.labels("decode").observe(decode_seconds)

    def on_frame_skipped(self, camera_id: str) -> None:
        self.m.frames_skipped.labels(camera_id).inc()

    def on_frame_dropped(self, camera_id: str, cause: str) -> None:
        self.m.frames_dropped.labels(camera_id, cause).inc()

    def on_reconnect(self, camera_id: str, reason: str) -> None:  # noqa: ARG002 - reason is in the log
        self.m.reconnects.labels(camera_id).inc()


class PublishMetrics:
    """Alert publisher events → Prometheus."""

    def __init__(self, metrics: Metrics, on_alert: Callable[[Alert], None] | None) -> None:
        self.m = metrics
        self.on_alert = on_alert

    def on_published(self, alert: Alert, seconds: float) -> None:
        self.m.alerts.labels(alert.entry.id).inc()
        self.m.stage_seconds.labels("publish").observe(seconds)
        self.m.end_to_end_seconds.observe(max(time.time() - alert.captured_at.timestamp(), 0.0))
        if self.on_alert is not None:
            self.on_alert(alert)

    def on_error(self, exc: Exception) -> None:  # noqa: ARG002 - the publisher logs it
        self.m.publish_errors.inc()

    def on_rejected(self, alert: Alert) -> None:
        self.m.stage_errors.labels("publish").inc()
        log.error("alert %s for entry %s could not be queued for publishing", alert.alert_id, alert.entry.id)


class CameraRates:
    """Per-camera counter rates for the live page: the increase since the previous ask at least 1 s before."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._last: dict[tuple[str, str], tuple[float, float, float]] = {}  # key → (time, value, rate)
        self._lock = threading.Lock()

    def rate(self, metric: str, camera: str) -> float:
        now = time.monotonic()
        value = self.registry.get_sample_value(metric, {"camera": camera}) or 0.0
        with self._lock:
            then, before, rate = self._last.get((metric, camera), (now, value, 0.0))
            if now - then >= 1.0:
                rate = (value - before) / (now - then)
                self._last[(metric, camera)] = (now, value, rate)
            elif (metric, camera) not in self._last:
                self._last[(metric, camera)] = (now, value, 0.0)
        return round(rate, 2)


def camera_levels_source(adapters: CameraAdapters, reading: Callable[[], Collection[str]]) -> CameraLevelsSource:
    """The colour recogniser's per-camera levels for export, for the cameras this process reads now: a fleet worker
    that handed a camera over keeps its levels (they hold if it claims the camera again) but no longer exports
    them, so each camera's series comes from its one reader."""

    def levels() -> dict[str, tuple[int, float, float]]:
        now = set(reading())
        return {
            str(camera): (found.tracks, found.black, found.white)
            for camera, found in adapters.levels().items()
            if camera in now
        }

    return levels
