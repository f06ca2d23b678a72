"""Preprocessing: known pixel values through mean/std, channel order, layout and resizing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from classifiers.manifest import ClassifierManifest
from classifiers.preprocess import prepare_batch


def manifest(**changes: Any) -> ClassifierManifest:
    fields: dict[str, Any] = {
        "task": "color",
        "heads": {"probs": ("a", "b")},
        "input_height": 8,
        "input_width": 8,
        "mean": (10.0, 20.0, 30.0),
        "std": (2.0, 4.0, 8.0),
    }
    fields.update(changes)
    return ClassifierManifest(**fields)


def solid(bgr: tuple[int, int, int], h: int = 5, w: int = 7) -> NDArray[np.uint8]:
    image = np.empty((h, w, 3), np.uint8)
    image[:] = bgr
    return image


BGR = (50, 100, 200)  # b, g, r


@pytest.mark.parametrize(
    ("color_order", "layout", "expected_channels"),
    [
        # RGB models see r first: ((200-10)/2, (100-20)/4, (50-30)/8)
        ("RGB", "NCHW", (95.0, 20.0, 2.5)),
        ("RGB", "NHWC", (95.0, 20.0, 2.5)),
        # BGR models see b first, and mean/std are in the model's order: ((50-10)/2, (100-20)/4, (200-30)/8)
        ("BGR", "NCHW", (20.0, 20.0, 21.25)),
        ("BGR", "NHWC", (20.0, 20.0, 21.25)),
    ],
)
def test_pixel_values(color_order: str, layout: str, expected_channels: tuple[float, float, float]) -> None:
    m = manifest(color_order=color_order, input_layout=layout)
    batch = prepare_batch([solid(BGR)], m)
    assert batch.dtype == np.float32
    if layout == "NCHW":
        assert batch.shape == (1, 3, 8, 8)
        channels = batch[0].reshape(3, -1)
    else:
        assert batch.shape == (1, 8, 8, 3)
        channels = batch[0].reshape(-1, 3).T
    for c in range(3):
        np.testing.assert_allclose(channels[c], expected_channels[c], rtol=1e-6)
    # Undoing the normalisation gives the pixels back, in the model's channel order.
    pixel = np.asarray(expected_channels) * np.asarray(m.std) + np.asarray(m.mean)
    expected_pixel = BGR[::-1] if color_order == "RGB" else BGR
    np.testing.assert_allclose(pixel, expected_pixel)


def test_layout_and_orientation() -> None:
    """Height and width are not swapped: a crop red on the left, blue on the right keeps that in both layouts."""
    crop = np.zeros((20, 40, 3), np.uint8)
    crop[:, :20] = (0, 0, 255)
    crop[:, 20:] = (255, 0, 0)
    m = manifest(input_height=6, input_width=10, mean=(0.0, 0.0, 0.0), std=(255.0, 255.0, 255.0))
    nchw = prepare_batch([crop], m)
    nhwc = prepare_batch([crop], manifest(**{**m.model_dump(), "input_layout": "NHWC"}))
    assert nchw.shape == (1, 3, 6, 10)
    assert nhwc.shape == (1, 6, 10, 3)
    np.testing.assert_array_equal(nchw, nhwc.transpose(0, 3, 1, 2))
    red, blue = nchw[0, 0], nchw[0, 2]
    np.testing.assert_allclose(red[:, :4], 1.0)
    np.testing.assert_allclose(red[:, 6:], 0.0)
    np.testing.assert_allclose(blue[:, 6:], 1.0)


def test_batch_of_different_sizes_and_views() -> None:
    frame = np.random.default_rng(1).integers(0, 256, (50, 60, 3), dtype=np.uint8)
    view = frame[5:30, 10:17]  # a non-contiguous view, as crops.py cuts them
    batch = prepare_batch([solid(BGR, 3, 90), view, np.ascontiguousarray(view)], manifest())
    assert batch.shape == (3, 3, 8, 8)
    np.testing.assert_array_equal(batch[1], batch[2])


def test_empty_batch() -> None:
    assert prepare_batch([], manifest()).shape == (0, 3, 8, 8)


@pytest.mark.parametrize(
    "crop",
    [
        pytest.param(np.zeros((0, 5, 3), np.uint8), id="no-rows"),
        pytest.param(np.zeros((5, 0, 3), np.uint8), id="no-columns"),
        pytest.param(np.zeros((5, 5), np.uint8), id="grey"),
        pytest.param(np.zeros((5, 5, 4), np.uint8), id="bgra"),
    ],
)
def test_bad_crop(crop: NDArray[np.uint8]) -> None:
    with pytest.raises(ValueError, match=r"crop 1 must be a non-empty \(h, w, 3\) image"):
        prepare_batch([solid(BGR), crop], manifest())
