"""The service: everything wired in one place, started in order, stopped in reverse, queues drained.

Start order: check inputs (config, models, watchlist, sources) → metrics server → Redis → alert publisher (and
track event publisher) → detector → classifiers → pipeline threads → cameras and their watchdog. `stop()` undoes it
in reverse, so frames already read are detected, classified and their alerts published before Redis goes away.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from classifiers.bank import ClassifierBank
from common.redaction import redact_text
from detectors.registry import open_detector
from detectors.runtime import ModelLoadError
from redisbus.connection import RedisConnection, RedisConnectionError, connect
from redisbus.spool import Spool, SpoolError
from streamer.fleet.stamping import StampedAlerts, StampedTrackEvents
from streamer.fleet.wiring import fleet_client
from streamer.fleet.worker import FleetWorker
from streamer.recognize.detect_gate import DetectionGates
from streamer.recognize.flow import Recognizer
from streamer.recognize.pipeline import Pipeline
from streamer.recognize.plates import PlateStage, open_plate_reader
from streamer.service.adaptations import open_adaptations
from streamer.service.config import ServiceSettings
from streamer.service.delivery import delivery_problems, open_spool, watch_delivery
from streamer.service.http_server import Health, MetricsServer
from streamer.service.metric_hooks import CameraMetrics, CameraRates, PublishMetrics, camera_levels_source
from streamer.service.metrics import Metrics
from streamer.service.outputs import Outputs, start_outputs
from streamer.service.startup import StartupError
from streamer.sources.backends import SourceEnded, SourceError, SourceFatalError, open_source
from streamer.sources.buffers import FrameBufferGroup
from streamer.sources.camera import CameraReader
from streamer.sources.camera_state import CameraStats
from streamer.sources.settings import CameraSettings, SourceConfigError
from streamer.sources.watchdog import CameraWatchdog
from watchlists.alerts import Alert
from watchlists.colors import load_color_table
from watchlists.cooldown import Cooldown
from watchlists.entries import WatchlistError, load_watchlist
from watchlists.live import LiveMatcher
from watchlists.matching import Matcher
from watchlists.publisher import AlertPublisher
from watchlists.reload import WatchlistReloader, start_live_watchlist
from watchlists.track_events import TrackEventPublisher

log = logging.getLogger(__name__)


def _camera_message(camera_id: str, shown_source: str, error: Exception) -> str:
    """A source error as one line that names the camera once: the sources' messages start with "camera 'id':"
    and name the (redacted) source themselves; any other message gets both put in front."""
    reason = redact_text(str(error)) or type(error).__name__
    if reason.startswith(f"camera {camera_id!r}:"):
        return reason
    return f"camera {camera_id!r}: cannot read {shown_source}: {reason}"


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
        self.fleet: FleetWorker | None = None  # `run --worker`: cameras come and go with the leases it holds
        self._cameras_lock = threading.RLock()
        self._recognizer: Recognizer | None = None
        self._gates = DetectionGates()
        self._camera_metrics: CameraMetrics | None = None
        self.outputs = Outputs()  # webhooks, MQTT, history, the HTTP API: started with the publisher
        self._rates = CameraRates(self.registry)
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
        if s.fleet.worker and s.cameras:
            # A worker's cameras are the registry's: one config file can serve `cameras import` and the workers.
            log.warning(
                "fleet worker: the config's %d camera(s) are not read here; register them with "
                "`vehiclewatch cameras import CONFIG`",
                len(s.cameras),
            )
            s = self.settings = s.model_copy(update={"cameras": ()})
        for camera in s.cameras:
            camera.validate_source()
        matcher: Matcher | LiveMatcher | None = self._load_watchlist()
        frame_sizes = self._probe_sources()  # none for a fleet worker: its cameras come later
        # The plugin that detector.type names, its input sized to the cameras' frames (detector.input_size: auto).
        detector = open_detector(s.detector, frame_sizes)
        # Each classifier by its plugin type; each camera's adapted heads (operators' labels) picked up live.
        adaptations = open_adaptations(s.classifiers.adaptation, self.metrics)
        bank = ClassifierBank.from_settings(s.classifiers, adaptations=adaptations)
        if bank.camera_adapters is not None:
            self.metrics.watch_camera_levels(camera_levels_source(bank.camera_adapters, self._camera_ids))
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
        if s.fleet.worker:
            self.fleet = FleetWorker(s.fleet, fleet_client(self.redis.client, s.fleet), self, self.metrics)
            self.fleet.register()  # refuses a worker id that a live worker holds
        # Alerts (and track events) spooled by an earlier run are replayed as soon as their publisher starts.
        self.spool = open_spool(s.redis, self.metrics)
        self.publisher = AlertPublisher(
            self.redis.client,
            s.alerts,
            PublishMetrics(self.metrics, self.on_alert),
            spool=self.spool,
            dedup_ttl_s=s.redis.spool.dedup_ttl_s,
        )
        watch_delivery(self.metrics, self.publisher)
        self.publisher.start()
        self._start_outputs()

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
        alert_sink: StampedAlerts | AlertPublisher = self.publisher
        event_sink: StampedTrackEvents | TrackEventPublisher | None = self.track_events
        if self.fleet is not None:  # alerts and track events carry the worker id and the lease's fencing token
            alert_sink = StampedAlerts(self.publisher, self.fleet.stamp)
            if self.track_events is not None:
                event_sink = StampedTrackEvents(self.track_events, self.fleet.stamp)
        # The calibration file's per-head fusion exponents (fitted on labelled vehicles) sharpen tracks as the
        # evaluation that chose them measured; the config's own fusion.head_exponents win.
        s.tracking.fusion.check_heads(bank.heads)
        tracking = s.tracking.with_fitted_fusion(bank.calibration.agreement_exponents)
        if tracking.fusion.head_exponents:
            exponents = ", ".join(f"{head} {g:g}" for head, g in sorted(tracking.fusion.head_exponents.items()))
            others = tracking.fusion.agreement_exponent
            log.info("track fusion: agreement exponent per head: %s (others %g)", exponents, others)
        recognizer = Recognizer(
            bank,
            matcher,
            cooldown,
            alert_sink,
            self.metrics,
            tracking,
            event_sink,
            s.watchlist.top_k,
            frame_steps={camera.id: camera.detection.every for camera in s.cameras},
            plates=None if plate_reader is None else PlateStage(plate_reader, s.tracking.plates, self.metrics),
            decided_by=bank.decided_by,
        )
        recognizer.trackers.prepare(camera.id for camera in s.cameras)
        self._recognizer = recognizer
        self._gates = DetectionGates({camera.id: camera.detection for camera in s.cameras})
        self.pipeline = Pipeline(
            self.frames,
            detector,
            recognizer,
            self.metrics,
            s.pipeline,
            max_wait_s=s.detector.max_wait_ms / 1000,
            gates=self._gates,
        )
        # Buffers exist before the pipeline starts: an empty group reads as "all sources ended" (unless held).
        if self.fleet is not None:
            self.frames.hold()
        camera_metrics = self._camera_metrics = CameraMetrics(self.metrics, self.track_events)
        for camera in s.cameras:
            self.metrics.declare_camera(camera.id)
            buffer = self.frames.add_buffer(camera.id, camera.buffer_size, camera.effective_full_policy)
            self.readers.append(CameraReader(camera, buffer, camera_metrics))
        if self.preview is not None:
            self.pipeline.on_detected = self.preview.offer
        self.pipeline.start()
        self.started_at = time.monotonic()
        for reader in self.readers:
            reader.start()
        self.watchdog = CameraWatchdog(self.readers)
        self.watchdog.start()
        if self.fleet is not None:
            self.fleet.cycle()  # the first claims now, so the service is ready with its cameras
            self.fleet.start()
        if self.preview is not None:
            self._camera_status()  # the rates' first samples: the page's first look shows rates already
        self._ready = True
        log.info("vehiclewatch running: %d camera(s)", len(self.readers))

    # --- a fleet worker's cameras (streamer.fleet.worker.CameraHost) ----------------------------------------------

    def start_camera(self, camera: CameraSettings) -> None:
        """Starts reading one more camera while running (a lease was claimed)."""
        assert self.pipeline is not None
        assert self._recognizer is not None
        assert self._camera_metrics is not None
        with self._cameras_lock:
            if any(reader.camera_id == camera.id for reader in self.readers):
                raise ValueError(f"camera {camera.id!r} is already being read")
            self.metrics.declare_camera(camera.id)
            self._recognizer.frame_steps[camera.id] = camera.detection.every
            self._gates.settings[camera.id] = camera.detection
            if self.pipeline.gates is None and self._gates.active:
                self.pipeline.gates = self._gates
            buffer = self.frames.add_buffer(camera.id, camera.buffer_size, camera.effective_full_policy)
            reader = CameraReader(camera, buffer, self._camera_metrics)
            self.readers.append(reader)
            reader.start()
            if self.watchdog is not None:
                self.watchdog.add(reader)

    def stop_camera(self, camera_id: str, drain_s: float = 2.0) -> None:
        """Stops reading a camera (its lease is being given up or was lost): the frames it already read are
        detected first, then its tracks end, so their summaries carry the lease they were seen under."""
        with self._cameras_lock:
            reader = next((r for r in self.readers if r.camera_id == camera_id), None)
            if reader is None:
                return
            self.readers.remove(reader)
            if self.watchdog is not None:
                self.watchdog.remove(reader)
        reader.stop()
        deadline = time.monotonic() + drain_s
        while not reader.buffer.finished and time.monotonic() < deadline:
            time.sleep(0.02)
        self.frames.remove_buffer(camera_id)
        if self._recognizer is not None:
            self._recognizer.end_camera(camera_id)
        self.metrics.forget_camera(camera_id)

    def _camera_ids(self) -> list[str]:
        """The cameras read now (a fleet worker's change as leases come and go)."""
        with self._cameras_lock:
            return [reader.camera_id for reader in self.readers]

    def camera_stats(self, camera_id: str) -> CameraStats | None:
        with self._cameras_lock:
            reader = next((r for r in self.readers if r.camera_id == camera_id), None)
        return reader.stats if reader is not None else None

    def _start_outputs(self) -> None:
        """Webhook deliverers, MQTT, the history archiver and the HTTP API (each imported only when enabled)."""
        assert self.redis is not None
        self.outputs = start_outputs(self.settings, self.redis.client, self._camera_status)

    @property
    def web(self) -> Any:
        """The HTTP API (``streamer.web.runtime.WebApi``) when ``web.enabled``, else None."""
        return self.outputs.web

    @property
    def preview(self) -> Any:
        """The live page's preview hub (``streamer.web.preview.PreviewHub``) when ``web.enabled``, else None."""
        return self.outputs.preview

    def _camera_status(self) -> list[Any]:
        """The cameras for the live page: state, decoded and detected frames per second, preview watchers."""
        from streamer.web.live import CameraStatus

        # The worker reading the cameras: a fleet worker by its id (it reads only what it holds a lease on), a single
        # service by its host name (a fleet worker's default id).
        owner = self.fleet.worker_id if self.fleet is not None else socket.gethostname()
        with self._cameras_lock:
            readers = list(self.readers)
        return [
            CameraStatus(
                id=reader.camera_id,
                owner=owner,
                state=str(reader.state),
                fps=self._rates.rate("vehiclewatch_frames_read_total", reader.camera_id),
                detected_fps=self._rates.rate("vehiclewatch_frames_detected_total", reader.camera_id),
                watchers=self.preview.watchers(reader.camera_id) if self.preview is not None else 0,
            )
            for reader in readers
        ]

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
        with self._cameras_lock:
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
        if self.fleet is not None:
            # Hand-over first: each camera stops, its read frames go through, then its lease is released for the
            # next worker; the rest of the shutdown (draining the alerts) no longer holds any camera up.
            self.fleet.stop()
            self.fleet.release_all()
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
        self.outputs.stop()
        if self.redis is not None:
            self.redis.close()
        if self.http is not None:
            self.http.stop()
