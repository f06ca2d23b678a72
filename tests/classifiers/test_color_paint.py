"""Body-paint statistic on synthetic vehicle crops: the paint is found among road, glass and lamps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from pydantic import ValidationError

from classifiers.color.labels import COLOR_LABELS, INDEX
from classifiers.color.paint import PaintSettings, PaintStats, measure_paint, paint_probabilities

MARGIN = 0.1
ROAD = 115


def vehicle(
    body_bgr: tuple[int, int, int],
    *,
    road: int = ROAD,
    cast: tuple[float, float, float] | None = None,
    lamps: bool = True,
    margin: float = MARGIN,
) -> NDArray[np.uint8]:
    """A front view: body paint, a dark windscreen across the top third, two bright lamps, road around the box."""
    h, w = 120, 150
    image = np.full((h, w, 3), road, np.float32)
    inner = 1 / (1 + 2 * margin)
    x1, y1 = round(w * margin * inner), round(h * margin * inner)
    x2, y2 = w - x1, h - y1
    bw, bh = x2 - x1, y2 - y1
    image[y1:y2, x1:x2] = body_bgr
    image[y1 + int(0.1 * bh) : y1 + int(0.4 * bh), x1 + int(0.1 * bw) : x2 - int(0.1 * bw)] = (25, 28, 30)
    if lamps:
        for cx in (x1 + int(0.15 * bw), x2 - int(0.15 * bw)):
            image[y1 + int(0.55 * bh) : y1 + int(0.65 * bh), cx - 5 : cx + 5] = (250, 250, 250)
    rng = np.random.default_rng(0)
    image += rng.normal(0, 2.0, image.shape)
    if cast is not None:
        image *= np.asarray(cast, np.float32)
    return np.asarray(np.clip(image + 0.5, 0, 255), np.uint8)


def top(probs: NDArray[np.float32]) -> str:
    return COLOR_LABELS[int(np.argmax(probs))]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ((30, 30, 190), "red"),
        ((160, 70, 25), "blue"),
        ((20, 200, 230), "yellow"),
        ((60, 150, 40), "green"),
        ((20, 20, 20), "black"),
        ((240, 240, 240), "white"),
        ((85, 85, 85), "grey"),
    ],
)
def test_paint_colour_found(body: tuple[int, int, int], expected: str) -> None:
    stats = measure_paint(vehicle(body), MARGIN)
    assert top(paint_probabilities(stats)) == expected
    assert stats.share > 0.25


def test_white_and_silver_are_left_to_the_classifiers() -> None:
    probs = paint_probabilities(measure_paint(vehicle((240, 240, 240)), MARGIN))
    assert probs[INDEX["white"]] == pytest.approx(probs[INDEX["silver"]])
    assert probs[INDEX["white"]] > 3 * probs[INDEX["grey"]]


def test_lightness_is_judged_against_the_road() -> None:
    # The same mid-grey paint is lighter than a dark road and darker than a light one.
    on_dark = measure_paint(vehicle((120, 120, 120), road=60), MARGIN)
    on_light = measure_paint(vehicle((120, 120, 120), road=190), MARGIN)
    assert on_dark.lightness_vs_road > 15
    assert on_light.lightness_vs_road < -15


def test_blue_cast_is_removed_before_measuring() -> None:
    cast = (1.25, 1.0, 0.82)
    balanced = measure_paint(vehicle((95, 95, 95), cast=cast), MARGIN)
    raw = measure_paint(vehicle((95, 95, 95), cast=cast), MARGIN, PaintSettings(balance=False))
    assert raw.chroma > 8
    assert balanced.chroma < 3
    assert top(paint_probabilities(balanced)) == "grey"


def test_glass_is_not_taken_for_paint() -> None:
    stats = measure_paint(vehicle((230, 230, 230)), MARGIN)
    assert stats.lab[0] > 80  # the white body, not the dark windscreen


def test_without_a_margin_lightness_is_absolute() -> None:
    image = vehicle((240, 240, 240), margin=0.0)
    stats = measure_paint(image, 0.0)
    assert stats.lightness_vs_road == 0.0
    assert top(paint_probabilities(stats, has_reference=False)) in ("white", "silver")


def test_probabilities_are_a_distribution_with_a_floor() -> None:
    stats = PaintStats(
        lab=(50.0, 60.0, 40.0), chroma=72.0, hue=33.7, lightness_vs_road=0.0, share=0.5, colored_share=0.9
    )
    probs = paint_probabilities(stats)
    assert probs.sum() == pytest.approx(1.0)
    assert probs.min() > 0
    assert top(probs) == "red"


def test_deterministic() -> None:
    image = vehicle((160, 70, 25))
    assert measure_paint(image, MARGIN) == measure_paint(image.copy(), MARGIN)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: measure_paint(np.zeros((10, 10), np.uint8), MARGIN), "BGR"),
        (lambda: measure_paint(np.zeros((10, 10, 3), np.uint8), -0.2), "margin"),
        (lambda: PaintSettings(clusters=1), "greater than or equal"),
    ],
)
def test_bad_input(call: Any, error: str) -> None:
    with pytest.raises((ValueError, ValidationError), match=error):
        call()
