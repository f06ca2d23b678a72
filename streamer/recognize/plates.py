"""Plates: the plate stage of the recognise flow, between classification and matching.

Per batch, the tracked boxes that are due (box at least ``min_box_width`` wide, ``every_frames`` since the
track's last read, fewer than ``max_reads`` reads, plate not yet settled) are ranked by reads so far, then
widest first; at most
``max_crops_per_batch`` are read, in small batches, until ``budget_ms`` is spent. What is left is skipped and
counted (``vehiclewatch_plate_reads_skipped_total``): a plate stage that falls behind reads fewer plates, it never
holds frames back. Each read is fused into its track (weighted by the box's width, a proxy for the plate's
resolution); a track whose fused plate changed is matched again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from classifiers.crops import crop_rects
from classifiers.plates.types import PlateReading
from streamer.recognize.batch import DetectedBatch
from streamer.recognize.settings import PlateStageSettings
from streamer.recognize.track_book import TrackBook, TrackRecord
from streamer.recognize.tracking import UNTRACKED
from streamer.service.metrics import Metrics
from watchlists.alerts import Box, PlateReadOut
from watchlists.plates import PlateRead

log = logging.getLogger(__name__)

_CHUNK = 2  # crops per reader call: small, so the budget is checked often


class PlateReaderPort(Protocol):
    """What the stage needs from a plate reader (`classifiers.plates.reader.PlateReader`)."""

    def read(self, crops: Sequence[NDArray[np.uint8]]) -> list[PlateReading | None]: ...


@dataclass(frozen=True, slots=True)
class _Due:
    record: TrackRecord
    crop: NDArray[np.uint8]
    offset: tuple[int, int]
    width: float


def open_plate_reader(settings: PlateStageSettings) -> PlateReaderPort | None:
    """The configured plate reader, or None when plates are off.

    Raises:
        ValueError: the ``plates`` extra is missing (one line saying what to install), or a bad plate format.
    """
    if not settings.enabled:
        return None
    from classifiers.plates.reader import PlateReader  # loads ONNX Runtime and the PP-OCR models

    return PlateReader(settings.reader)


class PlateStage:
    """Reads and fuses plates per track (see the module doc)."""

    def __init__(
        self,
        reader: PlateReaderPort,
        settings: PlateStageSettings,
        metrics: Metrics,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.reader = reader
        self.settings = settings
        self.metrics = metrics
        self.clock = clock

    def run(self, batch: DetectedBatch, book_of: Callable[[str], TrackBook]) -> set[TrackRecord]:
        """Reads the due plates of a tracked batch; returns the tracks whose fused plate changed."""
        s = self.settings
        due: list[_Due] = []
        for item in batch.frames:
            detections = item.detections
            if detections.track_ids is None or not len(detections):
                continue
            book = book_of(item.frame.camera_id)
            image = item.frame.image
            height, width = image.shape[:2]
            widths = detections.boxes[:, 2] - detections.boxes[:, 0]
            wanted = (detections.track_ids != UNTRACKED) & (widths >= s.min_box_width)
            if not wanted.any():
                continue
            rects = crop_rects(detections.boxes[wanted], height, width, s.crop_margin)
            for rect, track_id, box_width in zip(rects, detections.track_ids[wanted], widths[wanted], strict=True):
                record = book.get(int(track_id))
                if (
                    record.plate_settled
                    or record.plate_attempts >= s.max_reads
                    or record.frames_seen < record.plate_due
                ):
                    continue
                x1, y1, x2, y2 = (int(v) for v in rect)
                if x2 - x1 < 8 or y2 - y1 < 8:
                    continue
                record.plate_due = record.frames_seen + s.every_frames  # one try per track per batch at most
                due.append(_Due(record, image[y1:y2, x1:x2], (x1, y1), float(box_width)))
        if not due:
            return set()
        # Tracks read least so far first (a new vehicle is not starved by one read many times), then the widest.
        due.sort(key=lambda d: (d.record.plate_attempts, -d.width))
        chosen, over = due[: s.max_crops_per_batch], due[s.max_crops_per_batch :]
        if over:
            self.metrics.plate_reads_skipped.labels("limit").inc(len(over))
        started = time.perf_counter()
        updated = self._read(chosen)
        self.metrics.stage_seconds.labels("plates").observe(time.perf_counter() - started)
        return updated

    def _read(self, chosen: list[_Due]) -> set[TrackRecord]:
        s = self.settings
        started = self.clock()
        updated: set[TrackRecord] = set()
        for first in range(0, len(chosen), _CHUNK):
            if (self.clock() - started) * 1000.0 >= s.budget_ms:
                self.metrics.plate_reads_skipped.labels("budget").inc(len(chosen) - first)
                break
            chunk = chosen[first : first + _CHUNK]
            begun = self.clock()
            try:
                readings = self.reader.read([d.crop for d in chunk])
            except Exception:
                # A crop the reader chokes on costs its plate reads, never the batch's classifications and alerts.
                log.exception("plate reader failed on %d crop(s); skipped", len(chunk))
                self.metrics.plate_reads_skipped.labels("error").inc(len(chunk))
                continue
            spent = self.clock() - begun
            for d, reading in zip(chunk, readings, strict=True):
                camera = d.record.camera_id
                self.metrics.plate_read_seconds.observe(spent / len(chunk))
                d.record.plate_attempts += 1
                if reading is None:
                    self.metrics.plate_reads.labels(camera, "none").inc()
                    continue
                self.metrics.plate_reads.labels(camera, "read").inc()
                if self._fuse(d, reading):
                    updated.add(d.record)
        return updated

    def _fuse(self, d: _Due, reading: PlateReading) -> bool:
        """Adds a read (moved to frame pixels) to its track; whether the fused plate changed."""
        x, y = d.offset
        b = reading.box
        moved = PlateReading(
            reading.text,
            reading.char_confidences,
            (b[0] + x, b[1] + y, b[2] + x, b[3] + y),
            reading.format,
            reading.alternatives,
        )
        record = d.record
        record.plate_fusion.add(moved, min(1.0, d.width / (2.0 * self.settings.min_box_width)))
        before = record.plate
        record.plate = record.plate_fusion.fused()
        if record.plate is not None and len(record.plate_fusion.reads) >= 2:
            record.plate_settled = record.plate.confidence >= self.settings.settle_confidence
        return (
            before is None
            or record.plate is None
            or (before.text, before.confidence)
            != (
                record.plate.text,
                record.plate.confidence,
            )
        )


def plate_read(record: TrackRecord) -> PlateRead | None:
    """The track's fused plate as the matcher takes it (None before a read)."""
    plate = record.plate
    if plate is None:
        return None
    return PlateRead(plate.text, plate.confidence, plate.char_confidences)


def plate_out(record: TrackRecord) -> PlateReadOut | None:
    """The track's fused plate as alerts and track events carry it (None before a read)."""
    plate = record.plate
    if plate is None:
        return None
    x1, y1, x2, y2 = plate.box
    return PlateReadOut(
        text=plate.text,
        confidence=min(max(plate.confidence, 0.0), 1.0),
        char_confidences=[round(c, 4) for c in plate.char_confidences],
        box=Box(x1=x1, y1=y1, x2=x2, y2=y2),
        reads=max(len(record.plate_fusion.reads), 1),
    )
