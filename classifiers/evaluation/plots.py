"""PNG plots of an evaluation: confusion among the most confused classes, per-class F1, reliability curve.

Figures are plain ``matplotlib.figure.Figure`` objects saved through the Agg renderer: no pyplot global state, no
display, and no backend switch that would affect other code in the process.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from classifiers.evaluation.metrics import (
    ClassStats,
    PredictionTable,
    Reliability,
    confusion_submatrix,
    most_confused_classes,
)


def plot_confusion(table: PredictionTable, path: Path, *, max_classes: int = 20, title: str = "") -> Path | None:
    """Confusion counts among the classes of the most confused pairs; None when nothing was confused."""
    classes = most_confused_classes(table, max_classes)
    if not classes:
        return None
    matrix = confusion_submatrix(table, classes)
    names = [table.labels[c] for c in classes]
    size = max(5.0, 0.42 * len(classes) + 3)
    fig = Figure(figsize=(size + 1.5, size))
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=75, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or f"confusion among the {len(classes)} most confused classes", fontsize=9)
    threshold = matrix.max() / 2 if matrix.size else 0
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            colour = "white" if count > threshold else "black"
            ax.text(j, i, str(count), ha="center", va="center", fontsize=6, color=colour)
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_per_class_f1(stats: Sequence[ClassStats], path: Path, *, title: str = "") -> Path | None:
    """Horizontal bars of each class's F1, worst at the top."""
    if not stats:
        return None
    ordered = sorted(stats, key=lambda s: (s.f1, s.label))
    height = max(3.0, 0.13 * len(ordered) + 1.2)
    fig = Figure(figsize=(8, height))
    ax = fig.subplots()
    y = np.arange(len(ordered))
    ax.barh(y, [s.f1 for s in ordered], color="tab:blue", height=0.8)
    ax.set_yticks(y, [s.label for s in ordered], fontsize=5 if len(ordered) > 60 else 8)
    ax.set_ylim(len(ordered) - 0.5, -0.5)  # worst at the top, no empty margin
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1")
    ax.set_title(title or f"per-class F1 ({len(ordered)} classes)", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_reliability(curve: Reliability, path: Path, *, title: str = "") -> Path | None:
    """Accuracy against confidence per bin, with the diagonal of perfect calibration and the bin counts."""
    bins = [b for b in curve.bins if b.count]
    if not bins:
        return None
    fig = Figure(figsize=(5, 6))
    ax, counts = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    width = curve.bins[0].upper - curve.bins[0].lower
    ax.bar([b.lower for b in bins], [b.accuracy for b in bins], width=width, align="edge", alpha=0.7, label="accuracy")
    ax.plot([b.confidence for b in bins], [b.accuracy for b in bins], "o-", color="tab:orange", label="per bin")
    ax.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title(title or f"reliability (ECE {curve.ece:.3f})", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    counts.bar([b.lower for b in bins], [b.count for b in bins], width=width, align="edge", color="gray")
    counts.set_xlabel("top-1 confidence")
    counts.set_ylabel("images")
    counts.set_xlim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
