"""How colour holds up under extreme exposure, measured by re-exposing labelled crops: the colour abstention limits.

The labelled camera crops are all reasonably exposed (body luminance 32-198 on ``traffic_crops_dev``), so the
limits cannot be read off them directly. The sweep multiplies every colour-labelled crop's pixels by a gain (0.08
to 6, clipped at 255: from a night-dim to a blown-out camera), classifies it with the bank (no abstention) and
records the body region's mean luminance, its clipped share and whether the colour head's top-1 is right. The
limits (:func:`choose_exposure_limits`) are where the colour claim becomes more often wrong than right
(accuracy below ``floor``) and stays so towards the extreme, but never inside the range of the unmodified crops
that were read right (white paint in sun legitimately clips).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from classifiers.bank import ClassifierBank
from classifiers.calibration.abstention import crop_facts
from classifiers.calibration.file import Calibration
from classifiers.settings import AbstentionSettings
from watchlists.evaluation_data import one_box
from watchlists.evaluation_vehicles import CropImages, Progress
from watchlists.field_weights import COLOR_HEAD

GAINS: tuple[float, ...] = (0.08, 0.12, 0.18, 0.25, 0.35, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0, 6.0)
LUMINANCE_BIN = 4.0
CLIPPED_BIN = 0.1


@dataclass(frozen=True)
class ExposurePoints:
    """One row per (crop, gain): the gain, the body's mean luminance and clipped share, and colour right."""

    gain: NDArray[np.float64]
    luminance: NDArray[np.float64]
    clipped: NDArray[np.float64]
    right: NDArray[np.bool_]


def exposure_sweep(
    bank: ClassifierBank,
    data: CropImages,
    truth: NDArray[np.int64],
    *,
    gains: Sequence[float] = GAINS,
    progress: Progress | None = None,
) -> ExposurePoints:
    """The sweep of the module doc over the crops with a known colour (``truth`` ≥ 0 among the colour labels)."""
    raw = bank.with_parts(calibration=Calibration({}), abstain=AbstentionSettings(enabled=False))
    chosen = [i for i in np.flatnonzero(truth >= 0).tolist() if data.weights[i] > 0]
    rows: list[tuple[float, float, float, bool]] = []
    for gain in gains:
        for start in range(0, len(chosen), 32):
            part = chosen[start : start + 32]
            images = [np.clip(data.images[i].astype(np.float32) * gain, 0, 255).astype(np.uint8) for i in part]
            results = raw.classify_boxes(
                [(image, one_box(data.boxes[i])) for i, image in zip(part, images, strict=True)]
            )
            frames = results.frames
            for i, image, frame in zip(part, images, frames, strict=True):
                facts = crop_facts(image, data.boxes[i])
                found = frame[0]
                right = found is not None and int(np.argmax(found.heads[COLOR_HEAD].probs)) == int(truth[i])
                rows.append((gain, facts.luminance, facts.clipped, right))
            if progress is not None:
                progress(len(part))
    table = np.asarray(rows, np.float64).reshape(-1, 4)
    return ExposurePoints(table[:, 0], table[:, 1], table[:, 2], table[:, 3] > 0.5)


def binned(
    values: NDArray[np.float64], right: NDArray[np.bool_], width: float, top: float
) -> list[tuple[float, int, float]]:
    """``(bin start, rows, accuracy)`` over equal-width bins from 0 to ``top`` (empty bins left out)."""
    out = []
    for start in np.arange(0.0, top, width):
        members = (values >= start) & (values < start + width)
        if members.any():
            out.append((float(start), int(members.sum()), float(right[members].mean())))
    return out


def _low_limit(bins: Sequence[tuple[float, int, float]], width: float, floor: float) -> float:
    """The upper edge of the run of bins, from the lowest up, whose accuracy stays below ``floor``."""
    limit = 0.0
    for start, _, accuracy in bins:
        if accuracy >= floor:
            break
        limit = start + width
    return limit


def _high_limit(bins: Sequence[tuple[float, int, float]], floor: float, top: float) -> float:
    """The lower edge of the run of bins, from the highest down, whose accuracy stays below ``floor``."""
    limit = top
    for start, _, accuracy in reversed(bins):
        if accuracy >= floor:
            break
        limit = start
    return limit


def choose_exposure_limits(points: ExposurePoints, floor: float = 0.5) -> tuple[float, float, float]:
    """``(min luminance, max luminance, max clipped share)`` (see the module doc)."""
    lum_bins = binned(points.luminance, points.right, LUMINANCE_BIN, 256.0)
    clip_bins = binned(points.clipped, points.right, CLIPPED_BIN, 1.0 + 1e-9)
    low = _low_limit(lum_bins, LUMINANCE_BIN, floor)
    high = _high_limit(lum_bins, floor, 255.0)
    clipped = _high_limit(clip_bins, floor, 1.0)
    real = (points.gain == 1.0) & points.right
    if real.any():
        low = min(low, float(np.floor(points.luminance[real].min())))
        high = max(high, float(np.ceil(points.luminance[real].max())))
        clipped = max(clipped, float(np.ceil(points.clipped[real].max() / CLIPPED_BIN) * CLIPPED_BIN))
    return low, high, round(min(clipped, 1.0), 3)


def plot_exposure(points: ExposurePoints, limits: tuple[float, float, float], path: Path) -> Path:
    """Colour accuracy against the body's mean luminance and against its clipped share, with the limits."""
    from matplotlib.figure import Figure  # the tools extra

    fig = Figure(figsize=(11, 4.2))
    left, right = fig.subplots(1, 2)
    for ax, values, width, top, marks, name in (
        (left, points.luminance, LUMINANCE_BIN * 2, 256.0, limits[:2], "body mean luminance (0-255)"),
        (right, points.clipped, CLIPPED_BIN / 2, 1.0 + 1e-9, limits[2:], "clipped share of the body region"),
    ):
        bins = binned(values, points.right, width, top)
        ax.bar([b[0] for b in bins], [b[2] for b in bins], width=width, align="edge", alpha=0.6, label="sweep")
        real = binned(values[points.gain == 1.0], points.right[points.gain == 1.0], width, top)
        ax.plot([b[0] + width / 2 for b in real], [b[2] for b in real], "ko", ms=4, label="unmodified crops")
        ax.axhline(0.5, color="grey", linestyle=":", label="accuracy 0.5")
        for mark in marks:
            ax.axvline(mark, color="tab:red", linestyle="--")
        ax.set_xlabel(name)
        ax.set_ylabel("colour top-1 right")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(
        f"colour under re-exposure ({len(points.right)} crop×gain rows): abstain below {limits[0]:g} / above "
        f"{limits[1]:g} luminance or above {limits[2]:g} clipped",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
