"""Calibration maps for one head's probabilities: temperature scaling and isotonic regression of the top-1 confidence.

Pure NumPy, no fitting library: the service applies the maps on the hot path, the fit (:mod:`.fit`) finds them.

- **Temperature** ``T``: ``p' = softmax(log p / T)``. One number per head; ``T > 1`` softens an overconfident head,
  ``T < 1`` sharpens an underconfident one; the ranking of the labels never changes. Fitted by minimising the
  negative log-likelihood of the true labels (a one-dimensional search over ``log T``).
- **Isotonic**: the top-1 confidence is mapped through a non-decreasing step table fitted by pool-adjacent-violators
  on (confidence, right or wrong); the other labels share the rest of the mass in their old proportions. More
  flexible than one temperature (it can fix a head that is overconfident only at the top), but it needs more data
  and it only calibrates the top-1 label.

Example:
    >>> p = np.array([[0.9, 0.1], [0.6, 0.4]])
    >>> apply_temperature(p, 1.0).round(2).tolist()
    [[0.9, 0.1], [0.6, 0.4]]
    >>> float(apply_temperature(p, 2.0)[0, 0].round(3))
    0.75
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

PROB_FLOOR = 1e-12
"""Probabilities are floored at this before the log, so a head's hard zero stays finite."""
TEMPERATURE_RANGE: tuple[float, float] = (0.05, 20.0)
"""The temperatures the fit searches."""


def _as_probs(probs: NDArray[np.floating]) -> FloatArray:
    rows = np.asarray(probs, np.float64)
    if rows.ndim != 2:
        raise ValueError(f"probabilities must be (N, labels), got shape {rows.shape}")
    return rows


def apply_temperature(probs: NDArray[np.floating], temperature: float) -> FloatArray:
    """``softmax(log p / T)`` row-wise."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logits = np.log(np.maximum(_as_probs(probs), PROB_FLOOR)) / temperature
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    out: FloatArray = shifted / shifted.sum(axis=1, keepdims=True)
    return out


def log_loss(probs: NDArray[np.floating], true: NDArray[np.integer]) -> float:
    """Mean negative log-probability of the true labels (``nan`` for no rows)."""
    rows = _as_probs(probs)
    if len(rows) == 0:
        return float("nan")
    picked = rows[np.arange(len(rows)), np.asarray(true, np.int64)]
    return float(-np.mean(np.log(np.maximum(picked, PROB_FLOOR))))


def expected_calibration_error(probs: NDArray[np.floating], true: NDArray[np.integer], bins: int = 10) -> float:
    """Count-weighted mean of |accuracy − confidence| of the top-1 label over equal-width confidence bins."""
    rows = _as_probs(probs)
    if len(rows) == 0:
        return float("nan")
    confidence = rows.max(axis=1)
    correct = rows.argmax(axis=1) == np.asarray(true, np.int64)
    which = np.clip((confidence * bins).astype(np.int64), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            total += members.sum() * abs(float(correct[members].mean()) - float(confidence[members].mean()))
    return total / len(rows)


def fit_temperature(probs: NDArray[np.floating], true: NDArray[np.integer], *, prior: float = 0.0) -> float:
    """The temperature that minimises the log-loss of ``true`` (golden-section search over ``log T``).

    Args:
        probs: ``(N, labels)`` probabilities.
        true: ``(N,)`` true label indices.
        prior: strength of a Gaussian prior on ``log T`` around 0 (``T = 1``), in rows: the loss gets
            ``prior · (log T)² / N``. On few rows that are nearly all right, the likelihood alone drives ``T``
            towards 0 (certainty); a prior of a few rows keeps it sane.

    Raises:
        ValueError: no rows.
    """
    rows = _as_probs(probs)
    labels = np.asarray(true, np.int64)
    if len(rows) == 0:
        raise ValueError("cannot fit a temperature on no rows")
    lo, hi = (float(np.log(t)) for t in TEMPERATURE_RANGE)
    ratio = (np.sqrt(5.0) - 1.0) / 2.0

    def loss(log_t: float) -> float:
        return log_loss(apply_temperature(rows, float(np.exp(log_t))), labels) + prior * log_t**2 / len(rows)

    a, b = lo + (1 - ratio) * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = loss(a), loss(b)
    for _ in range(80):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = lo + (1 - ratio) * (hi - lo)
            fa = loss(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = loss(b)
        if hi - lo < 1e-5:
            break
    return float(np.exp((lo + hi) / 2.0))


@dataclass(frozen=True)
class IsotonicMap:
    """A non-decreasing map of the top-1 confidence: linear between the points ``(x[i], y[i])``, flat outside."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y) or not self.x:
            raise ValueError("an isotonic map needs as many x as y values, at least one")
        if any(b < a for a, b in zip(self.x, self.x[1:], strict=False)) or any(
            b < a for a, b in zip(self.y, self.y[1:], strict=False)
        ):
            raise ValueError("an isotonic map's x and y must be non-decreasing")

    def __call__(self, confidence: NDArray[np.floating]) -> FloatArray:
        out: FloatArray = np.interp(np.asarray(confidence, np.float64), self.x, self.y)
        return out


def _pool_adjacent_violators(y: FloatArray, w: FloatArray) -> FloatArray:
    """The non-decreasing sequence closest to ``y`` in weighted least squares."""
    means: list[float] = []
    weights: list[float] = []
    sizes: list[int] = []
    for value, weight in zip(y.tolist(), w.tolist(), strict=True):
        means.append(value)
        weights.append(weight)
        sizes.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            total = weights[-2] + weights[-1]
            means[-2] = (means[-2] * weights[-2] + means[-1] * weights[-1]) / total
            weights[-2] = total
            sizes[-2] += sizes[-1]
            del means[-1], weights[-1], sizes[-1]
    return np.repeat(np.asarray(means), sizes)


def fit_isotonic(probs: NDArray[np.floating], true: NDArray[np.integer], *, prior: float = 1.0) -> IsotonicMap:
    """The isotonic map of the top-1 confidence to the share of right answers.

    Args:
        probs: ``(N, labels)`` probabilities.
        true: ``(N,)`` true label indices.
        prior: pseudo-observations at (0, 0) and (1, 1) that keep the ends from sticking to 0 or 1 on few rows.

    Raises:
        ValueError: no rows.
    """
    rows = _as_probs(probs)
    if len(rows) == 0:
        raise ValueError("cannot fit an isotonic map on no rows")
    confidence = rows.max(axis=1)
    correct = (rows.argmax(axis=1) == np.asarray(true, np.int64)).astype(np.float64)
    x = np.concatenate([[0.0], confidence, [1.0]])
    y = np.concatenate([[0.0], correct, [1.0]])
    w = np.concatenate([[prior], np.ones(len(confidence)), [prior]])
    order = np.argsort(x, kind="stable")
    fitted = _pool_adjacent_violators(y[order], w[order])
    xs = x[order]
    # One point per run of equal fitted values (its first and last x), so the table stays small.
    keep = np.ones(len(xs), np.bool_)
    keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
    return IsotonicMap(tuple(float(v) for v in xs[keep]), tuple(float(v) for v in fitted[keep]))


def apply_isotonic(probs: NDArray[np.floating], mapping: IsotonicMap) -> FloatArray:
    """The top-1 probability of each row mapped through ``mapping``; the other labels share the rest in their old
    proportions (the top-1 label is kept on top where the map would push it below another)."""
    rows = _as_probs(probs).copy()
    if len(rows) == 0 or rows.shape[1] == 1:
        return rows
    top = rows.argmax(axis=1)
    index = np.arange(len(rows))
    confidence = rows[index, top]
    rest = 1.0 - confidence
    runner_up = np.sort(rows, axis=1)[:, -2]
    mapped = np.clip(mapping(confidence), 1.0 / rows.shape[1], 1.0)
    scale = np.divide(1.0 - mapped, rest, out=np.zeros_like(rest), where=rest > 0)
    # Keep the top label on top: the scaled runner-up may not exceed the mapped top-1.
    too_high = runner_up * scale > mapped
    ceiling = np.divide(mapped, runner_up, out=np.ones_like(mapped), where=runner_up > 0) * (1.0 - 1e-6)
    scale = np.where(too_high, ceiling, scale)
    rows *= scale[:, None]
    rows[index, top] = mapped
    rows /= rows.sum(axis=1, keepdims=True)
    return rows
