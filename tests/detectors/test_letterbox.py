"""Letterbox geometry, the batch tensor, and the mapping of boxes back to image pixels."""

from __future__ import annotations

import re

import numpy as np
import pytest
from numpy.typing import NDArray

from detectors.letterbox import PAD_VALUE, Letterbox, letterbox_batch, letterbox_image


@pytest.mark.parametrize(
    ("image_hw", "input_hw", "resized_wh", "pad_xy"),
    [
        ((720, 1280), (640, 640), (640, 360), (0, 140)),  # landscape 16:9, shrunk
        ((1080, 810), (640, 640), (480, 640), (80, 0)),  # portrait, shrunk
        ((480, 640), (640, 640), (640, 480), (0, 80)),  # 4:3, enlarged
        ((640, 640), (640, 640), (640, 640), (0, 0)),  # already the input size
        ((100, 300), (64, 64), (64, 21), (0, 21)),  # odd padding: the extra pixel goes to the bottom
        ((720, 1280), (384, 640), (640, 360), (0, 12)),  # non-square input
        ((1, 1000), (64, 64), (64, 1), (0, 31)),  # extreme aspect: never less than one pixel
        ((33, 33), (64, 64), (64, 64), (0, 0)),
    ],
)
def test_fit(
    image_hw: tuple[int, int], input_hw: tuple[int, int], resized_wh: tuple[int, int], pad_xy: tuple[int, int]
) -> None:
    box = Letterbox.fit(image_hw, input_hw)
    assert (box.resized_width, box.resized_height) == resized_wh
    assert (box.pad_x, box.pad_y) == pad_xy
    assert box.scale_x == pytest.approx(resized_wh[0] / image_hw[1])
    assert box.scale_y == pytest.approx(resized_wh[1] / image_hw[0])
    # The resized image fits inside the input, with at most one pixel more padding on the far side.
    assert box.pad_x + box.resized_width <= input_hw[1]
    assert box.pad_y + box.resized_height <= input_hw[0]
    assert input_hw[1] - box.resized_width - 2 * box.pad_x in (0, 1)
    assert input_hw[0] - box.resized_height - 2 * box.pad_y in (0, 1)


@pytest.mark.parametrize("image_hw", [(0, 10), (10, 0), (-1, 5)])
def test_fit_rejects_empty_images(image_hw: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="image size must be positive"):
        Letterbox.fit(image_hw, (64, 64))


@pytest.mark.parametrize(
    "image_hw", [(720, 1280), (1080, 810), (480, 640), (640, 640), (100, 300), (300, 100), (37, 1000), (2000, 3000)]
)
def test_box_round_trip(image_hw: tuple[int, int]) -> None:
    h, w = image_hw
    boxes = np.array(
        [[0, 0, w, h], [w * 0.1, h * 0.2, w * 0.5, h * 0.9], [w * 0.7, h * 0.05, w * 0.71, h * 0.06]], np.float32
    )
    box = Letterbox.fit(image_hw, (640, 640))
    in_input = box.to_input(boxes)
    assert np.all(in_input >= 0)
    assert np.all(in_input <= 640 + 1e-3)  # float32 rounding of scale x size
    np.testing.assert_allclose(box.to_image(in_input), boxes, rtol=1e-5, atol=1e-2)


def test_to_image_clips_to_the_image() -> None:
    box = Letterbox.fit((360, 640), (64, 64))  # 64x36 at pad_y 14
    outside = np.array([[-10, 0, 70, 64], [30, 5, 40, 14]], np.float32)  # over the whole input / in the padding
    mapped = box.to_image(outside)
    np.testing.assert_allclose(mapped[0], [0, 0, 640, 360])
    np.testing.assert_allclose(mapped[1], [300, 0, 400, 0])  # entirely in the top padding: zero height
    assert mapped.dtype == np.float32


@pytest.mark.parametrize("image_hw", [(720, 1280), (1080, 810), (100, 300), (64, 64)])
def test_pixels_land_where_to_input_says(image_hw: tuple[int, int]) -> None:
    h, w = image_hw
    image = np.zeros((h, w, 3), np.uint8)
    x1, y1, x2, y2 = int(w * 0.25), int(h * 0.3), int(w * 0.75), int(h * 0.8)
    image[y1:y2, x1:x2] = 255
    canvas, box = letterbox_image(image, (64, 64))
    ys, xs = np.nonzero(canvas[..., 0] > 200)
    found = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)
    expected = box.to_input(np.array([[x1, y1, x2, y2]], np.float32))[0]
    np.testing.assert_allclose(found, expected, atol=1.5)
    # The padding is grey 114 and the rest of the image black.
    assert canvas[0, 0, 0] in (PAD_VALUE, 0)
    if box.pad_y:
        assert np.all(canvas[: box.pad_y] == PAD_VALUE)


def _bgr(h: int, w: int, colour: tuple[int, int, int]) -> NDArray[np.uint8]:
    return np.full((h, w, 3), colour, np.uint8)


def test_batch_tensor_is_rgb_0_to_1_nchw() -> None:
    images = [_bgr(32, 64, (255, 0, 0)), _bgr(64, 64, (0, 0, 255)), _bgr(64, 16, (0, 255, 0))]
    tensor, boxes = letterbox_batch(images, (64, 64))
    assert tensor.shape == (3, 3, 64, 64)
    assert tensor.dtype == np.float32
    assert tensor.flags.c_contiguous
    # Image 0 is BGR blue: RGB channel 2 is 1, channel 0 is 0, and the padding rows are 114/255 everywhere.
    assert boxes[0].pad_y == 16
    np.testing.assert_allclose(tensor[0, :, 32, 32], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(tensor[0, :, 0, 0], [PAD_VALUE / 255] * 3, rtol=1e-6)
    np.testing.assert_allclose(tensor[1, :, 10, 10], [1.0, 0.0, 0.0])  # BGR red fills the whole input
    np.testing.assert_allclose(tensor[2, :, 32, 32], [0.0, 1.0, 0.0])
    np.testing.assert_allclose(tensor[2, :, 32, 0], [PAD_VALUE / 255] * 3, rtol=1e-6)  # left padding
    assert [b.image_width for b in boxes] == [64, 64, 16]


def test_batch_size_pads_with_zero_images_and_dtype_follows_the_model() -> None:
    tensor, boxes = letterbox_batch([_bgr(10, 20, (1, 2, 3))], (32, 32), batch_size=4, dtype=np.float16)
    assert tensor.shape == (4, 3, 32, 32)
    assert tensor.dtype == np.float16
    assert len(boxes) == 1
    assert not tensor[1:].any()


@pytest.mark.parametrize(
    ("images", "batch_size", "message"),
    [
        ([np.zeros((10, 10), np.uint8)], None, "image 0 must be a non-empty BGR (h, w, 3) array, got shape (10, 10)"),
        ([_bgr(5, 5, (0, 0, 0)), np.zeros((10, 10, 4), np.uint8)], None, "image 1 must be a non-empty BGR"),
        ([np.zeros((0, 10, 3), np.uint8)], None, "image 0 must be a non-empty BGR"),
        ([np.zeros((10, 10, 3), np.float32)], None, "image 0 must be uint8, got float32"),
        ([_bgr(5, 5, (0, 0, 0))] * 3, 2, "batch_size 2 is smaller than the 3 images given"),
    ],
)
def test_batch_rejects_bad_images(images: list[NDArray[np.uint8]], batch_size: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        letterbox_batch(images, (32, 32), batch_size=batch_size)


def test_empty_batch() -> None:
    tensor, boxes = letterbox_batch([], (32, 32))
    assert tensor.shape == (0, 3, 32, 32)
    assert boxes == []
