"""Cutting crops: margin, clipping at frame edges, and skipping (and counting) boxes that are too small."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from classifiers.crops import crop_rects, cut_crops, visible_short_sides
from detectors.types import Detections
from tests.synthetic_detector import detections_of


def frame(h: int = 100, w: int = 200) -> NDArray[np.uint8]:
    """A frame whose pixels encode their own position, so a crop shows where it was cut."""
    ys, xs = np.mgrid[0:h, 0:w]
    return np.stack([ys % 256, xs % 256, np.zeros_like(xs)], axis=2).astype(np.uint8)


@pytest.mark.parametrize(
    ("box", "margin", "expected"),
    [
        pytest.param((10, 20, 50, 60), 0.0, (10, 20, 50, 60), id="no-margin"),
        pytest.param((10.4, 20.6, 49.2, 59.9), 0.0, (10, 20, 50, 60), id="rounded-outwards"),
        pytest.param((50, 20, 90, 80), 0.1, (46, 14, 94, 86), id="margin-each-side"),
        pytest.param((50, 20, 90, 40), 0.25, (40, 15, 100, 45), id="margin-follows-each-side-length"),
        pytest.param((2, 3, 42, 43), 0.1, (0, 0, 46, 47), id="clipped-top-left"),
        pytest.param((170, 80, 199, 99), 0.5, (155, 70, 200, 100), id="clipped-bottom-right"),
        pytest.param((-30, -10, 250, 130), 0.05, (0, 0, 200, 100), id="bigger-than-frame"),
        pytest.param((300, 10, 340, 50), 0.05, (200, 8, 200, 52), id="outside-frame-empty"),
    ],
)
def test_crop_rects(box: tuple[float, float, float, float], margin: float, expected: tuple[int, int, int, int]) -> None:
    rects = crop_rects(np.asarray([box], np.float32), 100, 200, margin)
    assert rects.dtype == np.int32
    assert tuple(rects[0].tolist()) == expected


def test_visible_short_sides() -> None:
    boxes = np.asarray([[10, 10, 50, 30], [-20, 0, 10, 90], [190, 0, 260, 100], [300, 0, 310, 10]], np.float32)
    np.testing.assert_allclose(visible_short_sides(boxes, 100, 200), [20, 10, 10, 0])


def test_cut_crops_across_frames() -> None:
    image_a, image_b = frame(), frame(120, 160)
    items = [
        (image_a, detections_of((10, 20, 50, 60), (0, 0, 20, 200), (100, 10, 180, 90))),
        (image_b, Detections.empty()),
        (image_b, detections_of((150, 100, 170, 140), (20, 30, 60, 70))),
    ]
    batch = cut_crops(items, margin=0.1, min_size=32)
    # (0, 0, 20, 200) is 20 px wide; (150, 100, 170, 140) is cut to 10 x 20 px by the frame: both skipped.
    assert batch.skipped == 2
    assert batch.box_counts == (3, 0, 2)
    assert batch.frame_index.tolist() == [0, 0, 2]
    assert batch.box_index.tolist() == [0, 2, 1]
    assert len(batch) == 3
    # Crops are views of their frames with the margin: box (10, 20, 50, 60) grows by 4 px on each side.
    first = batch.crops[0]
    assert first.shape == (48, 48, 3)
    assert np.shares_memory(first, image_a)
    assert (int(first[0, 0, 0]), int(first[0, 0, 1])) == (16, 6)  # y, x of its top-left pixel
    assert batch.crops[1].shape == (96, 96, 3)  # (92, 2, 188, 98)
    assert (int(batch.crops[2][0, 0, 0]), int(batch.crops[2][0, 0, 1])) == (26, 16)


@pytest.mark.parametrize(
    ("box", "min_size", "kept"),
    [
        pytest.param((0, 0, 32, 32), 32, True, id="exactly-min"),
        pytest.param((0, 0, 31.9, 100), 32, False, id="narrow"),
        pytest.param((0, 0, 100, 31), 32, False, id="flat"),
        pytest.param((-10, 0, 30, 100), 32, False, id="narrow-inside-frame"),
        pytest.param((0, 0, 4, 4), 1, True, id="tiny-threshold"),
        pytest.param((float("nan"), 0, 50, 50), 1, False, id="nan-box"),
    ],
)
def test_min_size(box: tuple[float, float, float, float], min_size: int, kept: bool) -> None:
    batch = cut_crops([(frame(), detections_of(box))], margin=0.05, min_size=min_size)
    assert len(batch) == int(kept)
    assert batch.skipped == int(not kept)


def test_no_boxes() -> None:
    batch = cut_crops([], margin=0.05, min_size=32)
    assert len(batch) == 0
    assert batch.box_counts == ()
    assert batch.frame_index.shape == (0,)


@pytest.mark.parametrize(
    "image",
    [
        pytest.param(np.zeros((10, 10), np.uint8), id="grey"),
        pytest.param(np.zeros((10, 10, 3), np.float32), id="float"),
        pytest.param(np.zeros((0, 10, 3), np.uint8), id="empty"),
    ],
)
def test_bad_image(image: NDArray[np.generic]) -> None:
    with pytest.raises(ValueError, match=r"frame 1 must be a non-empty BGR \(h, w, 3\) uint8 image"):
        cut_crops([(frame(), Detections.empty()), (image, Detections.empty())], margin=0.05, min_size=32)  # type: ignore[list-item]
