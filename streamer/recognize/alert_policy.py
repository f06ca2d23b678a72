"""The alert policy: when a track's match becomes an alert, and the one place alerts are handed to the sink.

A match alerts once the track has fused ``min_views`` views, at most once per track and entry, and not while the
camera-wide cooldown for that entry runs (a suppression is counted once per track). The alert points at the
track's box on its latest frame and carries the track's best snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from streamer.recognize.plates import plate_out
from streamer.recognize.ports import AlertSink
from streamer.recognize.track_book import TrackRecord
from streamer.service.metrics import Metrics
from watchlists.alerts import Alert, build_alert
from watchlists.cooldown import Cooldown
from watchlists.matching import Match


class AlertPolicy:
    """Turns tracks' matches into alerts on the sink.

    Args:
        cooldown: the camera-wide cooldown per entry, applied across tracks.
        sink: where alerts go.
        metrics: Prometheus metrics.
        min_views: views fused before a track may alert.
        top_k: labels per head in alerts.
        one_view: tracks are single boxes (tracking off): alerts name no track and no fused view count.
        decided_by: camera → head → the version deciding it there (``ClassifierBank.decided_by``), for the alert.
    """

    def __init__(
        self,
        cooldown: Cooldown,
        sink: AlertSink,
        metrics: Metrics,
        min_views: int,
        top_k: int,
        one_view: bool,
        decided_by: Callable[[str], Mapping[str, str]] | None = None,
    ) -> None:
        self.cooldown = cooldown
        self.sink = sink
        self.metrics = metrics
        self.min_views = min_views
        self.top_k = top_k
        self.one_view = one_view
        self.decided_by = decided_by

    def consider(self, seen: Iterable[TrackRecord]) -> list[Alert]:
        """Alerts for the matches of the tracks seen in this batch; returns the alerts submitted."""
        alerts: list[Alert] = []
        for record in seen:
            if record.fusion.views < self.min_views:
                continue
            for match in record.matches:
                alert = self._maybe_alert(record, match)
                if alert is not None:
                    alerts.append(alert)
        return alerts

    def _maybe_alert(self, record: TrackRecord, match: Match) -> Alert | None:
        entry_id = match.entry.id
        if entry_id in record.alerted:
            return None
        if not self.cooldown.allow(record.camera_id, entry_id, now=record.last_seen):
            if entry_id not in record.suppressed:  # counted once per track, though retried while it is seen
                record.suppressed.add(entry_id)
                self.metrics.alerts_suppressed.labels(entry_id).inc()
            return None
        started = time.perf_counter()
        assert record.fused is not None  # set whenever matches are
        box = record.last_box
        alert = build_alert(
            match=match,
            camera_id=record.camera_id,
            frame_index=record.last_frame,
            captured_at=record.last_seen,
            box=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
            detector_class=record.last_class,
            detector_confidence=record.last_score,
            classification=record.fused,
            top_k=self.top_k,
            track_id=None if self.one_view else record.track_id,
            views_fused=None if self.one_view else record.fusion.views,
            plate_read=plate_out(record),
            decided_by=None if self.decided_by is None else self.decided_by(record.camera_id),
        )
        record.alerted.add(entry_id)
        record.alerts += 1
        # submit() only refuses after waiting its timeout with max_pending alerts queued (Redis down for long):
        # the publisher counts and logs that, so there is nothing more to do here.
        self.sink.submit(alert, record.best_crop)
        self.metrics.stage_seconds.labels("publish").observe(time.perf_counter() - started)
        return alert
