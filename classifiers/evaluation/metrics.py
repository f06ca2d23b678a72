"""Classifier metrics as pure functions: a prediction table in, numbers out.

Conventions:
- Per-class figures and macro averages cover the classes that occur in the ground truth. A model's other labels
  (a 397-make model evaluated on 49 makes) only count as wrong predictions; they get no precision of their own.
- Ties in probabilities are broken by label order (stable sort), so results are deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support


@dataclass(frozen=True)
class PredictionTable:
    """One row per evaluated image: its true class and the model's probabilities over ``labels``.

    Attributes:
        labels: the model's labels, in output order.
        true: ``(N,)`` index into ``labels`` of each row's true class.
        probs: ``(N, len(labels))`` class probabilities.
    """

    labels: tuple[str, ...]
    true: NDArray[np.int64]
    probs: NDArray[np.float64]

    def __post_init__(self) -> None:
        if self.probs.ndim != 2 or self.probs.shape[1] != len(self.labels):
            raise ValueError(f"probs must have shape (N, {len(self.labels)}), got {self.probs.shape}")
        if self.true.shape != (self.probs.shape[0],):
            raise ValueError(f"true must have shape ({self.probs.shape[0]},), got {self.true.shape}")
        if len(self.true) and (self.true.min() < 0 or self.true.max() >= len(self.labels)):
            raise ValueError(f"true indices must be in [0, {len(self.labels)})")

    @property
    def ranking(self) -> NDArray[np.int64]:
        """Label indices of each row, most probable first."""
        return np.argsort(-self.probs, axis=1, kind="stable")

    @property
    def predicted(self) -> NDArray[np.int64]:
        return self.ranking[:, 0] if len(self.true) else np.zeros(0, np.int64)


def topk_accuracy(table: PredictionTable, k: int) -> float:
    """Share of rows whose true class is among the ``k`` most probable labels (0.0 for an empty table)."""
    if len(table.true) == 0:
        return 0.0
    return float(np.mean((table.ranking[:, :k] == table.true[:, None]).any(axis=1)))


@dataclass(frozen=True)
class ClassStats:
    """Precision, recall, F1 and support of one class (like scikit-learn's classification report)."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


def class_stats(table: PredictionTable) -> list[ClassStats]:
    """Per-class figures for the classes present in the ground truth, in label order (0 where undefined)."""
    present = np.unique(table.true)
    if len(present) == 0:
        return []
    p, r, f, s = precision_recall_fscore_support(table.true, table.predicted, labels=present, zero_division=0.0)
    return [
        ClassStats(table.labels[int(c)], float(p[i]), float(r[i]), float(f[i]), int(s[i]))
        for i, c in enumerate(present)
    ]


@dataclass(frozen=True)
class MacroScores:
    precision: float
    recall: float
    f1: float


def macro_scores(stats: Sequence[ClassStats]) -> MacroScores:
    """Unweighted means over classes."""
    if not stats:
        return MacroScores(0.0, 0.0, 0.0)
    return MacroScores(
        float(np.mean([s.precision for s in stats])),
        float(np.mean([s.recall for s in stats])),
        float(np.mean([s.f1 for s in stats])),
    )


@dataclass(frozen=True)
class ConfusedPair:
    """``count`` images of ``true`` were predicted as ``predicted`` (``share`` of ``true``'s images)."""

    true: str
    predicted: str
    count: int
    share: float


def confused_pairs(table: PredictionTable, limit: int = 10) -> list[ConfusedPair]:
    """The most frequent (true, predicted) mistakes, most frequent first, then by label order."""
    wrong = table.true != table.predicted
    if not wrong.any():
        return []
    pairs, counts = np.unique(np.stack([table.true[wrong], table.predicted[wrong]], axis=1), axis=0, return_counts=True)
    support = np.bincount(table.true, minlength=len(table.labels))
    order = sorted(range(len(counts)), key=lambda i: (-counts[i], pairs[i][0], pairs[i][1]))[:limit]
    return [
        ConfusedPair(
            table.labels[int(pairs[i][0])],
            table.labels[int(pairs[i][1])],
            int(counts[i]),
            float(counts[i] / support[pairs[i][0]]),
        )
        for i in order
    ]


def confusion_submatrix(table: PredictionTable, classes: Sequence[int]) -> NDArray[np.int64]:
    """Counts ``[true, predicted]`` restricted to ``classes`` (rows and columns in the given order)."""
    return np.asarray(confusion_matrix(table.true, table.predicted, labels=list(classes)), np.int64)


def most_confused_classes(table: PredictionTable, limit: int) -> list[int]:
    """Up to ``limit`` class indices taken from the most confused pairs, in order of first appearance."""
    chosen: list[int] = []
    index = {label: i for i, label in enumerate(table.labels)}
    for pair in confused_pairs(table, limit=len(table.true)):
        for label in (pair.true, pair.predicted):
            if index[label] not in chosen and len(chosen) < limit:
                chosen.append(index[label])
        if len(chosen) >= limit:
            break
    return chosen


@dataclass(frozen=True)
class ReliabilityBin:
    """Rows whose top-1 confidence falls in [lower, upper): their mean confidence and their accuracy."""

    lower: float
    upper: float
    count: int
    confidence: float
    accuracy: float


@dataclass(frozen=True)
class Reliability:
    """A reliability (calibration) curve and its expected calibration error (count-weighted |acc − conf|)."""

    bins: tuple[ReliabilityBin, ...]
    ece: float


def reliability(table: PredictionTable, n_bins: int = 10) -> Reliability:
    """Equal-width confidence bins over [0, 1]; a confidence of exactly 1.0 falls in the last bin."""
    if len(table.true) == 0:
        return Reliability((), 0.0)
    confidence = table.probs.max(axis=1)
    correct = table.predicted == table.true
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=False), 0, n_bins - 1)
    bins = []
    ece = 0.0
    for b in range(n_bins):
        members = which == b
        count = int(members.sum())
        conf = float(confidence[members].mean()) if count else 0.0
        acc = float(correct[members].mean()) if count else 0.0
        ece += count / len(confidence) * abs(acc - conf)
        bins.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), count, conf, acc))
    return Reliability(tuple(bins), float(ece))


def group_table(table: PredictionTable, group_of_label: Sequence[str]) -> PredictionTable:
    """The same predictions one level up: each group's probability is the sum over its labels (e.g. all models
    of a make), and each row's true group is its true label's group. Groups are sorted by name.
    """
    if len(group_of_label) != len(table.labels):
        raise ValueError(f"need one group per label ({len(table.labels)}), got {len(group_of_label)}")
    groups = tuple(sorted(set(group_of_label)))
    column = np.searchsorted(np.asarray(groups), np.asarray(group_of_label))
    summed = np.zeros((len(table.true), len(groups)), np.float64)
    np.add.at(summed.T, column, table.probs.T)
    return PredictionTable(groups, column[table.true].astype(np.int64), summed)
