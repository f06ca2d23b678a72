"""Everything fitted on labelled camera crops: per-head calibration, the make size limit, the measured colour table.

One function fits all of it on a set of training crops (:func:`fit_fold`): the cross-validated evaluation calls it
once per held-out clip with the other clips, and ``vehiclewatch watchlist calibrate`` once with every clip to
write the files the service loads. Nothing here looks at the crops it is not given.

- **Make size limit** (``abstain.make_min_box_side``): the make model's top-1 accuracy on crops whose box is at
  least L pixels (shorter side), for L on a grid; the limit is the smallest L whose accuracy reaches
  ``make_target`` over at least ``min_rows`` crops (:func:`make_size_curve`, :func:`choose_make_limit`).
- **Calibration** per head (:func:`classifiers.calibration.fit.fit_head`: none, temperature or isotonic, chosen by
  clip-wise cross-validated log-loss among the training clips), on the crops where the head does not abstain.
- **Fusion** per head (:func:`classifiers.calibration.agreement.fit_agreement_exponent`): how far agreeing views
  sharpen the head's fused probability, chosen by the fused log-loss of the training vehicles (their calibrated
  crops fused as the service fuses a track); stored as the head's ``agreement_exponent``.
- **Colour table** (:class:`watchlists.colors.ColorTable`): ``weight(c, l) = P(true colour c | the head says l)``,
  fitted by maximum likelihood on the calibrated colour probabilities of the training crops (fused per vehicle with
  the fitted exponent): the score
  ``Σ_l P(l) · weight(c, l)`` is the probability of the true colour, and the table that makes the true colours most
  likely is found by expectation-maximisation (a prior of ``α`` crops towards each label meaning itself keeps
  rarely said labels at their face value). Rows for every colour that occurs as a true label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from classifiers.calibration.abstention import CropFacts, abstaining_heads
from classifiers.calibration.agreement import VehicleViews, fit_agreement_exponent, fused_probs
from classifiers.calibration.file import CalibrationFile, HeadCalibration
from classifiers.calibration.fit import LabelledProbs, fit_head
from classifiers.settings import AbstentionSettings, FusionSettings
from watchlists.aliases import color_key
from watchlists.colors import ColorTable
from watchlists.field_weights import COLOR_HEAD, MAKE_HEAD

SIZE_GRID: tuple[int, ...] = tuple(range(0, 201, 8))
"""Box sizes (shorter side, pixels) the make limit is chosen from."""


@dataclass(frozen=True)
class FitOptions:
    """What to fit, and the rules that are not fitted."""

    calibrate: bool = True
    color_table: bool = True
    make_limit: bool = True
    make_target: float = 0.9
    """Top-1 accuracy the make model must reach on the crops at or above the limit."""
    min_rows: int = 5
    """Fewest make-labelled crops above a candidate limit for its accuracy to count."""
    table_prior: float = 1.0
    table_by_vehicle: bool = True
    """Fit the colour table on vehicles (their crops fused, as the matcher sees them) rather than on crops."""
    fusion: bool = True
    """Fit each head's agreement exponent on the training vehicles (needs the crops' vehicles)."""
    rules: AbstentionSettings = field(default_factory=AbstentionSettings)
    """The abstention rules; ``make_min_box_side`` is replaced by the fitted limit when ``make_limit``."""


@dataclass(frozen=True)
class HeadData:
    """One head's raw (uncalibrated) probabilities on every crop, and each crop's true label.

    Attributes:
        labels: the head's labels.
        probs: ``(N, labels)``; rows of crops the head did not classify are NaN.
        truth: ``(N,)`` true label index, -1 where unknown.
    """

    labels: tuple[str, ...]
    probs: NDArray[np.float64]
    truth: NDArray[np.int64]

    @property
    def present(self) -> NDArray[np.bool_]:
        """Rows of the crops the head classified."""
        return np.asarray(~np.isnan(self.probs).any(axis=1), np.bool_)


@dataclass(frozen=True)
class FitData:
    """Every calibratable head on every crop, with the crops' facts and folds."""

    heads: Mapping[str, HeadData]
    facts: Sequence[CropFacts]
    folds: tuple[str, ...]
    vehicles: tuple[str, ...] = ()
    """Each crop's vehicle: given, the fusion exponents and (``table_by_vehicle``) the colour table are fitted on
    vehicles (their crops fused as in the service)."""
    weights: NDArray[np.float64] | None = None
    """Each crop's quality weight in fusion."""
    fusion: FusionSettings = field(default_factory=FusionSettings)


@dataclass(frozen=True)
class FoldFit:
    """What one fit produced."""

    calibration: CalibrationFile
    rules: AbstentionSettings
    color_table: ColorTable | None
    make_curve: tuple[tuple[int, int, float], ...] = ()
    """``(L, crops at or above L, their make accuracy)`` on the training crops."""


def make_size_curve(
    sides: NDArray[np.floating], correct: NDArray[np.bool_], grid: Sequence[int] = SIZE_GRID
) -> tuple[tuple[int, int, float], ...]:
    """``(L, crops with a box side ≥ L, their accuracy)`` for each L of ``grid`` (accuracy NaN without crops)."""
    out = []
    for limit in grid:
        above = sides >= limit
        count = int(above.sum())
        out.append((int(limit), count, float(correct[above].mean()) if count else float("nan")))
    return tuple(out)


def choose_make_limit(curve: Sequence[tuple[int, int, float]], target: float, min_rows: int) -> int:
    """The smallest L whose crops at or above it (at least ``min_rows`` of them) reach ``target`` accuracy; when no
    L does (too few large crops), the smallest L that reaches the best accuracy the curve offers. 0 without data.

    Example:
        >>> choose_make_limit([(0, 40, 0.6), (64, 20, 0.85), (88, 12, 0.95), (96, 6, 1.0)], 0.9, 10)
        88
        >>> choose_make_limit([(0, 40, 0.6), (64, 20, 0.85), (88, 8, 0.95)], 0.9, 10)
        64
    """
    counted = [(limit, accuracy) for limit, count, accuracy in curve if count >= min_rows]
    if not counted:
        return 0
    reachable = min(target, max(accuracy for _, accuracy in counted))
    return next(limit for limit, accuracy in counted if accuracy >= reachable)


def _make_correct(data: FitData, rows: NDArray[np.bool_]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    head = data.heads[MAKE_HEAD]
    usable = rows & head.present & (head.truth >= 0)
    sides = np.array([f.box_side for f in data.facts])[usable]
    correct = head.probs[usable].argmax(axis=1) == head.truth[usable]
    return sides, correct


def abstains(head: str, facts: Sequence[CropFacts], rules: AbstentionSettings) -> NDArray[np.bool_]:
    """Per crop, whether ``head`` abstains on it under ``rules`` by its size and exposure."""
    return np.array([bool(abstaining_heads((head,), crop, {}, rules)) for crop in facts], np.bool_)


def fit_calibration(data: FitData, rows: NDArray[np.bool_], rules: AbstentionSettings) -> dict[str, HeadCalibration]:
    """Each head's calibration, fitted on ``rows`` where it has a known truth and does not abstain."""
    folds = np.asarray(data.folds)
    fitted: dict[str, HeadCalibration] = {}
    for name, head in data.heads.items():
        use = rows & head.present & (head.truth >= 0) & ~abstains(name, data.facts, rules)
        labelled = LabelledProbs(head.probs[use], head.truth[use], tuple(folds[use].tolist()))
        fitted[name] = fit_head(labelled)
    return fitted


def _vehicle_views(
    data: FitData, probs: NDArray[np.float64], truth: NDArray[np.int64], use: NDArray[np.bool_]
) -> list[VehicleViews]:
    """The crops of ``use`` grouped by vehicle (in order of first crop), each with its views' fusion weights."""
    weights = data.weights if data.weights is not None else np.ones(len(probs))
    members: dict[str, list[int]] = {}
    for i in np.flatnonzero(use):
        members.setdefault(data.vehicles[i], []).append(int(i))
    return [VehicleViews(probs[ix], weights[ix], int(truth[ix[0]])) for ix in members.values()]


def fit_fusion(
    data: FitData, rows: NDArray[np.bool_], rules: AbstentionSettings, calibration: Mapping[str, HeadCalibration]
) -> dict[str, HeadCalibration]:
    """``calibration`` with each head's agreement exponent fitted on the vehicles of ``rows`` (their calibrated
    crops where the head does not abstain); heads with too few multi-view vehicles keep the configured one."""
    out = dict(calibration)
    for name, head in data.heads.items():
        use = rows & head.present & (head.truth >= 0) & ~abstains(name, data.facts, rules)
        own = out.get(name, HeadCalibration(method="none"))
        probs = np.full_like(head.probs, np.nan)
        probs[use] = own.apply(head.probs[use])
        fitted = fit_agreement_exponent(_vehicle_views(data, probs, head.truth, use), data.fusion.for_head(name))
        if fitted.exponent is not None:
            update = {"agreement_exponent": fitted.exponent, "measured": {**own.measured, **fitted.measured()}}
            out[name] = own.model_copy(update=update)
    return out


def fit_color_table(
    head: HeadData, probs: NDArray[np.float64], rows: NDArray[np.bool_], prior: float, iterations: int = 200
) -> ColorTable:
    """The measured colour table from calibrated colour ``probs`` on ``rows`` (see the module doc)."""
    use = rows & ~np.isnan(probs).any(axis=1) & (head.truth >= 0)
    p, truth = probs[use], head.truth[use]
    k = len(head.labels)
    table = np.full((k, k), 0.02 / k) + 0.98 * np.eye(k)  # [true colour, label]; each label's column sums to 1
    onehot = np.zeros((len(truth), k))
    onehot[np.arange(len(truth)), truth] = 1.0
    for _ in range(iterations):
        joint = table[truth] * p  # (crops, labels): W[t, l] p_l
        share = joint / np.maximum(joint.sum(axis=1, keepdims=True), 1e-12)
        counts = onehot.T @ share + prior * np.eye(k)
        table = counts / np.maximum(counts.sum(axis=0, keepdims=True), 1e-12)
    rows_out: dict[str, dict[str, float]] = {}
    for wanted in sorted(set(truth.tolist())):
        rows_out[color_key(head.labels[wanted])] = {
            color_key(label): round(float(w), 3)
            for label, w in zip(head.labels, table[wanted], strict=True)
            if w >= 0.005
        }
    return ColorTable(rows=rows_out)


def fuse_by_vehicle(
    head: HeadData,
    probs: NDArray[np.float64],
    rows: NDArray[np.bool_],
    data: FitData,
    exponent: float | None = None,
) -> tuple[HeadData, NDArray[np.float64], NDArray[np.bool_]]:
    """One row per vehicle of ``rows``: its crops' ``probs`` fused as the service fuses a track's views (with the
    colour head's fitted ``exponent`` where there is one)."""
    fusion = data.fusion.with_fitted({COLOR_HEAD: exponent} if exponent is not None else {})
    vehicles = _vehicle_views(data, probs, head.truth, rows & ~np.isnan(probs).any(axis=1))
    matrix = np.asarray([fused_probs(v, fusion.for_head(COLOR_HEAD)) for v in vehicles]).reshape(
        len(vehicles), len(head.labels)
    )
    out = HeadData(head.labels, matrix, np.asarray([v.truth for v in vehicles], np.int64))
    return out, matrix, np.ones(len(vehicles), np.bool_)


def fit_fold(data: FitData, rows: NDArray[np.bool_], options: FitOptions) -> FoldFit:
    """Fits everything of the module doc on the crops of ``rows``."""
    rules = options.rules
    curve: tuple[tuple[int, int, float], ...] = ()
    if MAKE_HEAD in data.heads:
        curve = make_size_curve(*_make_correct(data, rows))
        if options.make_limit:
            limit = choose_make_limit(curve, options.make_target, options.min_rows)
            rules = rules.model_copy(update={"make_min_box_side": limit})
    heads = fit_calibration(data, rows, rules) if options.calibrate else {}
    if options.fusion and data.vehicles:
        heads = fit_fusion(data, rows, rules, heads)
    calibration = CalibrationFile(heads=heads)
    table = None
    if options.color_table and COLOR_HEAD in data.heads:
        colour = data.heads[COLOR_HEAD]
        calibrated = np.full_like(colour.probs, np.nan)
        present = colour.present
        head = heads.get(COLOR_HEAD, HeadCalibration(method="none"))
        calibrated[present] = head.apply(colour.probs[present])
        usable = rows & ~abstains(COLOR_HEAD, data.facts, rules)
        if data.vehicles and options.table_by_vehicle:
            colour, calibrated, usable = fuse_by_vehicle(colour, calibrated, usable, data, head.agreement_exponent)
        table = fit_color_table(colour, calibrated, usable, options.table_prior)
    return FoldFit(calibration, rules, table, curve)
