"""A classical plate finder: regions of an image that look like a plate, for a closer second look.

The text detector, run once over a whole vehicle (or photo) at a modest scale, misses plates whose characters are
small or low in contrast. A plate is a compact band of dense, high-contrast vertical strokes (its characters),
dark on light or light on dark: black-hat and top-hat filtering brings out such strokes at a character's scale,
a horizontal gradient keeps the vertical ones, and closing joins one plate's characters into one blob. Blobs of a
plate's aspect that fill their box are proposed, densest first, at three stroke scales; overlapping proposals are
merged away. The reader then runs text detection again on each proposal's surroundings, enlarged, so the
characters come to a size the detector finds reliably.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

_WORK_SIDE = 960  # images are searched at most this large (the filters' sizes are in these pixels)
_STROKE_SCALES = (9, 17, 31)  # widths of the filters: characters from small to large plates
_MIN_SIZE = (24, 8)  # smallest proposal (width, height) in working pixels
_ASPECT = (1.5, 7.0)  # width / height of a plate's character band
_MIN_FILL = 0.5  # share of its box a blob must fill (a plate is a compact rectangle, not a thin edge)
_MAX_OVERLAP = 0.3  # proposals overlapping a better one more than this (IoU) are dropped


@dataclass(frozen=True, slots=True)
class PlateRegion:
    """A region that looks like a plate: ``box`` (x1, y1, x2, y2 in the image's pixels) and a plate-likeness
    ``score`` (stroke density × fill; only the order matters)."""

    box: tuple[float, float, float, float]
    score: float


def find_plates(image: NDArray[np.uint8], limit: int = 4) -> list[PlateRegion]:
    """Up to ``limit`` plate-like regions of a BGR image, most plate-like first."""
    if limit <= 0:
        return []
    h, w = image.shape[:2]
    scale = min(1.0, _WORK_SIDE / max(h, w, 1))
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
    found: list[PlateRegion] = []
    for width in _STROKE_SCALES:
        height = max(3, width // 3)
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (width, height))
        # Dark characters on a light plate (black-hat) and light on dark (top-hat).
        for operation in (cv2.MORPH_BLACKHAT, cv2.MORPH_TOPHAT):
            strokes = np.asarray(cv2.morphologyEx(gray, operation, kernel), np.uint8)
            found.extend(_blobs(strokes, width, height, scale))
    found.sort(key=lambda r: -r.score)
    kept: list[PlateRegion] = []
    for region in found:
        if all(_iou(region.box, other.box) < _MAX_OVERLAP for other in kept):
            kept.append(region)
            if len(kept) >= limit:
                break
    return kept


def _blobs(strokes: NDArray[np.uint8], width: int, height: int, scale: float) -> list[PlateRegion]:
    """Compact, plate-shaped blobs of vertical strokes in one filter's response."""
    gradient = cv2.GaussianBlur(np.abs(cv2.Sobel(strokes, cv2.CV_32F, 1, 0, ksize=3)), (5, 5), 0)
    gradient = (255 * gradient / max(float(gradient.max()), 1e-6)).astype(np.uint8)
    _, mask = cv2.threshold(gradient, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    # Join one plate's characters, then cut thin bridges to the car's other edges.
    mask = cv2.morphologyEx(
        mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (width, max(3, height // 2)))
    )
    mask = cv2.morphologyEx(
        mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, width // 3), max(3, height // 2)))
    )
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out: list[PlateRegion] = []
    for contour in contours:
        x, y, cw, ch = cv2.boundingRect(contour)
        if cw < _MIN_SIZE[0] or ch < _MIN_SIZE[1] or not _ASPECT[0] <= cw / ch <= _ASPECT[1]:
            continue
        fill = cv2.contourArea(contour) / (cw * ch)
        if fill < _MIN_FILL:
            continue
        density = float(gradient[y : y + ch, x : x + cw].mean())
        box = (x / scale, y / scale, (x + cw) / scale, (y + ch) / scale)
        out.append(PlateRegion(box, density * fill))
    return out


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / max(union, 1e-6)
