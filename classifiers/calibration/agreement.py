"""How far a head's agreeing views should raise its confidence: the fusion's agreement exponent, fitted on vehicles.

Per-crop calibration makes one view's 0.9 mean "right 9 times in 10". A track fuses many views, sharpened by
``views^γ`` (:mod:`classifiers.fusion`), and consecutive views of one vehicle are far from independent: the same
dark-blue pickup read as grey in 4 views scored 0.95 with the default γ = 0.5. So γ is measured, per head: each
labelled vehicle's calibrated views are fused as the service fuses a track, for every γ of a grid, and the γ
whose fused probabilities give the labelled vehicles the lowest mean log-loss wins. Only vehicles with two views or
more say anything about γ (one view is never sharpened).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from classifiers.calibration.methods import log_loss
from classifiers.fusion import fuse
from classifiers.settings import FusionSettings
from classifiers.types import Classification, HeadScores

EXPONENT_GRID: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))
"""The exponents tried (0: the views' geometric mean, never sharper than they are; 1: independent evidence)."""

MIN_VEHICLES = 8
"""Fewest labelled vehicles with two views or more for a fit; with fewer the configured exponent stays."""

_HEAD = "head"


@dataclass(frozen=True)
class VehicleViews:
    """One labelled vehicle: its views' (calibrated) probabilities of one head and their fusion weights."""

    probs: NDArray[np.float64]
    """``(views, labels)``."""
    weights: NDArray[np.float64]
    """``(views,)`` quality weights, > 0."""
    truth: int


@dataclass(frozen=True)
class ExponentFit:
    """The chosen exponent (None: too few vehicles, keep the configured one) and what it measured."""

    exponent: float | None
    vehicles: int
    log_loss_configured: float
    log_loss_fitted: float

    def measured(self) -> dict[str, float]:
        """For ``HeadCalibration.measured`` (in-sample figures on the vehicles it was fitted on)."""
        if self.exponent is None:
            return {}
        return {
            "fusion_vehicles": float(self.vehicles),
            "fusion_log_loss_configured": round(self.log_loss_configured, 4),
            "fusion_log_loss_fitted": round(self.log_loss_fitted, 4),
        }


def fused_probs(vehicle: VehicleViews, settings: FusionSettings) -> NDArray[np.float64]:
    """The vehicle's views fused by ``settings`` (the service's :func:`classifiers.fusion.fuse`)."""
    labels = tuple(str(i) for i in range(vehicle.probs.shape[1]))
    views = [
        (Classification({_HEAD: HeadScores(_HEAD, labels, row.astype(np.float32))}), float(weight))
        for row, weight in zip(vehicle.probs, vehicle.weights, strict=True)
    ]
    return fuse(views, settings).heads[_HEAD].probs.astype(np.float64)


def mean_log_loss(vehicles: Sequence[VehicleViews], settings: FusionSettings) -> float:
    """Mean negative log-probability of each vehicle's true label after fusion (``nan`` for no vehicles)."""
    if not vehicles:
        return float("nan")
    fused = np.stack([fused_probs(v, settings) for v in vehicles])
    return log_loss(fused, np.array([v.truth for v in vehicles], np.int64))


def fit_agreement_exponent(
    vehicles: Sequence[VehicleViews],
    settings: FusionSettings,
    grid: Sequence[float] = EXPONENT_GRID,
    min_vehicles: int = MIN_VEHICLES,
) -> ExponentFit:
    """The exponent of ``grid`` that gives the labelled multi-view ``vehicles`` the lowest fused log-loss.

    ``settings``: how the head is fused now (its exponent as ``agreement_exponent``: ``FusionSettings.for_head``).

    Ties go to the exponent nearest the configured one. Fewer than ``min_vehicles`` vehicles with two views or more:
    no fit (``exponent`` None).

    Example:
        >>> wrong_alike = [VehicleViews(np.tile([0.3, 0.7], (6, 1)), np.ones(6), 0) for _ in range(4)]
        >>> right_alike = [VehicleViews(np.tile([0.7, 0.3], (6, 1)), np.ones(6), 0) for _ in range(6)]
        >>> fit_agreement_exponent(wrong_alike + right_alike, FusionSettings(), min_vehicles=5).exponent
        0.0
    """
    multi = [v for v in vehicles if len(v.weights) >= 2 and v.truth >= 0]
    configured = mean_log_loss(multi, settings)
    if len(multi) < min_vehicles:
        return ExponentFit(None, len(multi), configured, configured)
    scored = [(mean_log_loss(multi, settings.model_copy(update={"agreement_exponent": g})), g) for g in grid]
    best = min(loss for loss, _ in scored)
    chosen = min((g for loss, g in scored if loss <= best + 1e-9), key=lambda g: abs(g - settings.agreement_exponent))
    return ExponentFit(chosen, len(multi), configured, best)
