"""Prometheus metrics of the service, in base units, with a small fixed label set (camera, stage, cause, entry).

Every metric lives on a registry passed in, so tests get a fresh one and nothing is global at import time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CameraLevelsSource = Callable[[], Mapping[str, tuple[int, float, float]]]
"""Camera → (tracks seen, black level, white level) of the colour recogniser's camera adaptation."""
AdaptationsSource = Callable[[], Mapping[str, str]]
"""Camera → the version of adapted heads it runs on ("base": none)."""

CAMERA_STATES = ("connecting", "streaming", "reconnecting", "stopped")
STAGES = ("decode", "preprocess", "detect", "classify", "plates", "match", "publish")

# Stage latencies on a CPU run from ~1 ms (match) to ~1 s (a big classifier batch); on a GPU they are 10x lower.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0)
_E2E_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_PER_TRACK_BUCKETS = (0, 1, 2, 3, 5, 8, 13, 21)


class Metrics:
    """All of vehiclewatch's metrics on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._camera_metrics(self.registry)
        self._stage_metrics(self.registry)
        self._tracking_metrics(self.registry)
        self._delivery_metrics(self.registry)
        self._fleet_metrics(self.registry)

    def watch_camera_levels(self, source: CameraLevelsSource) -> None:
        """Exports the colour recogniser's per-camera levels (read at each scrape, so nothing is copied per batch)."""
        self.registry.register(_CameraLevelsCollector(source))

    def watch_adaptations(self, source: AdaptationsSource) -> None:
        """Exports which adapted heads each camera runs on (read at each scrape)."""
        self.registry.register(_AdaptationsCollector(source))
        self.adaptation_load_errors = Counter(
            "vehiclewatch_adaptation_load_errors_total",
            "Adapted-head files that could not be loaded or no longer fit the model (the previous version stays)",
            ["camera"],
            registry=self.registry,
        )

    def _camera_metrics(self, r: CollectorRegistry) -> None:
        self.frames_read = Counter(
            "vehiclewatch_frames_read_total", "Frames decoded from a camera", ["camera"], registry=r
        )
        self.frames_skipped = Counter(
            "vehiclewatch_frames_skipped_total",
            "Frames decoded but not sent to the detector because of the camera's detect_fps",
            ["camera"],
            registry=r,
        )
        self.frames_gated = Counter(
            "vehiclewatch_frames_gated_total",
            "Frames not sent to the detector by the camera's detection schedule, by reason (interval, no_motion)",
            ["camera", "reason"],
            registry=r,
        )
        self.frames_detected = Counter(
            "vehiclewatch_frames_detected_total", "Frames that went through the detector", ["camera"], registry=r
        )
        self.frames_dropped = Counter(
            "vehiclewatch_frames_dropped_total",
            "Frames dropped before detection, by cause",
            ["camera", "cause"],
            registry=r,
        )
        self.reconnects = Counter(
            "vehiclewatch_reconnects_total",
            "Camera reconnections (errors and watchdog restarts)",
            ["camera"],
            registry=r,
        )
        self.stream_up = Gauge(
            "vehiclewatch_stream_up", "1 while the camera is streaming, else 0", ["camera"], registry=r
        )
        self.camera_state = Gauge(
            "vehiclewatch_camera_state",
            "1 for the camera's current state, 0 for the others",
            ["camera", "state"],
            registry=r,
        )
        self.camera_state_changes = Counter(
            "vehiclewatch_camera_state_changes_total",
            "Camera state changes, by the state entered (alert on reconnecting/stopped rising)",
            ["camera", "state"],
            registry=r,
        )
        self.source_faults = Counter(
            "vehiclewatch_source_faults_total",
            "Damaged input, by kind (truncated: a file ended before its declared length; undecodable)",
            ["camera", "fault"],
            registry=r,
        )

    def _stage_metrics(self, r: CollectorRegistry) -> None:
        self.vehicles = Counter(
            "vehiclewatch_vehicles_detected_total",
            "Vehicle boxes found, by detector class",
            ["camera", "class"],
            registry=r,
        )
        self.crops_classified = Counter("vehiclewatch_crops_classified_total", "Vehicle crops classified", registry=r)
        self.crops_skipped = Counter(
            "vehiclewatch_crops_skipped_total", "Vehicle crops not classified, by reason", ["reason"], registry=r
        )
        self.stage_seconds = Histogram(
            "vehiclewatch_stage_seconds",
            "Time spent per call of a pipeline stage",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "vehiclewatch_batch_size", "Items per batched call, by stage", ["stage"], buckets=_BATCH_BUCKETS, registry=r
        )
        self.end_to_end_seconds = Histogram(
            "vehiclewatch_end_to_end_latency_seconds",
            "From frame capture to alert published",
            buckets=_E2E_BUCKETS,
            registry=r,
        )
        self.detection_latency_seconds = Histogram(
            "vehiclewatch_detection_latency_seconds",
            "From frame capture to the end of its classification (every detected frame, alert or not)",
            buckets=_E2E_BUCKETS,
            registry=r,
        )
        self.alerts = Counter(
            "vehiclewatch_alerts_total", "Alerts published, by watchlist entry", ["entry"], registry=r
        )
        self.alerts_suppressed = Counter(
            "vehiclewatch_alerts_suppressed_total", "Matches not alerted because of the cooldown", ["entry"], registry=r
        )
        self.publish_errors = Counter(
            "vehiclewatch_publish_errors_total", "Failed attempts to publish an alert (retried)", registry=r
        )
        self.stage_errors = Counter(
            "vehiclewatch_stage_errors_total", "Batches a stage failed on (the pipeline goes on)", ["stage"], registry=r
        )
        self.queue_depth = Gauge("vehiclewatch_queue_depth", "Items waiting in a queue", ["queue"], registry=r)

    def _tracking_metrics(self, r: CollectorRegistry) -> None:
        # Tracking: the saving is rate(crops_classified_total) / rate(crops_detected_total).
        self.crops_detected = Counter(
            "vehiclewatch_crops_detected_total",
            "Vehicle boxes that reached the recognize stage (each could have been classified)",
            ["camera"],
            registry=r,
        )
        self.active_tracks = Gauge(
            "vehiclewatch_active_tracks",
            "Tracks the recognizer remembers (seen or briefly lost)",
            ["camera"],
            registry=r,
        )
        self.tracks_ended = Counter("vehiclewatch_tracks_ended_total", "Tracks ended", ["camera"], registry=r)
        self.schedule_decisions = Counter(
            "vehiclewatch_track_schedule_total",
            "Per tracked box and frame, what the classification scheduler decided",
            ["decision"],
            registry=r,
        )
        self.track_label_changes = Histogram(
            "vehiclewatch_track_label_changes",
            "Per ended track, how often a head's fused top-1 label changed",
            buckets=_PER_TRACK_BUCKETS,
            registry=r,
        )
        self.track_views = Histogram(
            "vehiclewatch_track_views", "Per ended track, classifications fused", buckets=_PER_TRACK_BUCKETS, registry=r
        )
        self.track_alerts = Histogram(
            "vehiclewatch_track_alerts", "Per ended track, alerts raised", buckets=_PER_TRACK_BUCKETS, registry=r
        )
        self.track_events = Counter(
            "vehiclewatch_track_events_total",
            "Track summary events, by outcome (queued, dropped)",
            ["result"],
            registry=r,
        )

        # Plates (tracking.plates): reads per camera by result, time per read, and reads skipped by the bounds.
        self.plate_reads = Counter(
            "vehiclewatch_plate_reads_total",
            "Plate reads attempted, by camera and result (read: a plate was read; none: no plate found or read)",
            ["camera", "result"],
            registry=r,
        )
        self.plate_read_seconds = Histogram(
            "vehiclewatch_plate_read_seconds",
            "Time per plate read (a crop's text detection and recognition)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )
        self.plate_reads_skipped = Counter(
            "vehiclewatch_plate_reads_skipped_total",
            "Plate reads due but skipped, by reason (limit: max_crops_per_batch; budget: budget_ms; error: reader)",
            ["reason"],
            registry=r,
        )

    def _delivery_metrics(self, r: CollectorRegistry) -> None:
        # The on-disk spool (redisbus.spool) by record kind: alert, track.
        self.spooled = Counter(
            "vehiclewatch_spooled_total", "Records written to the on-disk spool, by kind", ["kind"], registry=r
        )
        self.spool_replayed = Counter(
            "vehiclewatch_spool_replayed_total",
            "Spooled records of an earlier run (restart, crash) delivered to Redis, by kind",
            ["kind"],
            registry=r,
        )
        self.spool_dropped = Counter(
            "vehiclewatch_spool_dropped_total",
            "Records the spool dropped, by kind and reason (full: size cap; error: the disk failed)",
            ["kind", "reason"],
            registry=r,
        )
        self.spool_pending = Gauge(
            "vehiclewatch_spool_pending", "Records in the spool, not yet in Redis, by kind", ["kind"], registry=r
        )
        self.spool_bytes = Gauge(
            "vehiclewatch_spool_bytes", "Bytes of the spooled records (the cap counts these)", registry=r
        )
        self.alerts_deliverable = Gauge(
            "vehiclewatch_alerts_deliverable",
            "1 while Redis takes alert writes, 0 while it does not (alerts wait in the spool or in memory)",
            registry=r,
        )

    def _fleet_metrics(self, r: CollectorRegistry) -> None:
        # Fleet workers (`run --worker`, streamer.fleet): ownership and leases. Per-worker series carry the worker
        # label, so a dashboard can sum them over the fleet without relying on the scrape's instance label.
        self.worker_cameras_owned = Gauge(
            "vehiclewatch_worker_cameras_owned", "Cameras this worker holds a lease on", ["worker"], registry=r
        )
        self.worker_capacity = Gauge(
            "vehiclewatch_worker_capacity", "Most cameras this worker reads at once", ["worker"], registry=r
        )
        self.lease_renew_failures = Counter(
            "vehiclewatch_lease_renew_failures_total",
            "Lease renewals that failed, by reason (lost: another owner or expired; redis: Redis unreachable)",
            ["worker", "reason"],
            registry=r,
        )
        self.lease_claims = Counter(
            "vehiclewatch_lease_claims_total", "Camera leases claimed by this worker", ["worker"], registry=r
        )
        self.lease_takeovers = Counter(
            "vehiclewatch_lease_takeovers_total",
            "Claims of a camera whose previous owner's lease ran out instead of being released (it died)",
            ["worker"],
            registry=r,
        )
        self.lease_releases = Counter(
            "vehiclewatch_lease_releases_total",
            "Leases given up by this worker, by reason (removed, disabled, rebalance, shutdown)",
            ["worker", "reason"],
            registry=r,
        )
        self.camera_owner = Gauge(
            "vehiclewatch_camera_owner",
            "1 for the worker that reads the camera (the lease's fencing token is the value of camera_lease_token)",
            ["camera", "worker"],
            registry=r,
        )
        self.camera_lease_token = Gauge(
            "vehiclewatch_camera_lease_token", "Fencing token of this worker's lease", ["camera"], registry=r
        )
        self.registry_problems = Gauge(
            "vehiclewatch_registry_problems",
            "Registered cameras skipped because their stored value is not a valid camera",
            registry=r,
        )

    def declare_camera(self, camera: str) -> None:
        """Creates a camera's series at zero, so dashboards see it before its first frame."""
        self.frames_read.labels(camera)
        self.frames_skipped.labels(camera)
        self.frames_detected.labels(camera)
        self.reconnects.labels(camera)
        for fault in ("truncated", "undecodable"):
            self.source_faults.labels(camera, fault)
        self.crops_detected.labels(camera)
        self.active_tracks.labels(camera).set(0)
        self.stream_up.labels(camera).set(0)
        self.set_camera_state(camera, "connecting")

    def forget_camera(self, camera: str) -> None:
        """Drops a camera's state series (a fleet worker handed it over): its new owner reports it from now on, and
        a stale "stopped" here would read as the camera being down. Its counters stay (rates need them)."""
        for name in CAMERA_STATES:
            with contextlib.suppress(KeyError):
                self.camera_state.remove(camera, name)
        with contextlib.suppress(KeyError):
            self.stream_up.remove(camera)

    def declare_entries(self, entries: Iterable[str]) -> None:
        for entry in entries:
            self.alerts.labels(entry)

    def set_camera_state(self, camera: str, state: str) -> None:
        for name in CAMERA_STATES:
            self.camera_state.labels(camera, name).set(1 if name == state else 0)
        self.stream_up.labels(camera).set(1 if state == "streaming" else 0)


class _CameraLevelsCollector(Collector):
    """``vehiclewatch_camera_color_levels{camera, level}`` and ``vehiclewatch_camera_color_tracks{camera}``."""

    def __init__(self, source: CameraLevelsSource) -> None:
        self._source = source

    def collect(self) -> Iterator[GaugeMetricFamily]:
        levels = GaugeMetricFamily(
            "vehiclewatch_camera_color_levels",
            "A camera's black and white luminance levels (0-255) learnt from its vehicles; a washed-out camera "
            "is corrected into the colour recogniser's fitted range",
            labels=["camera", "level"],
        )
        tracks = GaugeMetricFamily(
            "vehiclewatch_camera_color_tracks", "Tracks the camera's levels are measured over", labels=["camera"]
        )
        for camera, (count, black, white) in sorted(self._source().items()):
            levels.add_metric([camera, "black"], black)
            levels.add_metric([camera, "white"], white)
            tracks.add_metric([camera], count)
        yield levels
        yield tracks

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())


class _AdaptationsCollector(Collector):
    """``vehiclewatch_camera_adaptation{camera, version}``: 1 for the version each camera runs on."""

    def __init__(self, source: AdaptationsSource) -> None:
        self._source = source

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "vehiclewatch_camera_adaptation",
            "The adapted heads a camera runs on (version label; 'base': the shipped models)",
            labels=["camera", "version"],
        )
        for camera, version in sorted(self._source().items()):
            family.add_metric([camera, version], 1.0)
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())
