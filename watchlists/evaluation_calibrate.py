"""Fitting the files the service loads, on every labelled clip: the calibration, the colour table, the make limit.

``vehiclewatch watchlist calibrate`` runs :func:`fit_for_service`: the same fit as one fold of the cross-validated
evaluation (:func:`watchlists.evaluation_fit.fit_fold`), on all crops. Where a fitted number needs out-of-sample
inputs it gets them: the colour head's probabilities are those of a recogniser pool fitted without the crop's own
clip (the written recogniser has seen every clip), and each head's calibration method is chosen by clip-wise
cross-validated log-loss. The reliability curves it reports are cross-validated by clip as well (each clip's crops
calibrated by a map fitted on the other clips).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from classifiers.bank import ClassifierBank
from classifiers.calibration.abstention import CropFacts
from classifiers.calibration.file import Calibration, CalibrationFile
from classifiers.calibration.fit import LabelledProbs, cross_validated
from classifiers.settings import AbstentionSettings, FusionSettings
from classifiers.types import Classification
from watchlists.colors import ColorTable
from watchlists.evaluation_cv import HeadCurve, color_folds, head_data
from watchlists.evaluation_fit import FitData, FitOptions, FoldFit, HeadData, abstains, fit_fold
from watchlists.evaluation_vehicles import CropImages, Progress, classify_views
from watchlists.field_weights import COLOR_HEAD


@dataclass(frozen=True)
class ServiceFit:
    """What :func:`fit_for_service` produced: the files' contents and the figures behind them."""

    fit: FoldFit
    calibration: CalibrationFile
    color_table: ColorTable | None
    curves: dict[str, HeadCurve]
    folds: tuple[str, ...]
    raw: dict[int, Classification]
    """Crop index → the bank's classification without calibration and abstention."""


def _curves(
    heads: dict[str, HeadData], fit: FoldFit, facts: tuple[CropFacts, ...], folds: tuple[str, ...]
) -> dict[str, HeadCurve]:
    """Per head: its crops (where it does not abstain) before calibration, and calibrated clip-wise."""
    out: dict[str, HeadCurve] = {}
    fold_of = np.asarray(folds)
    for name, head in heads.items():
        use = head.present & (head.truth >= 0) & ~abstains(name, facts, fit.rules)
        calibration = fit.calibration.heads.get(name)
        if calibration is None or not use.any():
            continue
        labelled = LabelledProbs(head.probs[use], head.truth[use], tuple(fold_of[use].tolist()))
        after = cross_validated(calibration.method, labelled)
        out[name] = HeadCurve(head.labels, head.probs[use], after, head.truth[use])
    return out


def fit_for_service(
    bank: ClassifierBank,
    data: CropImages,
    options: FitOptions,
    *,
    source: str,
    fusion: FusionSettings | None = None,
    progress: Progress | None = None,
) -> ServiceFit:
    """Fits everything on all crops of ``data`` (folds: the crops' ``fold`` values) for the service's files."""
    fusion = fusion or FusionSettings()
    raw_bank = bank.with_parts(calibration=Calibration({}), abstain=AbstentionSettings(enabled=False))
    raw = classify_views(raw_bank, data, list(range(len(data))), progress=progress)
    heads = head_data(data, raw, bank)
    colors = color_folds(bank, data, heads)
    if colors is not None:
        colour = heads[COLOR_HEAD]
        heads[COLOR_HEAD] = HeadData(colour.labels, colors.cv_probs(), colour.truth)
    folds = tuple(crop.fold for crop in data.crops)
    vehicles = tuple(crop.vehicle for crop in data.crops)
    fit_data = FitData(heads, data.facts, folds, vehicles, data.weights, fusion)
    fit = fit_fold(fit_data, np.ones(len(data), np.bool_), options)
    names = sorted(set(folds))
    provenance = {
        "data": source,
        "crops": str(len(data)),
        "vehicles": str(len({c.vehicle for c in data.crops})),
        "folds": f"method per head chosen by leave-one-clip-out log-loss over {len(names)} clips: {', '.join(names)}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "vehiclewatch watchlist calibrate",
        "make_min_box_side": str(fit.rules.make_min_box_side),
        "color": "colour probabilities of a recogniser pool fitted without each crop's clip"
        if colors is not None
        else "the colour head as configured",
    }
    calibration = fit.calibration.model_copy(update={"provenance": provenance})
    table = fit.color_table.model_copy(update={"provenance": provenance}) if fit.color_table is not None else None
    return ServiceFit(fit, calibration, table, _curves(heads, fit, data.facts, folds), tuple(names), raw)
