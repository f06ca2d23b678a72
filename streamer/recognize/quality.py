"""The crop quality gate: which views of a vehicle are worth classifying, and how good each one is.

A view passes when its box is big enough, sharp enough and not cut by the frame edge; its score (size times a
saturating sharpness term, halved when cut) ranks views: it is the view's weight in fusion and picks the track's
best snapshot.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from classifiers.crops import crop_box
from streamer.recognize.settings import QualitySettings

_SHARPNESS_SIDE = 96  # crops are resized to this shorter side before measuring sharpness, so sizes compare


class GateResult(enum.StrEnum):
    OK = "ok"
    TOO_SMALL = "too_small"
    CUT = "cut_by_edge"
    BLURRY = "blurry"


@dataclass(frozen=True, slots=True)
class CropQuality:
    """How good one view of a vehicle is.

    Attributes:
        gate: why the crop fails the gate, or ``GateResult.OK``.
        short_side: the box's shorter side inside the frame, pixels.
        sharpness: variance of the Laplacian of the grey crop at 96 px shorter side (0 when not measured).
        score: in (0, 1]: size (up to ``full_detail_size``) times a saturating sharpness term, halved when cut.
    """

    gate: GateResult
    short_side: float
    sharpness: float
    score: float

    @property
    def ok(self) -> bool:
        return self.gate is GateResult.OK


def sharpness(crop_bgr: NDArray[np.uint8]) -> float:
    """Variance of the Laplacian of the grey crop resized to a 96 px shorter side (higher is sharper)."""
    h, w = crop_bgr.shape[:2]
    if h < 2 or w < 2:
        return 0.0
    scale = _SHARPNESS_SIDE / min(h, w)
    size = (max(round(w * scale), 1), max(round(h * scale), 1))
    grey = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)
    grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def assess_quality(image: NDArray[np.uint8], box: NDArray[np.float32], settings: QualitySettings) -> CropQuality:
    """Gates and scores the view of ``box`` (x1, y1, x2, y2 in pixels) in the BGR frame ``image``.

    Sharpness is measured only for boxes large enough (it costs a resize and a Laplacian).
    """
    height, width = image.shape[:2]
    x1, y1 = max(float(box[0]), 0.0), max(float(box[1]), 0.0)
    x2, y2 = min(float(box[2]), float(width)), min(float(box[3]), float(height))
    short = max(min(x2 - x1, y2 - y1), 0.0)
    size_term = min(short / settings.full_detail_size, 1.0)
    if not short >= settings.min_size:
        return CropQuality(GateResult.TOO_SMALL, short, 0.0, max(size_term, 1e-3) * 0.5)
    m = settings.edge_margin
    cut = box[0] <= m or box[1] <= m or box[2] >= width - 1 - m or box[3] >= height - 1 - m
    sharp = sharpness(crop_box(image, box))
    # Saturating: a crop at 100 scores 0.5, at 500 0.83; sharpness beyond a few hundred adds little.
    score = size_term * (sharp / (sharp + 100.0) if sharp > 0 else 0.0)
    score = max(score * (0.5 if cut else 1.0), 1e-3)
    if sharp < settings.min_sharpness:
        return CropQuality(GateResult.BLURRY, short, sharp, score)
    if cut:
        return CropQuality(GateResult.CUT, short, sharp, score)
    return CropQuality(GateResult.OK, short, sharp, score)
