"""Choosing a field's method by leave-one-vehicle-out measurement on the camera's own labels.

For each candidate method and each scored vehicle, the method is fitted on every OTHER vehicle's views and applied
to the held-out vehicle's views (``memory`` does this in one pass by hiding each view's own vehicle from it). The
abstention threshold of each held-out vehicle is then fitted on the other vehicles' held-out outputs
(``metric.cross_fitted_thresholds``), so neither the method nor the threshold ever sees the vehicle it is scored
on. The method of highest utility wins (ties: the simpler); the deployed head is that method fitted on every
vehicle, with the threshold fitted on every vehicle's held-out outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from classifiers.adaptation.fit import FieldData, fit, memory_out_of_vehicle
from classifiers.adaptation.metric import Figures, cross_fitted_thresholds, figures, fit_threshold, outcomes
from classifiers.adaptation.transform import F64, METHODS, HeadAdaptation, Method


@dataclass(frozen=True)
class Selection:
    """A field's chosen method, fitted on all its vehicles, and every candidate's held-out figures."""

    method: Method
    adaptation: HeadAdaptation
    candidates: dict[str, Figures]


def held_out_outputs(method: Method, data: FieldData, full: HeadAdaptation) -> F64:
    """Every scored view's output from the method fitted without its vehicle (other views: the full fit's)."""
    if method == "base":
        return full.adapt(data.probs)
    if method == "memory":
        return memory_out_of_vehicle(data, full)
    out = full.adapt(data.probs)
    for v in data.views.scored:
        own = data.views.view_vehicle == v
        fold = fit(method, data, ~own, start=full)  # warm start: a fold differs from the full fit by one vehicle
        out[own] = fold.adapt(data.probs[own])
    return out


def select_method(
    data: FieldData,
    methods: tuple[Method, ...] = METHODS,
    progress: Callable[[str], None] | None = None,
) -> Selection:
    """Measures every method leave-one-vehicle-out and fits the best on all of ``data``."""
    everything = np.ones(len(data.probs), bool)
    found: dict[Method, tuple[HeadAdaptation, F64, Figures]] = {}
    for method in methods:
        if progress is not None:
            progress(method)
        full = fit(method, data, everything)
        held = held_out_outputs(method, data, full)
        result = outcomes(held, data.views)
        found[method] = (full, held, figures(result, data.views, cross_fitted_thresholds(result)))
    # max() keeps the first of equal utilities: METHODS lists the simplest first.
    best = max(methods, key=lambda m: found[m][2].utility)
    full, held, _ = found[best]
    threshold = fit_threshold(outcomes(held, data.views))
    return Selection(
        method=best,
        adaptation=replace(full, threshold=threshold),
        candidates={m: found[m][2] for m in methods},
    )
