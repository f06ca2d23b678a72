"""White-balance correction on synthetic scenes: a grey car under a blue cast comes out grey, a red car stays red."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from classifiers.color.balance import (
    apply_gains,
    correct_crop,
    neutral_pixel_gains,
    ring_mask,
    shades_of_gray_gains,
)

BLUE_CAST = np.array([1.3, 1.0, 0.75], np.float32)  # BGR: blue up, red down (shade, overcast sky)
MARGIN = 0.1


def scene(
    body_bgr: tuple[int, int, int], road: int = 120, cast: NDArray[np.float32] | None = None
) -> NDArray[np.uint8]:
    """A crop cut with a 10 % margin: road around, a car body in the box, a dark window band, then a cast."""
    h, w = 120, 144
    image = np.full((h, w, 3), road, np.float32)
    box = (round(w * MARGIN / 1.2), round(h * MARGIN / 1.2), round(w * 1.1 / 1.2), round(h * 1.1 / 1.2))
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = body_bgr
    image[y1 + 8 : y1 + 26, x1 + 12 : x2 - 12] = (40, 40, 40)
    if cast is not None:
        image *= cast
    return np.asarray(np.clip(image + 0.5, 0, 255), np.uint8)


def body_pixel(image: NDArray[np.uint8]) -> NDArray[np.float64]:
    h, w = image.shape[:2]
    return np.asarray(image[int(h * 0.75), w // 2], np.float64)


def spread(bgr: NDArray[np.float64]) -> float:
    """Channel spread relative to brightness: 0 for a neutral grey."""
    return float((bgr.max() - bgr.min()) / bgr.mean())


def test_grey_car_under_blue_cast_is_corrected_toward_grey() -> None:
    cast = scene((100, 100, 100), cast=BLUE_CAST)
    before = spread(body_pixel(cast))
    after = spread(body_pixel(correct_crop(cast, MARGIN)))
    assert before > 0.5
    assert after < 0.05
    assert after < before / 10


def test_red_car_filling_the_view_stays_red() -> None:
    # Gray-world over the whole crop would pull the red body toward grey; the road ring does not.
    red = scene((30, 30, 200))
    corrected = body_pixel(correct_crop(red, MARGIN))
    assert corrected[2] > 3 * corrected[0]
    whole = apply_gains(red, shades_of_gray_gains(red, p=1.0))
    assert spread(body_pixel(whole)) < spread(corrected)


def test_shades_of_gray_recovers_the_cast() -> None:
    gains = shades_of_gray_gains(scene((100, 100, 100), cast=BLUE_CAST), p=6.0)
    # Gains undo the cast up to a common factor.
    product = gains * BLUE_CAST
    assert float(product.max() / product.min()) < 1.05


def test_neutral_pixels_ignore_saturated_ones() -> None:
    # A moderate cast keeps the road below the saturation limit; the saturated red body is left out.
    mild = np.array([1.15, 1.0, 0.87], np.float32)
    image = scene((20, 20, 230), cast=mild)
    gains = neutral_pixel_gains(image)
    product = gains * mild
    assert float(product.max() / product.min()) < 1.05
    # Under a strong cast the road itself looks coloured: no neutral pixels, unit gains (correct_crop then falls
    # back to shades-of-gray on the ring, see the grey-car test).
    strong = scene((20, 20, 230), cast=BLUE_CAST)
    ring = ring_mask(strong.shape[0], strong.shape[1], MARGIN)
    assert neutral_pixel_gains(strong, mask=ring).tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("pixels", "expected"),
    [
        (np.full((4, 4, 3), 128, np.uint8), [1.0, 1.0, 1.0]),  # too few pixels: unit gains
        (np.full((40, 40, 3), 255, np.uint8), [1.0, 1.0, 1.0]),  # clipped pixels carry no colour
    ],
)
def test_unit_gains_when_nothing_to_measure(pixels: NDArray[np.uint8], expected: list[float]) -> None:
    assert shades_of_gray_gains(pixels).tolist() == expected
    assert neutral_pixel_gains(pixels).tolist() == expected


def test_gains_are_clipped() -> None:
    gains = shades_of_gray_gains(np.full((40, 40, 3), (200, 40, 40), np.uint8), max_gain=1.5)
    assert float(gains.max()) <= 1.5
    assert float(gains.min()) >= 1 / 1.5 - 1e-6


@pytest.mark.parametrize(
    ("h", "w", "margin", "ring_pixels"),
    [
        (12, 12, 0.0, 0),
        (12, 12, 0.1, 12 * 12 - 10 * 10),  # 1-pixel ring: box is the middle 1/1.2 of the crop
        (120, 60, 0.25, 120 * 60 - 80 * 40),
    ],
)
def test_ring_mask(h: int, w: int, margin: float, ring_pixels: int) -> None:
    assert int(ring_mask(h, w, margin).sum()) == ring_pixels


def test_no_ring_no_correction() -> None:
    image = scene((100, 100, 100), cast=BLUE_CAST)
    assert correct_crop(image, 0.0) is image


def test_apply_gains_saturates() -> None:
    out = apply_gains(np.full((2, 2, 3), 200, np.uint8), np.array([1.5, 1.0, 0.5], np.float32))
    assert out[0, 0].tolist() == [255, 200, 100]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: shades_of_gray_gains(np.zeros((8, 8), np.uint8)), "BGR"),
        (lambda: shades_of_gray_gains(np.zeros((8, 8, 3), np.uint8), p=0.5), "p must be"),
        (lambda: ring_mask(8, 8, -0.1), "margin"),
        (lambda: apply_gains(np.zeros((8, 8, 3), np.float32), np.ones(3, np.float32)), "BGR"),
    ],
)
def test_bad_input(call: Any, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        call()
