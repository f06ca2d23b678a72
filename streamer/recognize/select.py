"""Gate and schedule: which boxes of a batch are classified now, and each track's best view so far.

For every tracked box: the track's record is marked seen (with this box, for an alert raised on this frame), the
crop's quality is scored (`streamer.recognize.quality`), the best view is kept as the track's snapshot, and the
scheduler (`streamer.recognize.schedule`) says whether the track is classified on this frame. One-view tracks
(tracking off) skip the gate: every box is classified once, as it always was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from classifiers.crops import crop_box
from streamer.recognize.batch import DetectedBatch, DetectedFrame
from streamer.recognize.quality import assess_quality
from streamer.recognize.schedule import Decision, decide
from streamer.recognize.settings import TrackingSettings
from streamer.recognize.track_book import TrackBook, TrackRecord
from streamer.recognize.tracking import UNTRACKED
from streamer.service.metrics import Metrics


@dataclass(frozen=True, slots=True, eq=False)
class Selection:
    """The outcome of gating and scheduling one batch.

    Attributes:
        seen: every track with a box in the batch, once, in order of first sighting (its record holds the box
            of its latest frame).
        to_classify: per frame with boxes to classify: those boxes, with a ``quality`` column (their fusion weight).
    """

    seen: tuple[TrackRecord, ...]
    to_classify: tuple[DetectedFrame, ...]


def select_views(
    batch: DetectedBatch,
    book_of: Callable[[str], TrackBook],
    settings: TrackingSettings,
    metrics: Metrics,
    *,
    classify: bool,
    one_view: bool,
) -> Selection:
    """Marks the batch's tracks seen and picks the boxes to classify (see the module docstring).

    Args:
        batch: the tracked batch (``track_ids`` set; ``UNTRACKED`` boxes are left out).
        book_of: the track book of a camera.
        settings: the ``tracking:`` section (quality gate and schedule).
        metrics: where the scheduler's decisions and the detected crops are counted.
        classify: False when no classifier is configured (tracks are still followed).
        one_view: tracking is off: every box is its own track, classified once without the gate.
    """
    seen: dict[TrackRecord, None] = {}
    to_classify: list[DetectedFrame] = []
    decisions: dict[Decision, int] = {}
    for item in batch.frames:
        book = book_of(item.frame.camera_id)
        book.next_frame()
        metrics.crops_detected.labels(item.frame.camera_id).inc(len(item.detections))
        if item.detections.track_ids is None or not len(item.detections):
            continue
        chosen, weights = _select_frame(item, book, settings, seen, decisions, classify=classify, one_view=one_view)
        if chosen.any():
            selected = item.detections.filter(chosen).with_columns(quality=weights[chosen])
            to_classify.append(DetectedFrame(item.frame, selected))
    for decision, count in decisions.items():
        metrics.schedule_decisions.labels(str(decision)).inc(count)
    return Selection(tuple(seen), tuple(to_classify))


def _select_frame(
    item: DetectedFrame,
    book: TrackBook,
    settings: TrackingSettings,
    seen: dict[TrackRecord, None],
    decisions: dict[Decision, int],
    *,
    classify: bool,
    one_view: bool,
) -> tuple[NDArray[np.bool_], NDArray[np.float32]]:
    """One frame's tracked boxes: marks their tracks seen; returns which to classify and their weights."""
    frame, detections = item.frame, item.detections
    assert detections.track_ids is not None
    chosen = np.zeros(len(detections), np.bool_)
    weights = np.ones(len(detections), np.float32)
    for index in np.flatnonzero(detections.track_ids != UNTRACKED):
        i = int(index)
        box, name = detections.boxes[i], detections.class_names[i]
        record = book.observe(int(detections.track_ids[i]), frame.index, frame.captured_at, name)
        record.sighted(box, float(detections.scores[i]), name)
        seen[record] = None
        if one_view:
            record.best_crop = crop_box(frame.image, box)
            if classify:
                chosen[i] = True
                record.schedule(0.0)
            continue
        quality = assess_quality(frame.image, box, settings.quality)
        record.offer_snapshot(frame.image, box, quality.score, frame.index)
        if not classify:
            continue
        area = float((box[2] - box[0]) * (box[3] - box[1]))
        decision = decide(record.schedule_state(), quality, area, book.schedule)
        decisions[decision] = decisions.get(decision, 0) + 1
        if decision.classify:
            chosen[i], weights[i] = True, quality.score
            # Counted now, so a track seen on two frames of one batch is not scheduled twice.
            record.schedule(area)
    return chosen, weights
