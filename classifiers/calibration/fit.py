"""Fitting one head's calibration on labelled crops, the method chosen by group-wise (clip-wise) cross-validation.

For each candidate method (none, temperature, isotonic) every group (a clip: one camera) is scored by the method
fitted on the other groups; the method with the lowest cross-validated log-loss wins (ties: the simpler one) and
is then fitted on all rows. The cross-validated figures (log-loss and ECE before and after) go into the result, so
the file says what the calibration measured on crops it had not seen.

Pure NumPy: no part of the ``tools`` extra is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from classifiers.calibration.file import HeadCalibration, Method
from classifiers.calibration.methods import (
    FloatArray,
    expected_calibration_error,
    fit_isotonic,
    fit_temperature,
    log_loss,
)

METHODS: tuple[Method, ...] = ("none", "temperature", "isotonic")
"""Candidates, simplest first (a tie goes to the simpler one)."""
MIN_ROWS = 8
"""Fewer labelled rows than this: the head is left uncalibrated (method none)."""
MIN_ISOTONIC_ROWS = 100
"""Isotonic regression is only tried on at least this many rows (it overfits fewer)."""
TEMPERATURE_PRIOR = 4.0
"""Strength (in rows) of the prior that keeps a temperature near 1 on little data."""


@dataclass(frozen=True)
class LabelledProbs:
    """One head's probabilities on labelled crops.

    Attributes:
        probs: ``(N, labels)``.
        true: ``(N,)`` index of each row's true label; rows with ``-1`` (unknown, or a label the head lacks) are
            left out of every fit and figure.
        groups: ``(N,)`` the group (clip) of each row: folds never split a group.
    """

    probs: FloatArray
    true: NDArray[np.int64]
    groups: tuple[str, ...]

    def known(self) -> LabelledProbs:
        """Only the rows with a known true label."""
        keep = self.true >= 0
        return LabelledProbs(
            self.probs[keep], self.true[keep], tuple(g for g, k in zip(self.groups, keep, strict=True) if k)
        )


def fit_method(method: Method, probs: FloatArray, true: NDArray[np.int64]) -> HeadCalibration:
    """``method`` fitted on the rows (all of them known)."""
    if method == "temperature":
        temperature = fit_temperature(probs, true, prior=TEMPERATURE_PRIOR)
        return HeadCalibration(method="temperature", temperature=round(temperature, 4))
    if method == "isotonic":
        mapping = fit_isotonic(probs, true)
        cap = 1.0 - 1.0 / (len(true) + 2)  # never claim certainty from finite data
        y = tuple(round(min(v, cap), 4) for v in mapping.y)
        return HeadCalibration(method="isotonic", isotonic_x=tuple(round(v, 4) for v in mapping.x), isotonic_y=y)
    return HeadCalibration(method="none")


def cross_validated(method: Method, data: LabelledProbs, fold_of: Sequence[str] | None = None) -> FloatArray:
    """Every row calibrated by ``method`` fitted on the rows of the other groups (known rows only).

    Args:
        method: the method.
        data: known rows.
        fold_of: the group of each row (default ``data.groups``).
    """
    groups = np.asarray(fold_of if fold_of is not None else data.groups)
    out = np.asarray(data.probs, np.float64).copy()
    for group in sorted(set(groups.tolist())):
        held = groups == group
        train = ~held
        if train.sum() < MIN_ROWS:
            continue  # too little to fit on: the held-out group stays as it is
        fitted = fit_method(method, data.probs[train], data.true[train])
        out[held] = fitted.apply(data.probs[held])
    return out


@dataclass(frozen=True)
class MethodScore:
    """A method's cross-validated figures."""

    method: Method
    log_loss: float
    ece: float


def compare_methods(data: LabelledProbs) -> list[MethodScore]:
    """Each candidate's cross-validated log-loss and ECE on the known rows (groups as folds)."""
    known = data.known()
    scores = []
    for method in METHODS:
        if method == "isotonic" and len(known.true) < MIN_ISOTONIC_ROWS:
            continue
        calibrated = cross_validated(method, known)
        scores.append(
            MethodScore(method, log_loss(calibrated, known.true), expected_calibration_error(calibrated, known.true))
        )
    return scores


def fit_head(data: LabelledProbs) -> HeadCalibration:
    """The head's calibration: the method with the lowest cross-validated log-loss, fitted on all known rows,
    with the figures that chose it in ``measured``."""
    known = data.known()
    if len(known.true) < MIN_ROWS or len(set(known.groups)) < 2:
        return HeadCalibration(method="none", measured={"rows": float(len(known.true))})
    scores = compare_methods(known)
    best = min(scores, key=lambda s: (round(s.log_loss, 4), METHODS.index(s.method)))
    before = scores[0]
    fitted = fit_method(best.method, known.probs, known.true)
    measured = {
        "rows": float(len(known.true)),
        "groups": float(len(set(known.groups))),
        "cv_log_loss_before": round(before.log_loss, 4),
        "cv_log_loss_after": round(best.log_loss, 4),
        "cv_ece_before": round(before.ece, 4),
        "cv_ece_after": round(best.ece, 4),
        **{f"cv_log_loss_{s.method}": round(s.log_loss, 4) for s in scores},
    }
    return fitted.model_copy(update={"measured": measured})
