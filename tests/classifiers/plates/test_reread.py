"""The reader's re-read: an unsure read is read twice more, cut differently, and the reads are fused.

Stand-in text models (no OCR) make the reads exact, so the logic is what is tested.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from classifiers.plates.reader import PlateReader
from classifiers.plates.settings import PlateReaderSettings
from classifiers.plates.types import ALPHABET

Read = tuple[str, list[float], list[NDArray[np.float32]]]


def _read(text: str, confs: Sequence[float]) -> Read:
    rows = []
    for ch, c in zip(text, confs, strict=True):
        row = np.full(len(ALPHABET), (1 - c) / (len(ALPHABET) - 1), np.float32)
        row[ALPHABET.index(ch)] = c
        rows.append(row)
    return text, list(confs), rows


class FakeModels:
    """One plate-shaped line per crop; recognition answers from a script, call by call."""

    def __init__(self, script: list[list[Read]]) -> None:
        self.script = script
        self.calls: list[int] = []

    def detect(
        self, image: NDArray[np.uint8], max_side: int = 960, max_upscale: float = 1.0
    ) -> list[tuple[NDArray[np.float32], float]]:
        quad = np.array([[40, 150], [160, 150], [160, 180], [40, 180]], np.float32)
        return [(quad, 0.9)]

    def recognize(self, lines: Sequence[NDArray[np.uint8]], min_width: int = 160) -> list[Read]:
        self.calls.append(len(lines))
        return self.script.pop(0)


def _reader(script: list[list[Read]], **settings: object) -> tuple[PlateReader, FakeModels]:
    models = FakeModels(script)
    s = PlateReaderSettings(formats={"t": [r"[0-9][A-Z]{2}[0-9]{3}"]}, **settings)
    return PlateReader(s, models), models  # type: ignore[arg-type]


CROP = np.full((240, 200, 3), 128, np.uint8)


def test_an_unsure_character_is_outvoted_by_the_rereads() -> None:
    first = _read("7XK1Z3", [0.95, 0.95, 0.95, 0.95, 0.4, 0.95])
    again = _read("7XK123", [0.9] * 6)
    reader, models = _reader([[first], [again, again]], reread_below=0.9)
    [reading] = reader.read([CROP])
    assert models.calls == [1, 2]
    assert reading is not None
    assert reading.text == "7XK123"
    assert reading.format == "t"


def test_a_sure_read_is_not_read_again() -> None:
    reader, models = _reader([[_read("7XK123", [0.99] * 6)]], reread_below=0.9)
    [reading] = reader.read([CROP])
    assert models.calls == [1]
    assert reading is not None
    assert reading.text == "7XK123"


def test_off_by_default() -> None:
    reader, models = _reader([[_read("7XK1Z3", [0.95, 0.95, 0.95, 0.95, 0.4, 0.95])]])
    [reading] = reader.read([CROP])
    assert models.calls == [1]
    assert reading is not None


def test_rereads_that_break_a_fitting_read_are_ignored() -> None:
    first = _read("7XK123", [0.95, 0.95, 0.95, 0.95, 0.5, 0.95])
    broken = _read("7XKI23", [0.9] * 6)
    reader, _ = _reader([[first], [broken, broken]], reread_below=0.9)
    [reading] = reader.read([CROP])
    assert reading is not None
    assert reading.text == "7XK123"
