"""Classify: the selected boxes of every frame of a batch (any cameras) in one batched call per model.

The crops are cut by the one cropper (``classifiers.crops``, inside the bank) with the configured margin; boxes
too small to classify come back as None and are counted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from streamer.recognize.batch import DetectedFrame
from streamer.recognize.ports import CropClassifier
from streamer.service.metrics import Metrics


def classify_views(
    classifier: CropClassifier, selected: Sequence[DetectedFrame], metrics: Metrics
) -> tuple[tuple[DetectedFrame, ...], int]:
    """The selected frames with a ``classification`` column added (None where a box was too small to classify).

    Returns:
        The classified frames, and how many crops were classified.
    """
    if not selected:
        return (), 0
    started = time.perf_counter()
    results = classifier.classify_boxes(
        [(item.frame.image, item.detections) for item in selected],
        # The colour recogniser learns each camera's levels from its boxes, a track counting once.
        cameras=[item.frame.camera_id for item in selected],
        tracks=[None if (ids := item.detections.track_ids) is None else ids.tolist() for item in selected],
    )
    metrics.stage_seconds.labels("classify").observe(time.perf_counter() - started)
    metrics.batch_size.labels("classify").observe(results.classified)
    metrics.crops_classified.inc(results.classified)
    if results.skipped_small:
        metrics.crops_skipped.labels("too_small").inc(results.skipped_small)
    classified: list[DetectedFrame] = []
    for item, classifications in zip(selected, results.frames, strict=True):
        column = np.empty(len(classifications), object)
        column[:] = classifications
        classified.append(DetectedFrame(item.frame, item.detections.with_columns(classification=column)))
    return tuple(classified), results.classified
