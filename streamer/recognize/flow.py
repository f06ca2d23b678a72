"""The recognise flow: one path per vehicle from a detector batch to the alert sink.

    track → gate/schedule → crop + classify → fuse → match → alert policy → sink;  ended tracks → summaries

1. each camera's boxes get track ids (`streamer.recognize.tracking`); with tracking off every box is a track of
   its own, seen once (`OneViewTracks`), so the steps below are the same either way;
2. gate and schedule (`streamer.recognize.select`): which boxes are classified now; each track's best view kept;
3. crop and classify (`streamer.recognize.classify`): the selected boxes of all frames, any cameras, in one
   batched call per model;
4. fuse (`streamer.recognize.fuse`): each classification into its track; plates
   (`streamer.recognize.plates`, when ``tracking.plates`` is on): due tracks' plates read, bounded, and fused;
5. match (`streamer.recognize.match`): the watchlist on the fused labels;
6. alert policy (`streamer.recognize.alert_policy`): once per track and entry, after ``min_views_to_alert``
   views, the camera-wide cooldown across tracks; the alert goes to the one sink;
7. tracks unseen for ``lost_frames`` frames end (`streamer.recognize.track_end`): metrics and summary events.

Each step records its own stage metrics. The flow is pure logic with no thread of its own (the pipeline drives
it batch by batch), so tests can drive it frame by frame.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from streamer.recognize.alert_policy import AlertPolicy
from streamer.recognize.batch import DetectedBatch, DetectedFrame
from streamer.recognize.classify import classify_views
from streamer.recognize.fuse import drop_views, fuse_views
from streamer.recognize.match import match_tracks
from streamer.recognize.plates import PlateStage
from streamer.recognize.ports import AlertSink, CropClassifier, TrackEventSink
from streamer.recognize.select import select_views
from streamer.recognize.settings import TrackerSettings, TrackingSettings
from streamer.recognize.track_book import TrackBook
from streamer.recognize.track_end import TrackEnd
from streamer.recognize.tracking import CameraTrackers, OneViewTracks, Tracker, make_tracker
from streamer.service.metrics import Metrics
from watchlists.alerts import Alert
from watchlists.cooldown import Cooldown
from watchlists.matching import MatchSource

_ONE_VIEW_TRACKS = 1 << 30  # tracking off: a batch's boxes are all remembered until the batch ends


class Recognizer:
    """Recognizes vehicles per track, batch by batch (see the module docstring).

    Args:
        classifier: the crop classifiers (one batched call per model per detector batch).
        matcher: the watchlist matcher, or None (vehicles are still classified, nothing alerts).
        cooldown: the camera-wide cooldown per entry, applied across tracks.
        sink: where alerts go.
        metrics: Prometheus metrics.
        settings: the ``tracking:`` section; ``enabled: false`` makes every box a one-view track.
        events: where track summaries go, or None (no events; never with tracking off).
        top_k: labels per head in alerts.
        clock: wall-clock time, for the detection latency metric.
        tracker_factory: makes one camera's tracker (tests swap it).
        frame_steps: per camera, detection of every k-th frame (``cameras[].detection.every``): the tracker's and
            the schedule's frame counts are scaled to it, so they span the same stream time.
        plates: the plate stage (``tracking.plates``), or None (no plates read).
        decided_by: camera → head → the version deciding it there (``ClassifierBank.decided_by``), named in alerts.
    """

    def __init__(
        self,
        classifier: CropClassifier,
        matcher: MatchSource | None,
        cooldown: Cooldown,
        sink: AlertSink,
        metrics: Metrics,
        settings: TrackingSettings | None = None,
        events: TrackEventSink | None = None,
        top_k: int = 3,
        clock: Callable[[], float] = time.time,
        tracker_factory: Callable[[TrackerSettings], Tracker] = make_tracker,
        frame_steps: Mapping[str, int] | None = None,
        plates: PlateStage | None = None,
        decided_by: Callable[[str], Mapping[str, str]] | None = None,
    ) -> None:
        self.settings = settings = settings if settings is not None else TrackingSettings()
        self.frame_steps = dict(frame_steps or {})
        self.one_view = not settings.enabled
        self.classifier = classifier
        self.matcher = matcher
        self.metrics = metrics
        self.clock = clock
        self.trackers: CameraTrackers | OneViewTracks = (
            OneViewTracks()
            if self.one_view
            else CameraTrackers(settings.tracker, tracker_factory, lambda camera: self.camera_settings(camera).tracker)
        )
        min_views = 1 if self.one_view else settings.schedule.min_views_to_alert
        self.alerts = AlertPolicy(cooldown, sink, metrics, min_views, top_k, self.one_view, decided_by)
        self.track_end = TrackEnd(metrics, None if self.one_view else events, settings.events)
        self.books: dict[str, TrackBook] = {}
        self.crops_classified = 0
        # Held while a batch is recognized, so a fleet worker can end a released camera's tracks from its own thread.
        self._lock = threading.Lock()
        self.plates = plates

    def process(self, batch: DetectedBatch) -> list[Alert]:
        """Tracks, classifies, matches and alerts for one batch; returns the alerts submitted."""
        with self._lock:
            return self.recognize(self.track(batch))

    def end_camera(self, camera_id: str) -> None:
        """Ends a camera's tracks (its reader stopped for good: a fleet worker released it) and forgets its book,
        so their summaries go out now, under the lease they were seen in."""
        with self._lock:
            book = self.books.pop(camera_id, None)
            if book is None:
                return
            for record in book.end_all():
                if not self.one_view:
                    self.track_end(record)
            self.metrics.active_tracks.labels(camera_id).set(0)

    def track(self, batch: DetectedBatch) -> DetectedBatch:
        """The batch with track ids set (tracking on: cross-class duplicates merged, ``UNTRACKED`` = -1 for none)."""
        update = self.trackers.update
        return DetectedBatch(
            tuple(DetectedFrame(f.frame, update(f.frame.camera_id, f.detections)) for f in batch.frames)
        )

    def recognize(self, batch: DetectedBatch) -> list[Alert]:
        """Every step after tracking, for an already tracked batch (see `track`)."""
        classify = len(self.classifier) > 0
        selection = select_views(
            batch, self.book, self.settings, self.metrics, classify=classify, one_view=self.one_view
        )
        try:
            classified, count = classify_views(self.classifier, selection.to_classify, self.metrics)
        except Exception:
            drop_views(selection.to_classify, self.book)
            raise
        self.crops_classified += count
        updated = fuse_views(classified, self.book, one_view=self.one_view)
        if self.plates is not None:
            updated |= self.plates.run(batch, self.book)
        alerts: list[Alert] = []
        if self.matcher is not None:
            match_tracks(self.matcher, selection.seen, updated, self.metrics)
            alerts = self.alerts.consider(selection.seen)
        self._end_tracks(batch)
        now = self.clock()
        for item in batch.frames:
            self.metrics.detection_latency_seconds.observe(max(now - item.frame.captured_at, 0.0))
        return alerts

    def finish(self) -> None:
        """Ends every track (the sources are over): their metrics and summary events go out now."""
        for book in self.books.values():
            for record in book.end_all():
                if not self.one_view:
                    self.track_end(record)
            self.metrics.active_tracks.labels(book.camera_id).set(0)

    def book(self, camera_id: str) -> TrackBook:
        """The camera's track book (made on its first frame)."""
        book = self.books.get(camera_id)
        if book is None:
            s = self.camera_settings(camera_id)
            # One frame beyond the tracker's own horizon: a track the tracker may still revive is not ended early.
            lost, most = (
                (0, _ONE_VIEW_TRACKS) if self.one_view else (s.tracker.lost_frames + 1, s.max_tracks_per_camera)
            )
            book = self.books[camera_id] = TrackBook(camera_id, lost, most, s.fusion, s.schedule)
        return book

    def camera_settings(self, camera_id: str) -> TrackingSettings:
        """The ``tracking:`` settings as they apply to a camera: frame counts scaled to the frames it detects."""
        return self.settings.for_frame_step(self.frame_steps.get(camera_id, 1))

    def _end_tracks(self, batch: DetectedBatch) -> None:
        # One-view tracks end with their batch, silently (as boxes classified on their own always did); tracked
        # ones end when unseen for too long.
        for camera_id in {item.frame.camera_id for item in batch.frames}:
            book = self.book(camera_id)
            if self.one_view:
                book.end_all()
                continue
            for record in book.expire():
                self.track_end(record)
            self.metrics.active_tracks.labels(camera_id).set(len(book))
