"""Cutting vehicle crops out of frames: a margin of context around each box, clipped to the frame, tiny boxes skipped.

Crops are views into the frames (no copy): the classifier resizes them straight into its input tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from detectors.types import BoxArray, Detections

ImageArray = NDArray[np.uint8]


def check_image(image: ImageArray, what: str) -> None:
    """Raises ValueError unless ``image`` is a non-empty BGR ``(h, w, 3)`` uint8 array."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{what} must be a non-empty BGR (h, w, 3) uint8 image, got {image.dtype} {image.shape}")


def visible_short_sides(boxes: BoxArray, height: int, width: int) -> NDArray[np.float32]:
    """The shorter side of each box's part inside a ``height × width`` frame (0 for boxes outside it)."""
    clipped_w = np.clip(boxes[:, 2], 0, width) - np.clip(boxes[:, 0], 0, width)
    clipped_h = np.clip(boxes[:, 3], 0, height) - np.clip(boxes[:, 1], 0, height)
    return np.maximum(np.minimum(clipped_w, clipped_h), 0).astype(np.float32)


def crop_rects(boxes: BoxArray, height: int, width: int, margin: float) -> NDArray[np.int32]:
    """Integer crop rectangles: each box grown by ``margin`` of its size on every side, then clipped to the frame.

    Args:
        boxes: ``(N, 4)`` float ``x1, y1, x2, y2`` in frame pixels.
        height: frame height in pixels.
        width: frame width in pixels.
        margin: fraction of the box's width added left and right, of its height added above and below.
            Some context (wheels, roof line) helps make classifiers; too much lets neighbours in.

    Returns:
        ``(N, 4)`` int32 ``x1, y1, x2, y2`` with ``0 <= x1 <= x2 <= width`` (end exclusive, for slicing);
        a rectangle is empty where the box lies outside the frame.

    Example:
        >>> crop_rects(np.array([[10, 10, 30, 50]], np.float32), 100, 100, 0.1).tolist()
        [[8, 6, 32, 54]]
    """
    dx = (boxes[:, 2] - boxes[:, 0]) * margin
    dy = (boxes[:, 3] - boxes[:, 1]) * margin
    # Round outwards so the crop always contains the whole box.
    grown = np.stack(
        [
            np.floor(boxes[:, 0] - dx),
            np.floor(boxes[:, 1] - dy),
            np.ceil(boxes[:, 2] + dx),
            np.ceil(boxes[:, 3] + dy),
        ],
        axis=1,
    )
    limits = np.array([width, height, width, height], np.float64)
    rects: NDArray[np.int32] = np.clip(np.nan_to_num(grown, nan=0.0), 0, limits).astype(np.int32)
    rects[:, 2] = np.maximum(rects[:, 2], rects[:, 0])
    rects[:, 3] = np.maximum(rects[:, 3], rects[:, 1])
    return rects


def crop_box(image: ImageArray, box: NDArray[np.floating], margin: float = 0.0) -> ImageArray:
    """One box's pixels (grown by ``margin``, clipped to the frame; see :func:`crop_rects`), as a contiguous array.

    The one cropper for single boxes: quality checks and snapshots use it, batches use :func:`cut_crops`.

    Example:
        >>> crop_box(np.zeros((10, 10, 3), np.uint8), np.array([2.5, 1, 6, 40], np.float32)).shape
        (9, 4, 3)
    """
    height, width = image.shape[:2]
    x1, y1, x2, y2 = (int(v) for v in crop_rects(np.asarray(box, np.float32).reshape(1, 4), height, width, margin)[0])
    return np.ascontiguousarray(image[y1:y2, x1:x2])


@dataclass(frozen=True, slots=True)
class CropBatch:
    """Every classifiable crop of a detector batch, flattened, with where each came from.

    Attributes:
        crops: BGR views into the frames, in frame order then box order.
        frame_index: ``(M,)`` index of each crop's frame in the input sequence.
        box_index: ``(M,)`` index of each crop's box in that frame's detections.
        box_counts: number of boxes of each frame (classified or not), to map results back.
        skipped: boxes left out because their visible short side is below the minimum crop size.
    """

    crops: tuple[ImageArray, ...]
    frame_index: NDArray[np.intp]
    box_index: NDArray[np.intp]
    box_counts: tuple[int, ...]
    skipped: int

    def __len__(self) -> int:
        return len(self.crops)


def cut_crops(items: Sequence[tuple[ImageArray, Detections]], margin: float, min_size: int) -> CropBatch:
    """Cuts a crop for every box of every frame whose visible shorter side is at least ``min_size`` pixels.

    Args:
        items: ``(frame image, its detections)`` pairs; images are BGR uint8 ``(h, w, 3)``.
        margin: context around each box, as a fraction of its size (see :func:`crop_rects`).
        min_size: smallest accepted shorter side of the box's part inside the frame, before the margin.

    Raises:
        ValueError: an image is not a BGR uint8 image.
    """
    crops: list[ImageArray] = []
    frame_index: list[int] = []
    box_index: list[int] = []
    skipped = 0
    for f, (image, detections) in enumerate(items):
        check_image(image, f"frame {f}")
        if len(detections) == 0:
            continue
        height, width = image.shape[:2]
        # `not >=` rather than `<` so NaN boxes count as too small.
        keep = visible_short_sides(detections.boxes, height, width) >= min_size
        skipped += int(np.count_nonzero(~keep))
        rects = crop_rects(detections.boxes, height, width, margin)
        for b in np.flatnonzero(keep):
            x1, y1, x2, y2 = (int(v) for v in rects[b])
            crops.append(image[y1:y2, x1:x2])
            frame_index.append(f)
            box_index.append(int(b))
    return CropBatch(
        crops=tuple(crops),
        frame_index=np.asarray(frame_index, np.intp),
        box_index=np.asarray(box_index, np.intp),
        box_counts=tuple(len(d) for _, d in items),
        skipped=skipped,
    )
