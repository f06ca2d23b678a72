"""Fuse: each new classification goes into its track; the track's labels are fused over its views.

Make and make+model are reconciled on the fused labels (``classifiers.fusion.reconcile_make``). A one-view track
(tracking off) keeps its single classification as it is, as a box classified on its own always did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from classifiers.fusion import reconcile_make
from classifiers.types import Classification
from streamer.recognize.batch import DetectedFrame
from streamer.recognize.track_book import TrackBook, TrackRecord


def fuse_views(
    classified: Sequence[DetectedFrame],
    book_of: Callable[[str], TrackBook],
    *,
    one_view: bool,
) -> set[TrackRecord]:
    """Adds each box's ``classification`` (weighted by its ``quality``) to its track; returns the tracks updated."""
    updated: set[TrackRecord] = set()
    for item in classified:
        book = book_of(item.frame.camera_id)
        detections = item.detections
        assert detections.track_ids is not None  # selected boxes are tracked
        columns = zip(
            detections.track_ids, detections.column("classification"), detections.column("quality"), strict=True
        )
        for track_id, classification, weight in columns:
            record = book.get(int(track_id))
            if classification is None:
                record.drop_view()
                continue
            record.add_view(classification, float(weight), book.schedule)
            record.fused = classification if one_view else None
            updated.add(record)
    for record in updated:
        if record.fused is None:
            record.fused = reconcile_make(record.fusion.fused())
    return updated


def drop_views(selected: Sequence[DetectedFrame], book_of: Callable[[str], TrackBook]) -> None:
    """The classification of the selected boxes failed: their tracks may be scheduled again."""
    for item in selected:
        book = book_of(item.frame.camera_id)
        for track_id in item.detections.track_ids if item.detections.track_ids is not None else ():
            book.get(int(track_id)).drop_view()


def fused_or_none(record: TrackRecord) -> Classification | None:
    """The track's fused labels for its summary (None when it was never classified)."""
    if not record.fusion.views:
        return None
    return record.fused if record.fused is not None else reconcile_make(record.fusion.fused())
