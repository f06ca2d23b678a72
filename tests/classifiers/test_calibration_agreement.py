"""Fitting each head's agreement exponent on labelled vehicles (how far agreeing views should raise confidence)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from classifiers.calibration.agreement import VehicleViews, fit_agreement_exponent, fused_probs, mean_log_loss
from classifiers.calibration.file import Calibration, CalibrationFile, HeadCalibration
from classifiers.fusion import fuse
from classifiers.settings import FusionSettings
from classifiers.types import Classification, HeadScores


def vehicles(correlated: bool, seed: int = 0, count: int = 40, views: int = 6) -> list[VehicleViews]:
    """Vehicles whose views are each right with probability 0.7 and say 0.7: calibrated one view at a time.

    Correlated: all views of a vehicle make the same call (as consecutive frames of one vehicle do), so fusing them
    should add no confidence. Independent: each view calls afresh, so agreeing views are real evidence.
    """
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        calls = np.full(views, rng.random() < 0.7) if correlated else rng.random(views) < 0.7
        rows = np.array([[0.7, 0.3] if right else [0.3, 0.7] for right in calls])
        out.append(VehicleViews(rows, np.ones(views), 0))
    return out


def test_views_that_repeat_one_call_get_no_sharpening() -> None:
    fit = fit_agreement_exponent(vehicles(correlated=True), FusionSettings())
    assert fit.exponent == 0.0
    assert fit.log_loss_fitted < fit.log_loss_configured


def test_independent_views_keep_their_sharpening() -> None:
    fit = fit_agreement_exponent(vehicles(correlated=False), FusionSettings())
    assert fit.exponent is not None
    assert fit.exponent >= 0.5


def test_too_few_multi_view_vehicles_keep_the_configured_exponent() -> None:
    one_view = [VehicleViews(np.array([[0.6, 0.4]]), np.ones(1), 0) for _ in range(30)]
    few = vehicles(correlated=True, count=3)
    fit = fit_agreement_exponent(one_view + few, FusionSettings())
    assert fit.exponent is None
    assert fit.vehicles == 3
    assert fit.measured() == {}


def test_fusion_here_is_the_service_fusion() -> None:
    vehicle = vehicles(correlated=False, count=1)[0]
    settings = FusionSettings(agreement_exponent=0.3)
    views = [(Classification({"h": HeadScores("h", ("a", "b"), row.astype(np.float32))}), 1.0) for row in vehicle.probs]
    service = fuse(views, settings).heads["h"].probs
    np.testing.assert_allclose(fused_probs(vehicle, settings), service, rtol=1e-6)
    assert mean_log_loss([vehicle], settings) == pytest.approx(-np.log(service[0]), rel=1e-5)


def _fused(settings: FusionSettings, head: str, views: int = 4) -> NDArray[np.float32]:
    scores = HeadScores(head, ("a", "b"), np.array([0.8, 0.2], np.float32))
    return fuse([(Classification({head: scores}), 1.0)] * views, settings).heads[head].probs


def test_a_head_exponent_overrides_the_default_for_that_head_only() -> None:
    settings = FusionSettings(agreement_exponent=0.5, head_exponents={"color": 0.0})
    assert _fused(settings, "color")[0] == pytest.approx(0.8, abs=1e-5)  # the views' own confidence
    assert _fused(settings, "make")[0] > 0.9  # sharpened as before


def test_fitted_exponents_fill_in_where_the_config_names_none() -> None:
    settings = FusionSettings(head_exponents={"make": 0.5})
    merged = settings.with_fitted({"color": 0.1, "make": 1.0})
    assert merged.head_exponents == {"color": 0.1, "make": 0.5}
    assert settings.with_fitted({}) is settings
    with pytest.raises(ValueError, match=r"head_exponents\.color"):
        FusionSettings(head_exponents={"color": 1.5})


def test_the_calibration_file_carries_exponents_of_uncalibrated_heads_too() -> None:
    heads = {
        "type": HeadCalibration(method="none", agreement_exponent=0.1),
        "make": HeadCalibration(method="temperature", temperature=1.2),
    }
    calibration = Calibration(CalibrationFile(heads=heads).heads)
    assert calibration.agreement_exponents == {"type": 0.1}
    assert "type" not in calibration.heads  # nothing to apply per crop
    with pytest.raises(ValueError, match="agreement_exponent"):
        HeadCalibration(method="none", agreement_exponent=2.0)
