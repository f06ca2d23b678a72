"""Calibration of a head's probabilities: the maps (temperature, isotonic) on synthetic data with a known answer,
the method chosen by group-wise cross-validation, the file, and the bank applying it to every crop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from classifiers.bank import ClassifierBank
from classifiers.calibration.file import (
    Calibration,
    CalibrationFile,
    CalibrationFileError,
    HeadCalibration,
    load_calibration_file,
    save_calibration_file,
)
from classifiers.calibration.fit import LabelledProbs, compare_methods, cross_validated, fit_head
from classifiers.calibration.methods import (
    apply_isotonic,
    apply_temperature,
    expected_calibration_error,
    fit_isotonic,
    fit_temperature,
    log_loss,
)
from classifiers.settings import ClassifierModelSettings, ClassifierSettings
from classifiers.types import Classification, HeadScores
from detectors.runtime import ModelLoadError
from tests.synthetic_classifier import make_color_classifier, solid_bgr


def calibrated_sample(n: int, k: int = 5, seed: int = 0) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Probabilities that are calibrated by construction: each row's label is drawn from its own distribution."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k)) * 2.5
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    true = np.array([rng.choice(k, p=row) for row in probs], np.int64)
    return probs, true


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0, 4.0])
def test_temperature_fit_recovers_a_known_temperature(temperature: float) -> None:
    """A head made over- (T > 1) or underconfident (T < 1) by softmax(log p · T) is undone by that temperature."""
    probs, true = calibrated_sample(4000)
    distorted = apply_temperature(probs, 1.0 / temperature)
    assert fit_temperature(distorted, true) == pytest.approx(temperature, rel=0.1)
    assert log_loss(apply_temperature(distorted, fit_temperature(distorted, true)), true) <= log_loss(distorted, true)


def test_temperature_prior_keeps_a_few_right_rows_from_certainty() -> None:
    probs = np.array([[0.7, 0.3]] * 6)
    true = np.zeros(6, np.int64)
    assert fit_temperature(probs, true) < 0.1  # the likelihood alone wants certainty
    assert 0.3 < fit_temperature(probs, true, prior=4.0) < 1.0


def test_temperature_keeps_the_ranking_and_sums_to_one() -> None:
    probs, _ = calibrated_sample(50)
    for t in (0.3, 3.0):
        out = apply_temperature(probs, t)
        assert np.allclose(out.sum(axis=1), 1.0)
        assert (out.argmax(axis=1) == probs.argmax(axis=1)).all()
    with pytest.raises(ValueError, match="temperature must be > 0"):
        apply_temperature(probs, 0.0)


def test_isotonic_fixes_an_overconfident_head() -> None:
    probs, true = calibrated_sample(3000)
    overconfident = apply_temperature(probs, 0.4)
    mapping = fit_isotonic(overconfident, true)
    assert list(mapping.x) == sorted(mapping.x)
    assert list(mapping.y) == sorted(mapping.y)
    fixed = apply_isotonic(overconfident, mapping)
    assert np.allclose(fixed.sum(axis=1), 1.0)
    assert (fixed.argmax(axis=1) == overconfident.argmax(axis=1)).all()
    assert expected_calibration_error(fixed, true) < expected_calibration_error(overconfident, true) / 2
    assert log_loss(fixed, true) < log_loss(overconfident, true)


@pytest.mark.parametrize(
    ("distortion", "expected"),
    [
        pytest.param(1.0, "none", id="already calibrated"),
        pytest.param(0.3, "temperature", id="overconfident"),
        pytest.param(3.0, "temperature", id="underconfident"),
    ],
)
def test_method_is_chosen_by_groupwise_cross_validation(distortion: float, expected: str) -> None:
    """Calibrated data keeps method none (no fit beats it on held-out groups); a tempered one gets a temperature
    (or isotonic, which may tie it): never a map that is worse on the groups it did not see."""
    probs, true = calibrated_sample(600, seed=1)
    groups = tuple(f"clip{i % 4}" for i in range(len(true)))
    data = LabelledProbs(apply_temperature(probs, distortion), true, groups)
    chosen = fit_head(data)
    scores = {s.method: s.log_loss for s in compare_methods(data)}
    assert chosen.method in ({expected, "isotonic"} if expected != "none" else {"none"}), scores
    assert chosen.measured["cv_log_loss_after"] == pytest.approx(min(scores.values()), abs=1e-3)
    assert chosen.measured["cv_log_loss_after"] <= chosen.measured["cv_log_loss_before"]
    if expected == "temperature" and chosen.method == "temperature":
        assert chosen.temperature == pytest.approx(1.0 / distortion, rel=0.2)


def test_cross_validated_never_scores_a_group_with_a_map_fitted_on_it() -> None:
    """Each group is calibrated by a map fitted on the others: a group that disagrees with the rest stays wrong."""
    probs, true = calibrated_sample(400, seed=2)
    groups = np.array(["a"] * 200 + ["b"] * 200)
    tempered = probs.copy()
    tempered[groups == "a"] = apply_temperature(probs[groups == "a"], 0.3)  # only group a is overconfident
    out = cross_validated("temperature", LabelledProbs(tempered, true, tuple(groups.tolist())))
    # Group b's map was fitted on the overconfident group a, so it softens b, which did not need it.
    assert log_loss(out[groups == "b"], true[groups == "b"]) > log_loss(tempered[groups == "b"], true[groups == "b"])


def test_too_little_data_is_left_uncalibrated() -> None:
    probs, true = calibrated_sample(5)
    assert fit_head(LabelledProbs(probs, true, ("a", "b", "a", "b", "a"))).method == "none"
    unknown = LabelledProbs(probs, np.full(5, -1, np.int64), ("a",) * 5)
    assert fit_head(unknown).method == "none"


def test_file_round_trip_and_errors(tmp_path: Path) -> None:
    calibration = CalibrationFile(
        heads={
            "make": HeadCalibration(method="temperature", temperature=1.7),
            "color": HeadCalibration(method="isotonic", isotonic_x=(0.0, 0.5, 1.0), isotonic_y=(0.0, 0.4, 0.95)),
            "type": HeadCalibration(method="none"),
        },
        provenance={"data": "x", "folds": "leave-one-clip-out", "date": "2026-12-06"},
    )
    path = save_calibration_file(calibration, tmp_path / "c" / "calibration.yaml")
    assert load_calibration_file(path) == calibration
    cases = [
        ("heads: {make: {method: temperature}}\n", "heads.make: Value error, method temperature needs 'temperature'"),
        ("heads: {make: {method: isotonic, isotonic_x: [0, 1], isotonic_y: [1, 0]}}\n", "non-decreasing"),
        ("heads: {make: {method: cubic}}\n", "heads.make.method"),
        ("heads: [\n", "not valid YAML or JSON"),
    ]
    for text, message in cases:
        path.write_text(text)
        with pytest.raises(CalibrationFileError, match=r"calibration file .*") as caught:
            load_calibration_file(path)
        assert message in str(caught.value)
        assert len(str(caught.value).splitlines()) == 1
    with pytest.raises(CalibrationFileError, match="cannot read it"):
        load_calibration_file(tmp_path / "missing.yaml")


def test_calibration_applies_to_named_heads_only() -> None:
    colour = HeadScores("color", ("red", "blue"), np.array([0.9, 0.1], np.float32))
    make = HeadScores("make", ("Audi", "BMW"), np.array([0.6, 0.4], np.float32))
    calibration = Calibration({"color": HeadCalibration(method="temperature", temperature=2.0)})
    (out,) = calibration.apply([Classification({"color": colour, "make": make})])
    assert out.heads["color"].probs[0] == pytest.approx(0.75, abs=1e-3)
    assert out.heads["make"] is make
    assert Calibration({}).apply([Classification({"make": make})])[0].heads["make"] is make


def test_the_bank_calibrates_every_crop_it_classifies(tmp_path: Path) -> None:
    """The service path: a calibration file in the classifier settings is applied inside the bank."""
    model = make_color_classifier(tmp_path / "color.onnx", gain=3.0)
    file = save_calibration_file(
        CalibrationFile(heads={"color": HeadCalibration(method="temperature", temperature=3.0)}),
        tmp_path / "calibration.yaml",
    )
    settings = ClassifierSettings(models=(ClassifierModelSettings(model=model, providers=("cpu",)),), min_crop_size=8)
    raw = ClassifierBank.from_settings(settings).classify_images([solid_bgr("red")])[0]
    calibrated_bank = ClassifierBank.from_settings(settings.model_copy(update={"calibration": file}))
    calibrated = calibrated_bank.classify_images([solid_bgr("red")])[0]
    expected = apply_temperature(raw.heads["color"].probs[None, :], 3.0)[0]
    assert calibrated.heads["color"].probs == pytest.approx(expected, abs=1e-5)
    assert calibrated.heads["color"].top(1)[0].label == "red"
    assert calibrated.heads["color"].probs.max() < raw.heads["color"].probs.max()
    (tmp_path / "bad.yaml").write_text("heads: {color: {method: temperature}}\n")
    with pytest.raises(ModelLoadError, match=r"calibration file .*bad\.yaml: heads\.color"):
        ClassifierBank.from_settings(settings.model_copy(update={"calibration": tmp_path / "bad.yaml"}))
