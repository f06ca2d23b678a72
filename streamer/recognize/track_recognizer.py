"""The recognize stage with tracking: track → schedule → one batched classification → fuse → match → alert.

Per detector batch (frames of any cameras, in order per camera):

1. each camera's boxes go through its tracker (`streamer.recognize.tracking`), so they carry track ids;
2. each tracked box gets a quality score and the scheduler (`track_state.decide`) says whether the track
   is classified on this frame; the best view of each track so far is kept as its snapshot;
3. the scheduled crops of all frames go through one batched call per model;
4. each classification is fused into its track (`classifiers.fusion`), make and make+model reconciled;
5. the watchlist is matched on the fused labels; an entry alerts at most once per track, after
   ``min_views_to_alert`` views, and the camera-wide cooldown still holds across tracks; the alert carries the
   track id, the number of views fused and the track's best snapshot;
6. tracks unseen for ``lost_frames`` frames end: their metrics are recorded and, when enabled, a summary event
   is published.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from classifiers.fusion import reconcile_make
from classifiers.types import Classification
from detectors.types import Detections
from streamer.recognize.pipeline import AlertSink, BoxClassifier, DetectedBatch, DetectedFrame, crop_box
from streamer.recognize.settings import TrackingSettings
from streamer.recognize.track_state import Decision, TrackBook, TrackRecord, assess_quality, decide
from streamer.recognize.tracking import UNTRACKED, CameraTrackers, Tracker, TrackerSettings, make_tracker
from streamer.service.metrics import Metrics
from streamer.sources.frames import Frame
from watchlists.alerts import Alert, build_alert
from watchlists.cooldown import Cooldown
from watchlists.matching import Match, MatchSource
from watchlists.track_events import TrackSummary, build_summary

log = logging.getLogger(__name__)


class TrackEventSink(Protocol):
    """Where track summaries go (``watchlists.track_events.TrackEventPublisher``)."""

    def submit(self, event: TrackSummary, crop_bgr: NDArray[np.uint8] | None = None) -> bool: ...


@dataclass(frozen=True, slots=True, eq=False)
class _Sighting:
    """A track's box on one frame: where an alert raised for it points."""

    record: TrackRecord
    frame: Frame
    detections: Detections
    index: int


@dataclass(frozen=True, slots=True, eq=False)
class _Scheduled:
    sighting: _Sighting
    weight: float


class TrackingRecognizer:
    """Recognizes vehicles per track; pure logic with no thread of its own, driven batch by batch.

    Args:
        classifier: the crop classifiers (one batched call per model per detector batch).
        matcher: the watchlist matcher, or None (tracks are still classified, nothing alerts).
        cooldown: the camera-wide cooldown per entry, applied across tracks.
        sink: where alerts go.
        metrics: Prometheus metrics.
        settings: the ``tracking:`` section.
        events: where track summaries go, or None (no events).
        top_k: labels per head in alerts.
        tracker_factory: makes one camera's tracker (tests swap it).
    """

    def __init__(
        self,
        classifier: BoxClassifier,
        matcher: MatchSource | None,
        cooldown: Cooldown,
        sink: AlertSink,
        metrics: Metrics,
        settings: TrackingSettings,
        events: TrackEventSink | None = None,
        top_k: int = 3,
        clock: Callable[[], float] = time.time,
        tracker_factory: Callable[[TrackerSettings], Tracker] = make_tracker,
    ) -> None:
        self.classifier = classifier
        self.matcher = matcher
        self.cooldown = cooldown
        self.sink = sink
        self.metrics = metrics
        self.settings = settings
        self.events = events
        self.top_k = top_k
        self.clock = clock
        self.trackers = CameraTrackers(settings.tracker, tracker_factory)
        self.books: dict[str, TrackBook] = {}
        self.crops_classified = 0
        self.crops_detected = 0

    # --- the stage -----------------------------------------------------------------------------------------------

    def process(self, batch: DetectedBatch) -> list[Alert]:
        """Tracks, classifies, matches and alerts for one batch; returns the alerts submitted."""
        return self.recognize(self.track(batch))

    def track(self, batch: DetectedBatch) -> DetectedBatch:
        """The batch with cross-class duplicate boxes merged and track ids set (``UNTRACKED`` = -1: none yet)."""
        frames = tuple(
            DetectedFrame(item.frame, self.trackers.update(item.frame.camera_id, item.detections))
            for item in batch.frames
        )
        return DetectedBatch(frames)

    def recognize(self, batch: DetectedBatch) -> list[Alert]:
        """Schedules, classifies, fuses, matches and alerts for an already tracked batch (see `track`)."""
        sightings, scheduled = self._schedule(batch)
        updated = self._classify(scheduled)
        alerts = self._alert(sightings, updated)
        self._expire(batch)
        now = self.clock()
        for item in batch.frames:
            self.metrics.detection_latency_seconds.observe(max(now - item.frame.captured_at, 0.0))
        return alerts

    def finish(self) -> None:
        """Ends every track (the sources are over): their metrics and summary events go out now."""
        for book in self.books.values():
            for record in book.end_all():
                self._ended(record)
            self.metrics.active_tracks.labels(book.camera_id).set(0)

    def book(self, camera_id: str) -> TrackBook:
        book = self.books.get(camera_id)
        if book is None:
            s = self.settings
            # One frame beyond the tracker's own horizon: a track the tracker may still revive is not ended early.
            book = TrackBook(camera_id, s.tracker.lost_frames + 1, s.max_tracks_per_camera, s.fusion)
            self.books[camera_id] = book
        return book

    # --- steps ---------------------------------------------------------------------------------------------------

    def _schedule(self, batch: DetectedBatch) -> tuple[list[_Sighting], list[_Scheduled]]:
        sightings: dict[tuple[str, int], _Sighting] = {}
        scheduled: list[_Scheduled] = []
        decisions: dict[Decision, int] = {}
        s = self.settings
        classify = len(self.classifier) > 0
        for item in batch.frames:
            frame, detections = item.frame, item.detections
            book = self.book(frame.camera_id)
            book.next_frame()
            self.metrics.crops_detected.labels(frame.camera_id).inc(len(detections))
            self.crops_detected += len(detections)
            if detections.track_ids is None or not len(detections):
                continue
            for index in np.flatnonzero(detections.track_ids != UNTRACKED):
                i = int(index)
                track_id = int(detections.track_ids[i])
                record = book.observe(track_id, frame.index, frame.captured_at, detections.class_names[i])
                box = detections.boxes[i]
                quality = assess_quality(frame.image, box, s.quality)
                record.offer_snapshot(crop_box(frame.image, box), quality.score, frame.index)
                sighting = _Sighting(record, frame, detections, i)
                sightings[(frame.camera_id, track_id)] = sighting
                if not classify:
                    continue
                area = float((box[2] - box[0]) * (box[3] - box[1]))
                decision = decide(record.schedule_state(), quality, area, s.schedule)
                decisions[decision] = decisions.get(decision, 0) + 1
                if decision.classify:
                    scheduled.append(_Scheduled(sighting, quality.score))
                    # Counted now, so a track seen on two frames of one batch is not scheduled twice.
                    record.schedule(area)
        for decision, count in decisions.items():
            self.metrics.schedule_decisions.labels(str(decision)).inc(count)
        return list(sightings.values()), scheduled

    def _classify(self, scheduled: list[_Scheduled]) -> set[TrackRecord]:
        """One batched call per model over the scheduled crops; fuses each result into its track."""
        if not scheduled:
            return set()
        m = self.metrics
        by_frame: dict[int, list[_Scheduled]] = {}
        frames: dict[int, _Sighting] = {}
        for item in scheduled:
            key = id(item.sighting.frame)
            by_frame.setdefault(key, []).append(item)
            frames[key] = item.sighting
        items: list[tuple[NDArray[np.uint8], Detections]] = []
        order: list[list[_Scheduled]] = []
        for key, group in by_frame.items():
            sighting = frames[key]
            mask = np.zeros(len(sighting.detections), np.bool_)
            mask[[g.sighting.index for g in group]] = True
            # filter() keeps box order, so group must follow it too.
            group.sort(key=lambda g: g.sighting.index)
            items.append((sighting.frame.image, sighting.detections.filter(mask)))
            order.append(group)
        started = time.perf_counter()
        try:
            results = self.classifier.classify_boxes(items)
        except Exception:
            for item in scheduled:
                item.sighting.record.drop_view()
            raise
        m.stage_seconds.labels("classify").observe(time.perf_counter() - started)
        m.batch_size.labels("classify").observe(results.classified)
        m.crops_classified.inc(results.classified)
        self.crops_classified += results.classified
        if results.skipped_small:
            m.crops_skipped.labels("too_small").inc(results.skipped_small)
        updated: set[TrackRecord] = set()
        for group, classifications in zip(order, results.frames, strict=True):
            for item, classification in zip(group, classifications, strict=True):
                record = item.sighting.record
                if classification is None:
                    record.drop_view()
                    continue
                record.add_view(classification, item.weight, self.settings.schedule)
                updated.add(record)
        return updated

    def _alert(self, sightings: list[_Sighting], updated: set[TrackRecord]) -> list[Alert]:
        if self.matcher is None:
            return []
        started = time.perf_counter()
        revision = self.matcher.revision
        for record in updated:
            record.fused = reconcile_make(record.fusion.fused())
        # New views change a track's labels; a reloaded watchlist changes what its unchanged labels match.
        for record in updated | {s.record for s in sightings if s.record.matched_revision != revision}:
            if record.fused is not None:
                record.matches = tuple(self.matcher.match(record.fused))
                record.matched_revision = revision
        self.metrics.stage_seconds.labels("match").observe(time.perf_counter() - started)
        alerts: list[Alert] = []
        min_views = self.settings.schedule.min_views_to_alert
        for sighting in sightings:
            record = sighting.record
            if record.fusion.views < min_views:
                continue
            for match in record.matches:
                alert = self._maybe_alert(sighting, match)
                if alert is not None:
                    alerts.append(alert)
        return alerts

    def _maybe_alert(self, sighting: _Sighting, match: Match) -> Alert | None:
        record, frame = sighting.record, sighting.frame
        entry_id = match.entry.id
        if entry_id in record.alerted:
            return None
        if not self.cooldown.allow(frame.camera_id, entry_id, now=frame.captured_at):
            if entry_id not in record.suppressed:  # counted once per track, though retried while it is seen
                record.suppressed.add(entry_id)
                self.metrics.alerts_suppressed.labels(entry_id).inc()
            return None
        started = time.perf_counter()
        detections, i = sighting.detections, sighting.index
        box = detections.boxes[i]
        assert record.fused is not None  # set whenever matches are
        alert = build_alert(
            match=match,
            camera_id=frame.camera_id,
            frame_index=frame.index,
            captured_at=frame.captured_at,
            box=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
            detector_class=detections.class_names[i],
            detector_confidence=float(detections.scores[i]),
            classification=record.fused,
            top_k=self.top_k,
            track_id=record.track_id,
            views_fused=record.fusion.views,
        )
        record.alerted.add(entry_id)
        record.alerts += 1
        snapshot = record.best_crop if record.best_crop is not None else crop_box(frame.image, box)
        self.sink.submit(alert, snapshot)
        self.metrics.stage_seconds.labels("publish").observe(time.perf_counter() - started)
        return alert

    def _expire(self, batch: DetectedBatch) -> None:
        for camera_id in {item.frame.camera_id for item in batch.frames}:
            book = self.book(camera_id)
            for record in book.expire():
                self._ended(record)
            self.metrics.active_tracks.labels(camera_id).set(len(book))

    def _ended(self, record: TrackRecord) -> None:
        m = self.metrics
        m.tracks_ended.labels(record.camera_id).inc()
        m.track_label_changes.observe(record.fusion.label_changes)
        m.track_views.observe(record.fusion.views)
        m.track_alerts.observe(record.alerts)
        events = self.events
        if events is None or record.frames_seen < self.settings.events.min_frames:
            return
        fused: Classification | None = None
        if record.fusion.views:
            fused = record.fused if record.fused is not None else reconcile_make(record.fusion.fused())
        summary = build_summary(
            camera_id=record.camera_id,
            track_id=record.track_id,
            first_seen=record.first_seen,
            last_seen=record.last_seen,
            first_frame=record.first_frame,
            last_frame=record.last_frame,
            frames_seen=record.frames_seen,
            views_fused=record.fusion.views,
            detector_class=record.detector_class,
            classification=fused,
            label_changes=record.fusion.label_changes,
            alerted_entries=sorted(record.alerted),
            top_k=self.settings.events.top_k,
        )
        queued = events.submit(summary, record.best_crop)
        m.track_events.labels("queued" if queued else "dropped").inc()
