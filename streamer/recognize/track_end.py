"""Ended tracks: their metrics, and (when enabled) a summary event on the track stream."""

from __future__ import annotations

from streamer.recognize.fuse import fused_or_none
from streamer.recognize.plates import plate_out
from streamer.recognize.ports import TrackEventSink
from streamer.recognize.track_book import TrackRecord
from streamer.service.metrics import Metrics
from watchlists.settings import TrackEventSettings
from watchlists.track_events import build_summary


class TrackEnd:
    """Records a track that ended (unseen for ``lost_frames``, over the cap, or the sources are over)."""

    def __init__(self, metrics: Metrics, events: TrackEventSink | None, settings: TrackEventSettings) -> None:
        self.metrics = metrics
        self.events = events
        self.settings = settings

    def __call__(self, record: TrackRecord) -> None:
        m = self.metrics
        m.tracks_ended.labels(record.camera_id).inc()
        m.track_label_changes.observe(record.fusion.label_changes)
        m.track_views.observe(record.fusion.views)
        m.track_alerts.observe(record.alerts)
        if self.events is None or record.frames_seen < self.settings.min_frames:
            return
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
            classification=fused_or_none(record),
            label_changes=record.fusion.label_changes,
            alerted_entries=sorted(record.alerted),
            top_k=self.settings.top_k,
            plate_read=plate_out(record),
        )
        queued = self.events.submit(summary, record.best_crop)
        m.track_events.labels("queued" if queued else "dropped").inc()
