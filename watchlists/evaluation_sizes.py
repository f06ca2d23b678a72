"""Make against crop size: accuracy per size bucket, how often make abstains there, and per vehicle.

On camera crops the make model is right mostly on large views (badges legible); on small ones it guesses,
confidently. The figures here say, per bucket of the box's shorter side, how many make-labelled crops there are,
how many of them make abstained on (under each crop's own rules: in a cross-validated evaluation the limit fitted
without the crop's clip), and how often the make head was right on the crops it answered, before and after
abstention. Per vehicle: the fused make right, wrong, or abstained (no view large enough).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from classifiers.types import Classification
from watchlists.aliases import make_key
from watchlists.evaluation import UNKNOWN_VALUES
from watchlists.evaluation_vehicles import CropImages, VehicleView
from watchlists.field_weights import MAKE_HEAD

BUCKETS: tuple[tuple[int, int], ...] = ((0, 64), (64, 88), (88, 112), (112, 160), (160, 10_000))
"""Shorter side of the box, pixels: [from, to)."""


@dataclass(frozen=True)
class SizeBucket:
    """Make on the make-labelled crops of one size bucket."""

    low: int
    high: int
    crops: int
    raw_right: int
    """Crops whose raw make top-1 (no abstention) is right."""
    abstained: int
    answered_right: int
    """Crops make answered (did not abstain on) and got right."""

    @property
    def abstention_rate(self) -> float | None:
        return self.abstained / self.crops if self.crops else None

    @property
    def raw_accuracy(self) -> float | None:
        return self.raw_right / self.crops if self.crops else None

    @property
    def answered_accuracy(self) -> float | None:
        answered = self.crops - self.abstained
        return self.answered_right / answered if answered else None


def _right(classification: Classification | None, make: str) -> bool | None:
    """Whether the make top-1 is ``make``; None when the head is absent (abstained or not classified)."""
    if classification is None or MAKE_HEAD not in classification.heads:
        return None
    return make_key(classification.heads[MAKE_HEAD].top(1)[0].label) == make_key(make)


def _known_make(row: Mapping[str, str]) -> str | None:
    make = (row.get("make") or "").strip()
    return None if make.lower() in UNKNOWN_VALUES else make


def make_points(data: CropImages, raw: Mapping[int, Classification]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Box side and whether the raw make top-1 is right, for each make-labelled crop that was classified."""
    sides, correct = [], []
    for i, crop in enumerate(data.crops):
        make = _known_make(crop.row)
        verdict = _right(raw.get(i), make) if make is not None else None
        if verdict is not None:
            sides.append(data.facts[i].box_side)
            correct.append(verdict)
    return np.asarray(sides, np.float64), np.asarray(correct, np.bool_)


def size_buckets(
    data: CropImages, raw: Mapping[int, Classification], final: Mapping[int, Classification]
) -> list[SizeBucket]:
    """The buckets of :data:`BUCKETS` over the make-labelled crops that were classified."""
    out = []
    sides = np.array([f.box_side for f in data.facts])
    for low, high in BUCKETS:
        crops = raw_right = abstained = answered_right = 0
        for i, crop in enumerate(data.crops):
            make = _known_make(crop.row)
            if make is None or i not in raw or not low <= sides[i] < high:
                continue
            crops += 1
            raw_right += bool(_right(raw[i], make))
            answered = _right(final.get(i), make)
            abstained += answered is None
            answered_right += bool(answered)
        out.append(SizeBucket(low, high, crops, raw_right, abstained, answered_right))
    return out


@dataclass(frozen=True)
class VehicleMakes:
    """Make per vehicle (vehicles with a make label): fused top-1 right, wrong, or no make (abstained)."""

    vehicles: int
    right: int
    wrong: int
    abstained: int


def vehicle_makes(vehicles: Sequence[VehicleView]) -> VehicleMakes:
    right = wrong = abstained = total = 0
    for v in vehicles:
        make = _known_make(v.row)
        if make is None:
            continue
        total += 1
        verdict = _right(v.fused, make)
        abstained += verdict is None
        right += verdict is True
        wrong += verdict is False
    return VehicleMakes(total, right, wrong, abstained)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def size_table(buckets: Sequence[SizeBucket], makes: VehicleMakes) -> str:
    """The figures as a Markdown table, and a line per vehicle."""
    lines = [
        "| box shorter side | make-labelled crops | make top-1 without abstention | abstained | top-1 where answered |",
        "|---|---|---|---|---|",
    ]
    for b in buckets:
        span = f"≥ {b.low} px" if b.high >= 10_000 else f"{b.low}–{b.high - 1} px"
        lines.append(
            f"| {span} | {b.crops} | {_pct(b.raw_accuracy)} | {b.abstained} ({_pct(b.abstention_rate)}) "
            f"| {_pct(b.answered_accuracy)} |"
        )
    lines.append(
        f"\nper vehicle ({makes.vehicles} with a make label): fused make right {makes.right}, wrong {makes.wrong}, "
        f"abstained (no view large enough) {makes.abstained}"
    )
    return "\n".join(lines)
