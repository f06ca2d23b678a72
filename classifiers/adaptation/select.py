"""Choosing a field's method by leave-one-vehicle-out measurement on the camera's own labels.

For each candidate method and each vehicle with a definite label, the method is fitted on every OTHER vehicle's
views and applied to the held-out vehicle's views (``memory`` does this in one pass, hiding each view's own vehicle
from it). Vehicles marked "can't tell" give no label to any fit, so they are scored on the full fit. The abstention
threshold of each scored vehicle is then fitted on the other vehicles' held-out outputs
(``metric.cross_fitted_thresholds``), so neither a method nor a threshold ever sees the label it is scored on. The
simplest method whose utility is within one paired standard error of the best wins (the "one standard error" rule:
with a few vehicles the best of four noisy figures is optimistic, so a more complex method must win clearly); the
deployed head is that method fitted on every vehicle, with the threshold fitted on every vehicle's held-out outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from classifiers.adaptation.fit import FieldData, fit, memory_out_of_vehicle
from classifiers.adaptation.metric import (
    Figures,
    cross_fitted_thresholds,
    figures,
    fit_threshold,
    outcomes,
    paired_standard_error,
    vehicle_utilities,
)
from classifiers.adaptation.transform import F64, METHODS, HeadAdaptation, Method


@dataclass(frozen=True)
class Selection:
    """A field's chosen method, fitted on all its vehicles, and every candidate's held-out figures."""

    method: Method
    adaptation: HeadAdaptation
    candidates: dict[str, Figures]
    utilities: dict[str, NDArray[np.float64]]
    """Per scored vehicle (``VehicleViews.scored`` order), each candidate's held-out utility."""


def held_out_outputs(method: Method, data: FieldData, full: HeadAdaptation) -> F64:
    """Every scored view's output from the method fitted without its vehicle (other views: the full fit's)."""
    if method == "base":
        return full.adapt(data.probs)
    if method == "memory":
        return memory_out_of_vehicle(data, full)
    out = full.adapt(data.probs)
    # Only vehicles with a definite label are refitted without themselves: the others gave the fit no label, only
    # the original model's own outputs on their views (the distillation term), so the full fit holds nothing of
    # what they are scored on (this keeps 200 tracks, most of them "can't tell" for make, within minutes).
    for v in np.flatnonzero(data.views.truth >= 0):
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
    found: dict[Method, tuple[HeadAdaptation, F64, Figures, NDArray[np.float64]]] = {}
    for method in methods:
        if progress is not None:
            progress(method)
        full = fit(method, data, everything)
        held = held_out_outputs(method, data, full)
        result = outcomes(held, data.views)
        thresholds = cross_fitted_thresholds(result)
        found[method] = (full, held, figures(result, data.views, thresholds), vehicle_utilities(result, thresholds))
    best = max(methods, key=lambda m: found[m][2].utility)  # max() keeps the first (simplest) of equals
    top = found[best][3]
    chosen = next(m for m in methods if found[m][3].sum() >= top.sum() - paired_standard_error(top, found[m][3]) - 1e-9)
    full, held, _, _ = found[chosen]
    threshold = fit_threshold(outcomes(held, data.views))
    return Selection(
        method=chosen,
        adaptation=replace(full, threshold=threshold),
        candidates={m: found[m][2] for m in methods},
        utilities={m: found[m][3] for m in methods},
    )
