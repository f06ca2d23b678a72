"""Squat text lines (US-style plates) read widened (``read_stretch``), batches padded to a least width."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from classifiers.plates.reader import PlateReader
from classifiers.plates.settings import PlateReaderSettings
from tests.classifiers.plates.synthetic import plate_image
from tests.classifiers.plates.test_reread import CROP, FakeModels, Read, _read


class _Lines(FakeModels):
    """One text line of the given width (30 px high) per crop; keeps the shapes of the lines it is asked to read."""

    def __init__(self, script: list[list[Read]], width: int) -> None:
        super().__init__(script)
        self.width = width
        self.shapes: list[tuple[int, int]] = []
        self.min_widths: list[int] = []

    def detect(
        self, image: NDArray[np.uint8], max_side: int = 960, max_upscale: float = 1.0
    ) -> list[tuple[NDArray[np.float32], float]]:
        quad = np.array([[40, 150], [40 + self.width, 150], [40 + self.width, 180], [40, 180]], np.float32)
        return [(quad, 0.9)]

    def recognize(self, lines: Sequence[NDArray[np.uint8]], min_width: int = 160) -> list[Read]:
        self.shapes.extend((ln.shape[1], ln.shape[0]) for ln in lines)
        self.min_widths.append(min_width)
        return super().recognize(lines)


def _read_line(width: int, **settings: Any) -> _Lines:
    models = _Lines([[_read("7XK123", [0.99] * 6)]], width)
    s = PlateReaderSettings(formats={}, finder_regions=0, **settings)
    [reading] = PlateReader(s, models).read([CROP])  # type: ignore[arg-type]
    assert reading is not None
    assert reading.text == "7XK123"
    return models


def test_a_squat_line_is_read_widened() -> None:
    models = _read_line(60)  # 60 x 30, cut with its margin 67 x 37: width/height 1.8
    [(width, height)] = models.shapes
    assert height == 37
    assert width == round(1.5 * 67)
    assert models.min_widths == [320]


def test_a_long_line_is_read_as_it_is() -> None:
    models = _read_line(120)  # cut 127 x 37: 3.4, a European plate's shape
    assert models.shapes == [(127, 37)]


def test_no_stretch_reads_every_line_as_it_is() -> None:
    models = _read_line(60, read_stretch=1.0, read_min_width=160)
    assert models.shapes == [(67, 37)]
    assert models.min_widths == [160]


class _Shapes:
    """Wraps the recognition session and keeps the shapes of the batches it is given."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.shapes: list[tuple[int, ...]] = []

    def get_inputs(self) -> Any:
        return self.session.get_inputs()

    def run(self, names: Any, feeds: dict[str, NDArray[np.float32]]) -> Any:
        self.shapes.extend(v.shape for v in feeds.values())
        return self.session.run(names, feeds)


def test_a_batch_is_padded_to_its_least_width_and_a_widened_line_still_read() -> None:
    pytest.importorskip("rapidocr", reason="the plate reader needs the 'plates' extra (pip install -e '.[plates]')")
    import cv2

    from classifiers.plates.ocr import TextModels

    models = TextModels(threads=1)
    shapes = _Shapes(models.rec)
    models.rec = shapes
    line = plate_image("7XK123", 300)[45:110, 10:290]  # the text line, 280 x 65: 207 px wide at 48 px high
    wide = np.asarray(cv2.resize(line, (420, 65), interpolation=cv2.INTER_CUBIC), np.uint8)
    [(plain, _, _)] = models.recognize([line])
    [(padded, _, _)] = models.recognize([line], min_width=480)
    [(widened, _, _)] = models.recognize([wide], min_width=320)
    assert [s[3] for s in shapes.shapes] == [207, 480, 320]  # 420 x 65 is 310 px wide at 48 px high
    assert plain == padded == widened == "7XK123"
