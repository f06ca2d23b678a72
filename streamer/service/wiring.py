"""The service: everything wired in one place, started in order, stopped in reverse, queues drained.

Start order: check inputs (config, models, watchlist, sources) → metrics server → Redis → alert publisher (and
track event publisher) → detector → classifiers → pipeline threads → cameras and their watchdog. `stop()` undoes it
in reverse, so frames already read are detected, classified and their alerts published before Redis goes away.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from classifiers.bank import ClassifierBank
from common.redaction import redact_text
from detectors.registry import open_detector
from detectors.runtime import ModelLoadError
from redisbus.connection import RedisConnection, RedisConnectionError, connect
from redisbus.spool import Spool, SpoolError
from streamer.recognize.detect_gate import DetectionGates
from streamer.recognize.flow import Recognizer
from streamer.recognize.pipeline import Pipeline
from streamer.recognize.plates import PlateStage, open_plate_reader
from streamer.service.config import ServiceSettings
from streamer.service.delivery import delivery_problems, open_spool, watch_delivery
from streamer.service.http_server import Health, MetricsServer
from streamer.service.metrics import Metrics
from streamer.sources.backends import SourceEnded, SourceError, SourceFatalError, open_source
from streamer.sources.buffers import FrameBufferGroup
from streamer.sources.camera import CameraReader
from streamer.sources.camera_state import AvailabilityTracker, CameraStateChange
from streamer.sources.settings import SourceConfigError
from streamer.sources.watchdog import CameraWatchdog
from watchlists.alerts import Alert
from watchlists.colors import load_color_table
from watchlists.cooldown import Cooldown
from watchlists.entries import WatchlistError, load_watchlist
from watchlists.live import LiveMatcher
from watchlists.matching import Matcher
from watchlists.publisher import AlertPublisher
from watchlists.reload import WatchlistReloader, start_live_watchlist
from watchlists.track_events import CameraEvent, TrackEventPublisher

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The service cannot start; the message is one line for the operator."""


def _camera_message(camera_id: str, shown_source: str, error: Exception) -> str:
    """A source error as one line that names the camera once: the sources' messages start with "camera 'id':"
    and name the (redacted) source themselves; any other message gets both put in front."""
    reason = redact_text(str(error)) or type(error).__name__
    if reason.startswith(f"camera {camera_id!r}:"):
        return reason
    return f"camera {camera_id!r}: cannot read {shown_source}: {reason}"


class _CameraMetrics:
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


class _PublishMetrics:
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


@dataclass
class Service:
    """vehiclewatch's running parts.

    Args:
        settings: the validated configuration.
        registry: Prometheus registry (tests pass a fresh one).
        on_alert: called after each alert is published (the CLI prints them).
    """

    settings: ServiceSettings
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    on_alert: Callable[[Alert], None] | None = None

    def __post_init__(self) -> None:
        self.metrics = Metrics(self.registry)
        self.frames = FrameBufferGroup()
        self.readers: list[CameraReader] = []
        self.redis: RedisConnection | None = None
        self.spool: Spool | None = None
        self.publisher: AlertPublisher | None = None
        self.track_events: TrackEventPublisher | None = None
        self.pipeline: Pipeline | None = None
        self.watchlist_reloader: WatchlistReloader | None = None
        self.watchdog: CameraWatchdog | None = None
        self.http: MetricsServer | None = None
        self._ready = False
        self._stopped = threading.Event()
        self.started_at: float | None = None  # monotonic time the cameras started (benchmarks time from here)

    # --- start ---------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Starts everything; raises `StartupError` (one line) on bad input, having undone what it started."""
        try:
            self._start()
        except StartupError:
            self.stop()
            raise
        except (
            ModelLoadError,
            WatchlistError,
            SourceConfigError,
            RedisConnectionError,
            SpoolError,
            OSError,
            ValueError,
        ) as exc:
            self.stop()
            raise StartupError(redact_text(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)) from exc

    def _start(self) -> None:
        s = self.settings
        for camera in s.cameras:
            camera.validate_source()
        matcher: Matcher | LiveMatcher | None = self._load_watchlist()
        frame_sizes = self._probe_sources()
        # The plugin that detector.type names, its input sized to the cameras' frames (detector.input_size: auto).
        detector = open_detector(s.detector, frame_sizes)
        bank = ClassifierBank.from_settings(s.classifiers)  # each classifier by its plugin type
        # tracking.plates: without the 'plates' extra a configured plate reader refuses to start, in one line.
        plate_reader = open_plate_reader(s.tracking.plates)
        if matcher is not None:
            for problem in matcher.unmatchable_fields(bank.heads):
                log.warning("watchlist: %s", problem)

        if s.metrics.enabled:
            self.http = MetricsServer(self.registry, self.health, s.metrics.host, s.metrics.port)
            self.http.start()
            log.info("metrics on http://%s:%d/metrics (health: /healthz, /readyz)", s.metrics.host, self.http.port)
        self.redis = connect(s.redis)
        log.info("alerts go to %s stream %r", self.redis.display_url, s.alerts.stream)
        # Alerts (and track events) spooled by an earlier run are replayed as soon as their publisher starts.
        self.spool = open_spool(s.redis, self.metrics)
        self.publisher = AlertPublisher(
            self.redis.client,
            s.alerts,
            _PublishMetrics(self.metrics, self.on_alert),
            spool=self.spool,
            dedup_ttl_s=s.redis.spool.dedup_ttl_s,
        )
        watch_delivery(self.metrics, self.publisher)
        self.publisher.start()

        # The live watchlist (file + Redis-managed entries, reloaded while running) replaces the start-up matcher;
        # the cooldown asks it whether an entry is still active, so removed or expired entries never alert.
        live = start_live_watchlist(
            s.watchlist,
            self.redis.client,
            matcher.entries if matcher is not None else None,
            bank.heads,
            lambda result: self.metrics.declare_entries(result.added),
        )
        if live is not None:
            matcher, self.watchlist_reloader = live
        cooldown = Cooldown(s.watchlist.cooldown_s, active=matcher.is_active if matcher is not None else None)
        if s.tracking.enabled and s.tracking.events.enabled:
            self.track_events = TrackEventPublisher(
                self.redis.client, s.tracking.events, spool=self.spool, dedup_ttl_s=s.redis.spool.dedup_ttl_s
            ).start()
            log.info("track summaries go to stream %r", s.tracking.events.stream)
        recognizer = Recognizer(
            bank,
            matcher,
            cooldown,
            self.publisher,
            self.metrics,
            s.tracking,
            self.track_events,
            s.watchlist.top_k,
            frame_steps={camera.id: camera.detection.every for camera in s.cameras},
            plates=None if plate_reader is None else PlateStage(plate_reader, s.tracking.plates, self.metrics),
        )
        recognizer.trackers.prepare(camera.id for camera in s.cameras)
        self.pipeline = Pipeline(
            self.frames,
            detector,
            recognizer,
            self.metrics,
            s.pipeline,
            max_wait_s=s.detector.max_wait_ms / 1000,
            gates=DetectionGates({camera.id: camera.detection for camera in s.cameras}),
        )
        # Buffers exist before the pipeline starts: an empty group reads as "all sources ended".
        camera_metrics = _CameraMetrics(self.metrics, self.track_events)
        for camera in s.cameras:
            self.metrics.declare_camera(camera.id)
            buffer = self.frames.add_buffer(camera.id, camera.buffer_size, camera.effective_full_policy)
            self.readers.append(CameraReader(camera, buffer, camera_metrics))
        self.pipeline.start()
        self.started_at = time.monotonic()
        for reader in self.readers:
            reader.start()
        self.watchdog = CameraWatchdog(self.readers)
        self.watchdog.start()
        self._ready = True
        log.info("vehiclewatch running: %d camera(s)", len(self.readers))

    def _load_watchlist(self) -> Matcher | None:
        ws = self.settings.watchlist
        if ws.path is None:
            if ws.redis_entries:
                log.info("no watchlist file: entries managed in Redis (vehiclewatch watchlist add) alert")
            else:
                log.warning("no watchlist configured: vehicles are detected and classified, but nothing alerts")
            return None
        watchlist = load_watchlist(ws.path)
        self.metrics.declare_entries(entry.id for entry in watchlist)
        log.info("watchlist %s: %d entries", ws.path, len(watchlist))
        table = load_color_table(ws.color_table) if ws.color_table is not None else None
        return Matcher(watchlist, ws.default_threshold, color_table=table)

    def _probe_sources(self) -> list[tuple[int, int]]:
        """Opens each camera once, so an unreachable URL fails at start instead of retrying forever unnoticed;
        returns the (height, width) of each camera's first frame."""
        sizes: list[tuple[int, int]] = []
        for camera in self.settings.cameras:
            try:
                source = open_source(camera)
                try:
                    image = source.read().image
                    sizes.append((int(image.shape[0]), int(image.shape[1])))
                finally:
                    source.release()
            except (SourceError, SourceFatalError, SourceEnded) as exc:
                raise StartupError(_camera_message(camera.id, camera.redacted_source, exc)) from exc
        return sizes

    # --- run -----------------------------------------------------------------------------------------------------

    def wait(self, stop: threading.Event) -> bool:
        """Blocks until ``stop`` is set or every source ended and was processed; True in the second case."""
        if self.pipeline is None:
            raise RuntimeError("service is not started")
        while not stop.is_set():
            if self.pipeline.wait(0.2):
                return True
        return False

    def health(self) -> Health:
        cameras = {reader.camera_id: str(reader.state) for reader in self.readers}
        detail: dict[str, object] = {}
        if self.publisher is not None:
            detail["alerts_pending"] = self.publisher.pending
            detail["alerts_deliverable"] = self.publisher.deliverable
        ready = self._ready and not self._stopped.is_set()
        return Health(ready=ready, cameras=cameras, detail=detail, degraded=delivery_problems(self.publisher))

    # --- stop ----------------------------------------------------------------------------------------------------

    def stop(self, drain_timeout_s: float = 10.0) -> None:
        """Stops in reverse order of start, draining the pipeline and the alert queue."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._ready = False
        if self.watchdog is not None:
            self.watchdog.stop()
        for reader in self.readers:
            reader.stop()
        self.frames.close()
        if self.pipeline is not None:
            # Frames already read finish their way through; then the stage threads end.
            self.pipeline.wait(drain_timeout_s)
            self.pipeline.stop()
        if self.watchlist_reloader is not None:
            self.watchlist_reloader.close()
        if self.track_events is not None:
            self.track_events.close(timeout=drain_timeout_s)
        if self.publisher is not None:
            lost = self.publisher.close(timeout=drain_timeout_s)
            if lost:
                log.error("%d alert(s) could not be published before shutdown", lost)
        if self.spool is not None:
            self.spool.close()  # what is left in it is replayed at the next start
        if self.redis is not None:
            self.redis.close()
        if self.http is not None:
            self.http.stop()
