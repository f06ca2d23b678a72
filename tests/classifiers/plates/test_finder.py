"""The plate finder on rendered vehicles, and the reader's closer look at what it finds (stand-in text models)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from classifiers.plates.finder import find_plates
from classifiers.plates.reader import PlateReader
from classifiers.plates.settings import PlateReaderSettings
from tests.classifiers.plates.synthetic import car_with_plate
from tests.classifiers.plates.test_reread import Read, _read


def _inside(point: tuple[float, float], box: tuple[float, float, float, float]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def test_the_plate_is_the_most_plate_like_region() -> None:
    for plate_width, size in [(150, (300, 420)), (60, (500, 800))]:
        image, (x, y, w, h) = car_with_plate("7XK123", size=size, plate_width=plate_width)
        regions = find_plates(image, 4)
        assert regions, plate_width
        x1, y1, x2, y2 = regions[0].box
        assert _inside(((x1 + x2) / 2, (y1 + y2) / 2), (x, y, x + w, y + h)), (plate_width, regions[0])
        assert x2 - x1 <= 1.5 * w


def test_no_region_on_a_plain_surface_and_the_limit_holds() -> None:
    assert find_plates(np.full((200, 300, 3), 128, np.uint8)) == []
    image, _ = car_with_plate("7XK123")
    assert len(find_plates(image, 1)) == 1
    assert find_plates(image, 0) == []


class WindowOnlyModels:
    """Text detection that finds the plate only in a small, enlarged window (as the closer look gives it),
    never in the whole crop; recognition reads every line as the plate."""

    def __init__(self, crop_shape: tuple[int, ...]) -> None:
        self.crop_shape = crop_shape
        self.windows: list[tuple[tuple[int, ...], float]] = []

    def detect(
        self, image: NDArray[np.uint8], max_side: int = 960, max_upscale: float = 1.0
    ) -> list[tuple[NDArray[np.float32], float]]:
        if image.shape == self.crop_shape:
            return []
        self.windows.append((image.shape, max_upscale))
        h, w = image.shape[:2]  # the line in the window's own pixels, around its middle
        quad = np.array([[0.2 * w, 0.3 * h], [0.8 * w, 0.3 * h], [0.8 * w, 0.7 * h], [0.2 * w, 0.7 * h]], np.float32)
        return [(quad, 0.9)]

    def recognize(self, lines: Sequence[NDArray[np.uint8]], min_width: int = 160) -> list[Read]:
        return [_read("7XK123", [0.95] * 6) for _ in lines]


def test_the_closer_look_reads_a_plate_the_first_look_missed_in_the_crops_pixels() -> None:
    image, (x, y, w, h) = car_with_plate("7XK123", size=(500, 800), plate_width=60)
    settings = PlateReaderSettings(formats={"t": [r"[0-9][A-Z]{2}[0-9]{3}"]}, finder_regions=2, min_text_height=4)
    models = WindowOnlyModels(image.shape)
    [reading] = PlateReader(settings, models).read([image])  # type: ignore[arg-type]
    assert reading is not None
    assert reading.text == "7XK123"
    x1, y1, x2, y2 = reading.box
    assert _inside(((x1 + x2) / 2, (y1 + y2) / 2), (x, y, x + w, y + h))
    # The window was enlarged towards finder_height (the region is a few pixels high), at most 4x.
    assert models.windows
    assert all(1.0 < up <= 4.0 for _, up in models.windows)


def test_no_closer_look_when_switched_off() -> None:
    image, _ = car_with_plate("7XK123", size=(500, 800), plate_width=60)
    settings = PlateReaderSettings(formats={"t": [r"[0-9][A-Z]{2}[0-9]{3}"]}, finder_regions=0)
    models = WindowOnlyModels(image.shape)
    assert PlateReader(settings, models).read([image]) == [None]  # type: ignore[arg-type]
    assert models.windows == []


class TwoLineModels:
    """Two lines of the same size that both read as a plate: one high on the crop, one low."""

    def detect(
        self, image: NDArray[np.uint8], max_side: int = 960, max_upscale: float = 1.0
    ) -> list[tuple[NDArray[np.float32], float]]:
        high = np.array([[40, 10], [160, 10], [160, 40], [40, 40]], np.float32)
        low = high + np.array([0, 180], np.float32)
        return [(high, 0.9), (low, 0.9)]

    def recognize(self, lines: Sequence[NDArray[np.uint8]], min_width: int = 160) -> list[Read]:
        return [_read("9937410", [0.99] * 7), _read("1049338", [0.97] * 7)][: len(lines)]


def test_of_two_plate_like_reads_the_lower_one_wins() -> None:
    """A truck's roof number reads as well as its plate; plates sit in a vehicle's lower half."""
    settings = PlateReaderSettings(formats={"us": [r"[0-9]{7}"]}, finder_regions=0)
    [reading] = PlateReader(settings, TwoLineModels()).read([np.full((240, 200, 3), 128, np.uint8)])  # type: ignore[arg-type]
    assert reading is not None
    assert reading.text == "1049338"


def test_the_eval_command_takes_the_number_of_regions(tmp_path: Path) -> None:
    import csv

    import cv2
    from click.testing import CliRunner

    from streamer.cli.main import main

    data = tmp_path / "plates"
    data.mkdir()
    image, (x, y, w, h) = car_with_plate("7XK123", plate_width=170)
    cv2.imwrite(str(data / "0.png"), image)
    with (data / "labels.csv").open("w", newline="") as f:
        csv.writer(f).writerows(
            [["path", "plate", "x", "y", "w", "h", "region"], ["0.png", "7XK123", x, y, w, h, "us"]]
        )
    args = ["plates", "eval", str(data), "--quiet", "--threads", "1", "--finder-regions"]
    result = CliRunner().invoke(main, [*args, "0"])
    assert result.exit_code == 0, result.output
    assert '"exact": 1.0' in result.output
    refused = CliRunner().invoke(main, [*args, "-1"])
    assert refused.exit_code == 2
    assert "finder-regions" in refused.output
