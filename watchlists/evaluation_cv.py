"""The per-vehicle evaluation, cross-validated by fold (clip): fit on the other clips, score the held-out one.

For each held-out fold:

1. fit (:func:`watchlists.evaluation_fit.fit_fold`) on the crops of the other folds: the calibration of each head,
   the make size limit, the measured colour table; with a colour recogniser, its pool is refitted without the
   held-out fold first (:mod:`watchlists.evaluation_color`), and what is fitted on the colour head inside the fold
   uses colour probabilities that are out of sample there too (nested);
2. classify the held-out crops with the same opened bank carrying what was fitted
   (:meth:`classifiers.bank.ClassifierBank.with_parts`: the service's code path, calibration and abstention
   inside the bank);
3. fuse each vehicle's views as the service fuses a track (each head sharpened by the exponent the fold fitted for
   it on vehicles), and match the fused classification once per vehicle with a matcher holding the fold's colour
   table.

Without folds the bank is used as it is (a calibration file from its settings, its abstention rules): the
evaluation of a configuration as shipped, e.g. on a held-out set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from classifiers.bank import ClassifierBank
from classifiers.calibration.file import Calibration, agreement_exponents
from classifiers.color.recognizer import ColorRecognizer
from classifiers.crops import crop_box
from classifiers.settings import AbstentionSettings, FusionSettings
from classifiers.types import Classification
from watchlists.colors import ColorTable
from watchlists.evaluation import score_matrix
from watchlists.evaluation_color import ColorFolds
from watchlists.evaluation_fit import FitData, FitOptions, FoldFit, HeadData, abstains, fit_fold
from watchlists.evaluation_truth import HEAD_COLUMNS, head_truth
from watchlists.evaluation_vehicles import CropImages, Progress, VehicleView, classify_views, fuse_vehicles
from watchlists.field_weights import COLOR_HEAD
from watchlists.matching import Matcher

MatcherFor = Callable[[ColorTable | None], Matcher]
"""Builds the watchlist's matcher with a colour table (None: the hand-set one)."""


@dataclass(frozen=True)
class CVOptions:
    """How the evaluation runs."""

    fit: FitOptions | None = field(default_factory=FitOptions)
    """What each fold fits; None: nothing is fitted, the bank and matcher are used as configured."""
    refit_color: bool = True
    """Refit the colour recogniser's pool per held-out fold (it was fitted on every clip)."""
    fusion: FusionSettings = field(default_factory=FusionSettings)
    providers: tuple[str, ...] = ("cpu",)
    batch_size: int = 32


@dataclass(frozen=True)
class HeadCurve:
    """One head's held-out crops: raw and calibrated probabilities and the truth (for reliability plots)."""

    labels: tuple[str, ...]
    before: NDArray[np.float64]
    after: NDArray[np.float64]
    truth: NDArray[np.int64]


@dataclass(frozen=True)
class Evaluation:
    """Per-vehicle results of every fold, with what each fold fitted.

    Attributes:
        vehicles: every vehicle, in order of first appearance, fused as its fold's bank classified it.
        scores: ``(vehicles, entries)`` match scores.
        classified: crop index → its final classification (calibrated; abstaining heads left out).
        raw: crop index → the bank's classification without calibration and abstention.
        fits: fold → what was fitted on the other folds (empty without folds).
        curves: head → its held-out crops before and after calibration.
        vehicle_curves: head → its held-out vehicles, fused with the configured agreement exponent ("before") and
            with the fold's fitted one ("after"); the crops calibrated in both.
    """

    vehicles: tuple[VehicleView, ...]
    scores: NDArray[np.float64]
    classified: dict[int, Classification]
    raw: dict[int, Classification]
    fits: dict[str, FoldFit]
    curves: dict[str, HeadCurve]
    vehicle_curves: dict[str, HeadCurve] = field(default_factory=dict)


def head_data(data: CropImages, raw: dict[int, Classification], bank: ClassifierBank) -> dict[str, HeadData]:
    """Every head with a truth column, its raw probabilities on every crop (NaN where not classified)."""
    rows = [crop.row for crop in data.crops]
    out: dict[str, HeadData] = {}
    for name, labels in bank.heads.items():
        if name not in HEAD_COLUMNS:
            continue
        probs = np.full((len(data), len(labels)), np.nan)
        for i, classification in raw.items():
            if name in classification.heads:
                probs[i] = classification.heads[name].probs
        out[name] = HeadData(tuple(labels), probs, head_truth(name, labels, rows))
    return out


def color_folds(bank: ClassifierBank, data: CropImages, heads: dict[str, HeadData]) -> ColorFolds | None:
    recognizer = bank.color_recognizer
    if not isinstance(recognizer, ColorRecognizer) or COLOR_HEAD not in heads:
        return None
    crops = [crop_box(image, box, bank.crop_margin) for image, box in zip(data.images, data.boxes, strict=True)]
    return ColorFolds.measure(
        recognizer, crops, heads[COLOR_HEAD].truth, [c.fold for c in data.crops], [c.vehicle for c in data.crops]
    )


def _fold_heads(heads: dict[str, HeadData], colors: ColorFolds | None, held: str) -> dict[str, HeadData]:
    if colors is None:
        return heads
    colour = heads[COLOR_HEAD]
    return {**heads, COLOR_HEAD: HeadData(colour.labels, colors.nested_probs(held), colour.truth)}


def _held_out_curves(
    heads: dict[str, HeadData], colors: ColorFolds | None, fit: FoldFit, held_rows: NDArray[np.bool_], data: CropImages
) -> dict[str, HeadCurve]:
    """Each head's held-out crops where it does not abstain, before and after the fold's calibration."""
    out: dict[str, HeadCurve] = {}
    for name, head in heads.items():
        probs = colors.cv_probs() if colors is not None and name == COLOR_HEAD else head.probs
        use = held_rows & head.present & (head.truth >= 0) & ~abstains(name, data.facts, fit.rules)
        calibration = fit.calibration.heads.get(name)
        before = probs[use]
        after = calibration.apply(before) if calibration is not None else before
        out[name] = HeadCurve(head.labels, before, after, head.truth[use])
    return out


def _merge_curves(parts: Sequence[dict[str, HeadCurve]]) -> dict[str, HeadCurve]:
    merged: dict[str, HeadCurve] = {}
    for name in {n for part in parts for n in part}:
        pieces = [part[name] for part in parts if name in part]
        merged[name] = HeadCurve(
            pieces[0].labels,
            np.concatenate([p.before for p in pieces]),
            np.concatenate([p.after for p in pieces]),
            np.concatenate([p.truth for p in pieces]),
        )
    return merged


def evaluate_vehicles(
    bank: ClassifierBank,
    data: CropImages,
    matcher_for: MatcherFor,
    options: CVOptions,
    progress: Progress | None = None,
) -> Evaluation:
    """The per-vehicle evaluation (see the module doc); folds are the crops' ``fold`` values (all "" = none).

    With folds, each one is scored by what was fitted without it; with ``options.fit`` None nothing is fitted but
    the colour recogniser's pool is still refitted per fold (unless ``refit_color`` is off).
    """
    raw_bank = bank.with_parts(calibration=Calibration({}), abstain=AbstentionSettings(enabled=False))
    everything = list(range(len(data)))
    raw = classify_views(raw_bank, data, everything, batch_size=options.batch_size, progress=progress)
    folds = sorted({crop.fold for crop in data.crops})
    if len(folds) < 2 or (options.fit is None and not options.refit_color):
        classified = classify_views(bank, data, everything, batch_size=options.batch_size, progress=progress)
        vehicles = fuse_vehicles(data, classified, options.fusion.with_fitted(bank.calibration.agreement_exponents))
        matcher = matcher_for(None)
        fused = [v.fused for v in vehicles]
        return Evaluation(tuple(vehicles), score_matrix(matcher, fused), classified, raw, {}, {})
    return _cross_validate(bank, data, raw, matcher_for, options, progress)


@dataclass(frozen=True)
class _Fold:
    """What one held-out fold is scored with."""

    bank: ClassifierBank
    table: ColorTable | None
    fit: FoldFit | None
    curves: dict[str, HeadCurve]


def _fold(
    bank: ClassifierBank,
    data: CropImages,
    heads: dict[str, HeadData],
    colors: ColorFolds | None,
    held: str,
    options: CVOptions,
) -> _Fold:
    """The bank (and colour table) for fold ``held``: fitted on the other folds."""
    fold_of = tuple(crop.fold for crop in data.crops)
    train = np.asarray(fold_of) != held
    recognizer = colors.recognizer_without(held, options.providers) if colors is not None else None
    if options.fit is None:
        return _Fold(bank.with_parts(color_recognizer=recognizer), None, None, {})
    fold_data = FitData(
        _fold_heads(heads, colors, held),
        data.facts,
        fold_of,
        tuple(c.vehicle for c in data.crops),
        data.weights,
        options.fusion,
    )
    fit = fit_fold(fold_data, train, options.fit)
    fold_bank = bank.with_parts(
        color_recognizer=recognizer, calibration=Calibration(fit.calibration.heads), abstain=fit.rules
    )
    return _Fold(fold_bank, fit.color_table, fit, _held_out_curves(heads, colors, fit, ~train, data))


def _vehicle_curves(
    heads: dict[str, HeadData], before: Sequence[VehicleView], after: Sequence[VehicleView]
) -> dict[str, HeadCurve]:
    """Per head with a truth, its fused probabilities on the vehicles where it judged some view."""
    out: dict[str, HeadCurve] = {}
    for name, head in heads.items():
        rows = [
            (int(head.truth[b.crops[0]]), b.fused.heads[name].probs, a.fused.heads[name].probs)
            for b, a in zip(before, after, strict=True)
            if b.fused is not None and a.fused is not None and name in b.fused.heads and head.truth[b.crops[0]] >= 0
        ]
        if rows:
            out[name] = HeadCurve(
                head.labels,
                np.array([r[1] for r in rows], np.float64),
                np.array([r[2] for r in rows], np.float64),
                np.array([r[0] for r in rows], np.int64),
            )
    return out


def _cross_validate(
    bank: ClassifierBank,
    data: CropImages,
    raw: dict[int, Classification],
    matcher_for: MatcherFor,
    options: CVOptions,
    progress: Progress | None,
) -> Evaluation:
    heads = head_data(data, raw, bank)
    colors = color_folds(bank, data, heads) if options.refit_color else None
    fits: dict[str, FoldFit] = {}
    classified: dict[int, Classification] = {}
    by_vehicle: dict[str, tuple[VehicleView, NDArray[np.float64]]] = {}
    curves: list[dict[str, HeadCurve]] = []
    vehicle_curves: list[dict[str, HeadCurve]] = []
    for held in sorted({crop.fold for crop in data.crops}):
        fold = _fold(bank, data, heads, colors, held, options)
        if fold.fit is not None:
            fits[held] = fold.fit
        curves.append(fold.curves)
        indices = [i for i, crop in enumerate(data.crops) if crop.fold == held]
        found = classify_views(fold.bank, data, indices, batch_size=options.batch_size, progress=progress)
        classified.update(found)
        keys = sorted({data.crops[i].vehicle for i in indices})
        fitted = agreement_exponents(fold.fit.calibration.heads) if fold.fit is not None else {}
        vehicles = fuse_vehicles(data, found, options.fusion.with_fitted(fitted), keys)
        if fitted:
            vehicle_curves.append(_vehicle_curves(heads, fuse_vehicles(data, found, options.fusion, keys), vehicles))
        scores = score_matrix(matcher_for(fold.table), [v.fused for v in vehicles])
        by_vehicle.update({v.vehicle: (v, s) for v, s in zip(vehicles, scores, strict=True)})
    order = list(dict.fromkeys(crop.vehicle for crop in data.crops))
    ordered = tuple(by_vehicle[key][0] for key in order)
    matrix = np.stack([by_vehicle[key][1] for key in order])
    return Evaluation(ordered, matrix, classified, raw, fits, _merge_curves(curves), _merge_curves(vehicle_curves))
