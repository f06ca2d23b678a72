"""Lines read widened (``read_stretch``) and padded to a least width (``read_min_width``)."""

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


class _Recording(FakeModels):
    def __init__(self, script: list[list[Read]]) -> None:
        super().__init__(script)
        self.options: list[tuple[float, int]] = []

    def recognize(self, lines: Sequence[NDArray[np.uint8]], stretch: float = 1.0, min_width: int = 160) -> list[Read]:
        self.options.append((stretch, min_width))
        return super().recognize(lines)


def test_the_reader_passes_its_stretch_and_width_to_the_recogniser() -> None:
    models = _Recording([[_read("7XK123", [0.99] * 6)]])
    settings = PlateReaderSettings(formats={}, read_stretch=1.5, read_min_width=320)
    [reading] = PlateReader(settings, models).read([CROP])  # type: ignore[arg-type]
    assert reading is not None
    assert reading.text == "7XK123"
    assert models.options == [(1.5, 320)]


def test_defaults_read_lines_as_they_are() -> None:
    settings = PlateReaderSettings()
    assert (settings.read_stretch, settings.read_min_width) == (1.0, 160)


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


def test_a_stretched_line_is_wider_and_still_read() -> None:
    pytest.importorskip("rapidocr", reason="the plate reader needs the 'plates' extra (pip install -e '.[plates]')")
    from classifiers.plates.ocr import TextModels

    models = TextModels(threads=1)
    shapes = _Shapes(models.rec)
    models.rec = shapes
    line = plate_image("7XK123", 300)[45:110, 10:290]  # the text line, 280 x 65: 207 px wide at 48 px high
    [(plain, _, _)] = models.recognize([line])
    [(wide, _, _)] = models.recognize([line], stretch=1.5, min_width=320)
    [(padded, _, _)] = models.recognize([line], stretch=1.0, min_width=480)
    assert [s[3] for s in shapes.shapes] == [207, 320, 480]  # 1.5 x 207 = 310, padded to 320
    assert plain == wide == padded == "7XK123"
