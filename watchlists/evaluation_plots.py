"""Plots of the per-vehicle evaluation: make accuracy against crop size, and reliability before/after calibration.

The precision/recall curve is :func:`watchlists.evaluation.plot_report`; the reliability diagrams are
:func:`classifiers.evaluation.plots.plot_reliability`, drawn for a head's held-out crops before and after its
calibration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from classifiers.calibration.methods import expected_calibration_error, log_loss
from classifiers.evaluation.metrics import PredictionTable, reliability
from classifiers.evaluation.plots import plot_reliability
from watchlists.evaluation_cv import HeadCurve
from watchlists.evaluation_fit import SIZE_GRID, make_size_curve


def plot_make_sizes(
    sides: NDArray[np.floating],
    correct: NDArray[np.bool_],
    path: Path,
    *,
    limit: int,
    fold_limits: Mapping[str, int] | None = None,
    target: float = 0.9,
) -> Path:
    """Make top-1 against the box's shorter side: each crop (right/wrong), accuracy per 16 px bucket, accuracy of
    all crops at or above a size, the target and the chosen limit (and each fold's)."""
    fig = Figure(figsize=(9, 5))
    ax = fig.subplots()
    rng = np.random.default_rng(0)
    jitter = rng.uniform(-0.03, 0.03, len(sides))
    ax.scatter(sides, correct.astype(float) + jitter, s=12, c=np.where(correct, "tab:green", "tab:red"), alpha=0.6)
    edges = np.arange(48, max(int(sides.max()) + 16, 64), 16) if len(sides) else np.arange(48, 64, 16)
    centres, accuracy = [], []
    for low in edges:
        members = (sides >= low) & (sides < low + 16)
        if members.any():
            centres.append(low + 8)
            accuracy.append(float(correct[members].mean()))
    ax.plot(centres, accuracy, "o-", color="tab:blue", label="accuracy per 16 px bucket")
    curve = make_size_curve(sides, correct, SIZE_GRID)
    ax.step(
        [c[0] for c in curve], [c[2] for c in curve], where="post", color="tab:orange", label="accuracy of crops ≥ size"
    )
    ax.axhline(target, color="grey", linestyle=":", label=f"target {target:g}")
    ax.axvline(limit, color="black", linestyle="--", label=f"chosen limit {limit} px")
    others = {fold: value for fold, value in (fold_limits or {}).items() if value != limit}
    for fold, value in others.items():
        ax.axvline(value, color="black", alpha=0.3, linewidth=0.8)
        ax.annotate(f"fold {fold}", (value + 1, 0.05), fontsize=6, rotation=90)
    ax.set_xlabel("box shorter side (pixels)")
    ax.set_ylabel("make top-1 right (dots: each crop)")
    ax.set_ylim(-0.08, 1.08)
    ax.grid(alpha=0.3)
    ax.legend(loc="center right", fontsize=8)
    ax.set_title(f"make on {len(sides)} make-labelled camera crops (tight box)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_calibration(
    curves: Mapping[str, HeadCurve], folder: Path, *, unit: str = "crops", prefix: str = "reliability_"
) -> list[Path]:
    """Reliability diagrams of each head's held-out crops (or vehicles: ``unit``), before and after calibration
    (two PNGs per head, ``<prefix><head>_{before,after}.png``)."""
    written: list[Path] = []
    for head, curve in sorted(curves.items()):
        if not len(curve.truth):
            continue
        for name, probs in (("before", curve.before), ("after", curve.after)):
            table = PredictionTable(curve.labels, curve.truth, probs)
            figures = (
                f"log-loss {log_loss(probs, curve.truth):.3f}, ECE {expected_calibration_error(probs, curve.truth):.3f}"
            )
            title = f"{head}, {len(curve.truth)} held-out {unit}, {name} calibration: {figures}"
            drawn = plot_reliability(reliability(table), folder / f"{prefix}{head}_{name}.png", title=title)
            if drawn is not None:
                written.append(drawn)
    return written


def calibration_rows(curves: Mapping[str, HeadCurve]) -> list[tuple[str, int, float, float, float, float]]:
    """Per head: (head, crops, log-loss before, after, ECE before, after) on its held-out crops."""
    rows = []
    for head, c in sorted(curves.items()):
        if len(c.truth):
            rows.append(
                (
                    head,
                    len(c.truth),
                    log_loss(c.before, c.truth),
                    log_loss(c.after, c.truth),
                    expected_calibration_error(c.before, c.truth),
                    expected_calibration_error(c.after, c.truth),
                )
            )
    return rows


def calibration_table(rows: Sequence[tuple[str, int, float, float, float, float]], unit: str = "crops") -> str:
    """The rows as a Markdown table."""
    lines = [f"| head | held-out {unit} | log-loss before | after | ECE before | after |", "|---|---|---|---|---|---|"]
    lines += [f"| {h} | {n} | {a:.3f} | {b:.3f} | {c:.3f} | {d:.3f} |" for h, n, a, b, c, d in rows]
    return "\n".join(lines)
