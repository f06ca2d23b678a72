"""How a head is judged per vehicle, as an operator sees it, and how its abstention threshold is fitted.

A vehicle's views are scored per crop; views whose top (adapted) probability is under the threshold abstain (as
``CameraAdaptation.apply`` makes the service do), the remaining views are fused by their mean probabilities and the
vehicle is named by the top label; no remaining view: the head says nothing for that vehicle.

Utility (what a threshold maximises, and what the gate compares): +1 per vehicle named right, ``-WRONG_COST`` per
vehicle named wrong, ``-CANT_TELL_COST`` per vehicle the operator could not tell that the head names anyway (an
operator who cannot tell says the view does not show it: a confident answer there is unverifiable, so it costs,
less than a confirmed error), 0 for an abstention. With a cost of 1, naming pays only where it is right more often
than wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, computed_field

WRONG_COST = 1.0
CANT_TELL_COST = 0.5
NO_LABEL = -1
"""A vehicle's truth for a field it was not labelled for (not scored)."""
CANT = -2
"""A vehicle's truth where the operator said "can't tell"."""


class Figures(BaseModel):
    """Per-vehicle figures of one head on one set of labelled vehicles."""

    model_config = ConfigDict(frozen=True)

    vehicles: int
    """Vehicles with a definite label for the field."""
    named: int
    correct: int
    cant_tell: int = 0
    """Vehicles the operator could not tell."""
    named_cant_tell: int = 0
    threshold: float = 0.0
    utility: float = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def accuracy(self) -> float | None:
        """Right where a value is named (None: nothing named)."""
        return self.correct / self.named if self.named else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def coverage(self) -> float | None:
        """How often a value is named, of the vehicles with a definite label."""
        return self.named / self.vehicles if self.vehicles else None

    def summary(self) -> str:
        acc = "-" if self.accuracy is None else f"{self.accuracy:.2f}"
        cov = "-" if self.coverage is None else f"{self.coverage:.2f}"
        return f"accuracy {acc} ({self.correct}/{self.named}), coverage {cov} ({self.named}/{self.vehicles})"


@dataclass(frozen=True)
class VehicleViews:
    """A field's scored vehicles: which views belong to which vehicle, and each vehicle's truth.

    Attributes:
        view_vehicle: per view, its vehicle's index.
        truth: per vehicle, the label index, ``CANT`` or ``NO_LABEL``.
    """

    view_vehicle: NDArray[np.int64]
    truth: NDArray[np.int64]

    @property
    def scored(self) -> NDArray[np.int64]:
        """Indices of the vehicles a figure counts (a definite label or can't tell)."""
        return np.flatnonzero(self.truth != NO_LABEL)

    def views_of(self, vehicle: int) -> NDArray[np.int64]:
        return np.flatnonzero(self.view_vehicle == vehicle)


@dataclass(frozen=True)
class Outcomes:
    """Per scored vehicle, what it scores as its views drop out: ``maxima`` (its views' top probabilities, highest
    first) and ``value[j]``/``right[j]``: the utility and whether the name is right with its ``j`` best views."""

    vehicles: NDArray[np.int64]
    maxima: Sequence[NDArray[np.float64]]
    value: Sequence[NDArray[np.float64]]
    right: Sequence[NDArray[np.bool_]]


def outcomes(probs: NDArray[np.floating], data: VehicleViews) -> Outcomes:
    """The outcomes of every scored vehicle from its views' probabilities ``probs`` (n_views, L)."""
    p = np.asarray(probs, np.float64)
    maxima, values, rights = [], [], []
    vehicles = data.scored
    for v in vehicles:
        views = data.views_of(int(v))
        top = p[views].max(axis=1)
        order = np.argsort(-top, kind="stable")
        fused = np.cumsum(p[views][order], axis=0)  # the mean's argmax is the sum's
        names = fused.argmax(axis=1)
        truth = int(data.truth[v])
        right = np.concatenate([[False], names == truth]) if truth >= 0 else np.zeros(len(views) + 1, bool)
        value = np.full(len(views) + 1, -CANT_TELL_COST) if truth == CANT else np.where(right, 1.0, -WRONG_COST)
        value[0] = 0.0
        maxima.append(top[order])
        values.append(value.astype(np.float64))
        rights.append(right)
    return Outcomes(vehicles, maxima, values, rights)


def candidates(found: Outcomes) -> NDArray[np.float64]:
    """Thresholds worth trying: 0 and every view's top probability, ascending."""
    tops = [m for m in found.maxima if len(m)]
    every = np.concatenate(tops) if tops else np.zeros(0)
    return np.unique(np.concatenate([[0.0], np.clip(every, 0.0, 1.0)]))


def utility_table(found: Outcomes, thresholds: NDArray[np.float64]) -> NDArray[np.float64]:
    """(vehicles, thresholds): each scored vehicle's utility at each threshold."""
    table = np.zeros((len(found.vehicles), len(thresholds)))
    for i, (maxima, value) in enumerate(zip(found.maxima, found.value, strict=True)):
        kept = (maxima[None, :] >= thresholds[:, None]).sum(axis=1)
        table[i] = value[kept]
    return table


def best_threshold(utilities: NDArray[np.float64], thresholds: NDArray[np.float64]) -> float:
    """The threshold of highest total utility; ties go to the lowest (the one naming most)."""
    if not len(thresholds):
        return 0.0
    return float(thresholds[int(np.argmax(utilities))])


def fit_threshold(found: Outcomes) -> float:
    """The threshold that maximises the total utility of ``found``."""
    thresholds = candidates(found)
    return best_threshold(utility_table(found, thresholds).sum(axis=0), thresholds)


def vehicle_utilities(found: Outcomes, thresholds: float | NDArray[np.float64]) -> NDArray[np.float64]:
    """Each scored vehicle's utility at one threshold, or at its own (cross-fitted) threshold."""
    per = np.broadcast_to(np.asarray(thresholds, np.float64), (len(found.vehicles),))
    return np.array(
        [value[int((maxima >= t).sum())] for maxima, value, t in zip(found.maxima, found.value, per, strict=True)],
        np.float64,
    )


def paired_standard_error(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """Standard error of ``sum(a - b)`` over vehicles (paired: the same vehicles under two heads); 0 under two."""
    if len(a) < 2:
        return 0.0
    return float(np.sqrt(len(a)) * np.std(a - b, ddof=1))


def figures(found: Outcomes, data: VehicleViews, thresholds: float | NDArray[np.float64]) -> Figures:
    """The figures at one threshold for all vehicles, or at a threshold per scored vehicle (cross-fitted)."""
    per = np.broadcast_to(np.asarray(thresholds, np.float64), (len(found.vehicles),))
    named = correct = named_cant = 0
    for i, v in enumerate(found.vehicles):
        kept = int((found.maxima[i] >= per[i]).sum())
        if data.truth[v] == CANT:
            named_cant += kept > 0
        else:
            named += kept > 0
            correct += bool(found.right[i][kept])
    definite = int((data.truth >= 0).sum())
    return Figures(
        vehicles=definite,
        named=named,
        correct=correct,
        cant_tell=int((data.truth == CANT).sum()),
        named_cant_tell=named_cant,
        threshold=float(np.median(per)) if len(per) else 0.0,
        utility=float(vehicle_utilities(found, per).sum()),
    )


def cross_fitted_thresholds(found: Outcomes) -> NDArray[np.float64]:
    """Per scored vehicle, the threshold fitted on every OTHER vehicle's outcomes (the held-out one never tunes
    its own threshold)."""
    thresholds = candidates(found)
    table = utility_table(found, thresholds)
    total = table.sum(axis=0)
    return np.array([best_threshold(total - row, thresholds) for row in table], np.float64)
