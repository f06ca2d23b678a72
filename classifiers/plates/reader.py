"""The plate reader: text lines of plate-like shape found on each crop, read, checked against the formats.

Per crop: PP-OCR finds text lines (`classifiers.plates.ocr`); lines of a plate's shape (aspect, height, tilt,
position) are kept, and neighbouring lines of the same height merged (a plate's halves "ABC 1234" are often two
boxes); the plate finder's regions (`classifiers.plates.finder`) are searched again, enlarged, for lines the first
look missed; all kept lines of all crops are read in one batch, restricted to A-Z 0-9; reads of the wrong length
are dropped; the formats fix look-alikes where needed; the best read by confidence × format fit × size ×
position wins.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np
from numpy.typing import NDArray

from classifiers.plates.finder import PlateRegion, find_plates
from classifiers.plates.formats import PlateFormats
from classifiers.plates.fusion import PlateFusion
from classifiers.plates.ocr import TextModels, rectify
from classifiers.plates.settings import PlateReaderSettings
from classifiers.plates.types import PlateReading

_PAD = 0.12  # margin around a text line when it is read, × its height
_REREAD_PADS = (0.03, 0.3)  # the other cuts an unsure line is read again with
_FINDER_MARGIN = (0.3, 0.8)  # context kept around a plate-like region for the closer look, × its width, height
_FINDER_LINES = 2  # most text lines kept from one closer look
_HIGH_TEXT_PENALTY = 0.4  # rank lost by a line at the very top of a crop (none in the lower half)


@dataclass(frozen=True, slots=True)
class _Line:
    crop: int
    quad: NDArray[np.float32]
    score: float


@dataclass(slots=True)
class ReadTimes:
    """Seconds spent so far, for reports: detection (per crop) and recognition (per batch)."""

    detect: float = 0.0
    recognize: float = 0.0
    crops: int = 0
    lines: int = 0


class PlateReader:
    """Reads the plate of each vehicle crop.

    Raises (on construction):
        PlatesUnavailableError: the ``plates`` extra is missing.
        ValueError: an invalid plate format.
    """

    def __init__(self, settings: PlateReaderSettings | None = None, models: TextModels | None = None) -> None:
        self.settings = settings = settings or PlateReaderSettings()
        self.formats = PlateFormats.compile(settings.formats)
        self.models = models or TextModels(threads=settings.threads)
        self.times = ReadTimes()

    def with_formats(self, formats: dict[str, list[str]]) -> PlateReader:
        """The same reader (same models, shared) with other plate formats, e.g. one region's."""
        other = PlateReader(self.settings.model_copy(update={"formats": formats}), self.models)
        other.times = self.times  # one account of the time the shared models take
        return other

    def read(self, crops: Sequence[NDArray[np.uint8]]) -> list[PlateReading | None]:
        """One reading (or None: no plate found or read) per BGR crop, in order."""
        lines: list[_Line] = []
        started = time.perf_counter()
        for index, crop in enumerate(crops):
            lines.extend(self._plate_lines(index, crop))
        recognised = time.perf_counter()
        images = [self._widened(rectify(crops[ln.crop], ln.quad, _PAD)) for ln in lines]
        reads = self.models.recognize(images, self.settings.read_min_width)
        best: list[tuple[float, PlateReading] | None] = [None] * len(crops)
        chosen: list[_Line | None] = [None] * len(crops)
        readings = [
            self._reading(line, text, confs, rows) for line, (text, confs, rows) in zip(lines, reads, strict=True)
        ]
        # A plate's characters are the largest text around it that reads as a plate: a line much smaller than the
        # tallest such line (a date sticker, a dealer's line under the plate) ranks lower. Text that fits no
        # format (a van's lettering, a make's badge) sets the scale only when nothing fits.
        tallest = [0.0] * len(crops)
        tallest_fitting = [0.0] * len(crops)
        for line, reading in zip(lines, readings, strict=True):
            tallest[line.crop] = max(tallest[line.crop], _shape(line.quad)[1])
            if reading is not None and reading.format is not None:
                tallest_fitting[line.crop] = max(tallest_fitting[line.crop], _shape(line.quad)[1])
        for line, reading in zip(lines, readings, strict=True):
            if reading is None:
                continue
            scale = tallest_fitting[line.crop] or tallest[line.crop]
            size = min(1.0, _shape(line.quad)[1] / (0.7 * scale))
            # Plates sit in a vehicle's lower half: text higher up (a roof number, a van's lettering) ranks lower.
            low = min(1.0, _shape(line.quad)[3] / (0.5 * crops[line.crop].shape[0]))
            rank = (
                reading.confidence ** (1.0 / len(reading.text))
                * (1.0 if reading.format is not None else self.settings.unformatted_weight)
                * size
                * (1.0 - _HIGH_TEXT_PENALTY * (1.0 - low))
            )
            current = best[line.crop]
            if current is None or rank > current[0]:
                best[line.crop] = (rank, reading)
                chosen[line.crop] = line
        self._reread(crops, best, chosen)
        done = time.perf_counter()
        self.times.detect += recognised - started
        self.times.recognize += done - recognised
        self.times.crops += len(crops)
        self.times.lines += len(lines)
        return [b[1] if b is not None else None for b in best]

    def _reread(
        self,
        crops: Sequence[NDArray[np.uint8]],
        best: list[tuple[float, PlateReading] | None],
        chosen: list[_Line | None],
    ) -> None:
        """Reads each crop's chosen line again, cut differently, when a character of it is unsure; the reads are
        fused (`classifiers.plates.fusion`), so a character one cut invents or loses is outvoted."""
        s = self.settings
        todo = [
            i
            for i, (b, line) in enumerate(zip(best, chosen, strict=True))
            if b is not None and line is not None and b[1].min_confidence < s.reread_below
        ]
        if not todo:
            return
        images: list[NDArray[np.uint8]] = []
        owners: list[int] = []
        for i in todo:
            line = chosen[i]
            assert line is not None
            for pad in _REREAD_PADS:
                images.append(self._widened(_equalised(rectify(crops[i], line.quad, pad))))
                owners.append(i)
        reads = self.models.recognize(images, s.read_min_width)
        self.times.lines += len(images)
        fusions = {i: PlateFusion() for i in todo}
        for i in todo:
            first = best[i]
            assert first is not None
            fusions[i].add(first[1])
        for i, (text, confs, rows) in zip(owners, reads, strict=True):
            line = chosen[i]
            assert line is not None
            again = self._reading(line, text, confs, rows)
            if again is not None:
                fusions[i].add(again)
        for i, fusion in fusions.items():
            fused = fusion.fused()
            first = best[i]
            assert first is not None
            if fused is None or len(fusion.reads) < 2 or fused.text == first[1].text:
                continue
            region = self.formats.region_of(fused.text)
            if region is None and first[1].format is not None:
                continue  # the vote broke a read that fitted: keep the first
            best[i] = (first[0], replace(fused, format=region, box=first[1].box))

    def _widened(self, line: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """The line widened ``read_stretch`` times when it is squat (US-style plates: the recogniser, trained on
        general text, runs their narrow characters together or splits them wrongly as they are)."""
        s = self.settings
        h, w = line.shape[:2]
        if s.read_stretch == 1.0 or w >= s.read_stretch_below * h:
            return line
        return np.asarray(cv2.resize(line, (round(w * s.read_stretch), h), interpolation=cv2.INTER_CUBIC), np.uint8)

    def _reading(
        self, line: _Line, text: str, confs: list[float], rows: list[NDArray[np.float32]]
    ) -> PlateReading | None:
        s = self.settings
        # One character more than a plate has may be an emblem read as a character: the formats may drop it.
        if not s.min_chars <= len(text) <= s.max_chars + 1:
            return None
        fixed, fixed_confs, region = self.formats.fix(text, confs, [r.tolist() for r in rows])
        if len(fixed) > s.max_chars:
            return None
        xs, ys = line.quad[:, 0], line.quad[:, 1]
        box = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
        alternatives = tuple(tuple(float(p) for p in r) for r in rows) if len(fixed) == len(text) else ()
        clipped = tuple(min(max(c, 0.0), 1.0) for c in fixed_confs)
        return PlateReading(fixed, clipped, box, region, alternatives)

    def _plate_lines(self, index: int, crop: NDArray[np.uint8]) -> list[_Line]:
        s = self.settings
        kept = self._lines_in(index, self.models.detect(crop, s.detect_side, s.max_upscale), crop.shape[0])
        # Plate-like lines first: larger and better-scored lines are likelier the plate than a sticker's text.
        kept.sort(key=lambda ln: -ln.score * math.sqrt(_shape(ln.quad)[1]))
        kept = kept[: s.max_candidates]
        for region in find_plates(crop, s.finder_regions):
            kept.extend(self._closer_look(index, crop, region))
        return kept

    def _closer_look(self, index: int, crop: NDArray[np.uint8], region: PlateRegion) -> list[_Line]:
        """Text lines found by detecting again on a plate-like region's surroundings, enlarged so the region is
        ``finder_height`` pixels high (at most 4×); their quadrilaterals in the crop's pixels."""
        s = self.settings
        x1, y1, x2, y2 = region.box
        mx, my = _FINDER_MARGIN[0] * (x2 - x1), _FINDER_MARGIN[1] * (y2 - y1)
        left, top = max(0, int(x1 - mx)), max(0, int(y1 - my))
        right, bottom = min(crop.shape[1], int(x2 + mx) + 1), min(crop.shape[0], int(y2 + my) + 1)
        if right - left < 8 or bottom - top < 8:
            return []
        window = np.ascontiguousarray(crop[top:bottom, left:right])
        enlarge = min(4.0, max(1.0, s.finder_height / max(y2 - y1, 1.0)))
        side = round(enlarge * max(window.shape[:2]))
        found = [
            (quad + np.array([left, top], np.float32), score)
            for quad, score in self.models.detect(window, side, enlarge)
        ]
        lines = self._lines_in(index, found, crop.shape[0])
        lines.sort(key=lambda ln: -ln.score * math.sqrt(_shape(ln.quad)[1]))
        return lines[:_FINDER_LINES]

    def _lines_in(self, index: int, found: list[tuple[NDArray[np.float32], float]], height: int) -> list[_Line]:
        """The detected lines of a plate's shape, and neighbouring pairs of them merged."""
        s = self.settings
        kept: list[_Line] = []
        shapes = [(quad, score, *_shape(quad)) for quad, score in found]
        for quad, score, w, h, tilt, cy in shapes:
            if h < s.min_text_height or tilt > s.max_tilt_degrees or cy < s.min_center_y * height:
                continue
            if s.min_aspect <= w / h <= s.max_aspect:
                kept.append(_Line(index, quad, score))
        kept.extend(_merged(index, shapes, s))
        return kept


def _shape(quad: NDArray[np.float32]) -> tuple[float, float, float, float]:
    """Width, height, tilt in degrees and centre y of a text quadrilateral."""
    across = quad[1] - quad[0]
    width = float(np.linalg.norm(across))
    height = max(float(np.linalg.norm(quad[3] - quad[0])), 1e-6)
    tilt = abs(math.degrees(math.atan2(float(across[1]), float(across[0]) or 1e-6)))
    return width, height, min(tilt, 180 - tilt), float(quad[:, 1].mean())


def _merged(
    index: int, shapes: list[tuple[NDArray[np.float32], float, float, float, float, float]], s: PlateReaderSettings
) -> list[_Line]:
    """Pairs of lines side by side with the same height (a plate's two halves), as one axis-aligned line."""
    out: list[_Line] = []
    for i, (qa, sa, _wa, ha, ta, ya) in enumerate(shapes):
        for qb, sb, _wb, hb, tb, yb in shapes[i + 1 :]:
            if max(ta, tb) > s.max_tilt_degrees or min(ha, hb) < s.min_text_height:
                continue
            if abs(ha - hb) > 0.3 * max(ha, hb) or abs(ya - yb) > 0.4 * max(ha, hb):
                continue
            left, right = (qa, qb) if qa[:, 0].min() < qb[:, 0].min() else (qb, qa)
            gap = float(right[:, 0].min() - left[:, 0].max())
            if not -0.2 * max(ha, hb) <= gap <= 1.5 * max(ha, hb):
                continue
            both = np.concatenate([qa, qb])
            x1, y1 = both.min(axis=0)
            x2, y2 = both.max(axis=0)
            if not s.min_aspect <= (x2 - x1) / max(y2 - y1, 1e-6) <= s.max_aspect:
                continue
            quad = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32)
            out.append(_Line(index, quad, min(sa, sb)))
    return out


def _equalised(line: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The line with its contrast stretched locally (CLAHE on lightness): dirt, shadow and glare matter less."""
    lab = cv2.cvtColor(line, cv2.COLOR_BGR2LAB)
    lab[:, :, 0] = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(2, 4)).apply(lab[:, :, 0])
    return np.asarray(cv2.cvtColor(lab, cv2.COLOR_LAB2BGR), np.uint8)
