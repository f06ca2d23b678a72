"""Per-vehicle evaluation: exact figures on a hand-made table, ``vehiclewatch eval --group-column`` on a synthetic
set, a colour recogniser file evaluated through ``eval``, and the real recogniser built from ../shared."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from numpy.typing import NDArray

from classifiers.bank import ClassifierBank
from classifiers.cli_train_eval import eval as eval_command
from classifiers.color.build import build
from classifiers.color.build_report import BuildReport
from classifiers.color.recognizer import RecognizerConfig, save_recognizer_config
from classifiers.color.settings import ColorRecognizerSettings
from classifiers.evaluation.metrics import PredictionTable
from classifiers.evaluation.vehicles import (
    GroupingError,
    NearPairs,
    accuracy,
    group_table,
    vehicle_keys,
    vehicle_metrics,
)
from classifiers.settings import ClassifierSettings
from classifiers.training.embed import read_image
from tests.classifiers.test_color_paint import vehicle
from tests.classifiers.test_color_recognizer import recognizer_file
from tests.conftest import shared_path
from tests.synthetic_classifier import make_color_classifier, solid_bgr

LABELS = ("black", "grey", "silver", "white")
# Seven crops of three vehicles (v1: rows 0-2, v2: rows 3-4, v3: rows 5-6), in the same_as convention.
ROWS = [
    {"id": "v1", "same_as": ""},
    {"id": "c2", "same_as": "v1"},
    {"id": "c3", "same_as": "v1"},
    {"id": "v2", "same_as": ""},
    {"id": "c5", "same_as": "v2"},
    {"id": "v3", "same_as": ""},
    {"id": "c7", "same_as": "v3"},
]
TRUE = np.array([2, 2, 2, 1, 1, 0, 0], np.int64)  # v1 silver, v2 grey, v3 black
PROBS = np.array(
    [
        [0.00, 0.10, 0.30, 0.60],  # silver seen as white (near)
        [0.00, 0.10, 0.70, 0.20],  # silver right
        [0.00, 0.20, 0.45, 0.35],  # silver right
        [0.10, 0.20, 0.70, 0.00],  # grey seen as silver (near)
        [0.30, 0.60, 0.10, 0.00],  # grey right
        [0.10, 0.90, 0.00, 0.00],  # black seen as grey (wrong, not near)
        [0.60, 0.40, 0.00, 0.00],  # black right
    ]
)
SIZES = np.array([10.0, 10.0, 10.0, 100.0, 10.0, 10.0, 10.0])
NEAR = NearPairs.of([("silver", "grey"), ("silver", "white")])


@pytest.fixture
def table() -> PredictionTable:
    return PredictionTable(LABELS, TRUE, PROBS)


def test_vehicle_keys_follow_same_as() -> None:
    assert vehicle_keys(ROWS) == ["v1", "v1", "v1", "v2", "v2", "v3", "v3"]
    with pytest.raises(GroupingError, match="row 1"):
        vehicle_keys([{"id": "", "same_as": ""}])


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("silver", "grey", True), ("Grey", "SILVER", True), ("silver", "silver", True), ("grey", "white", False)],
)
def test_near_pairs(a: str, b: str, expected: bool) -> None:
    assert NEAR.near(a, b) is expected


def test_crop_accuracy_exact(table: PredictionTable) -> None:
    # Right: rows 1, 2, 4, 6 → 4/7; near adds rows 0 and 3 → 6/7.
    assert accuracy(table, NEAR) == pytest.approx((4 / 7, 6 / 7))


@pytest.mark.parametrize(
    ("fusion", "weights", "fused_v1", "predicted", "strict", "near"),
    [
        # mean: v1 = (0, .4/3, 1.45/3, 1.15/3) → silver; v2 = (.2, .4, .4, 0) → tie grey/silver → grey (earlier
        # label); v3 = (.35, .65, 0, 0) → grey. Right: v1, v2 → 2/3; near: the same (black→grey is not near).
        ("mean", None, [0.0, 0.4 / 3, 1.45 / 3, 1.15 / 3], ["silver", "grey", "grey"], 2 / 3, 2 / 3),
        # size weights: v2's big first crop (silver) outweighs the small grey one → near, not strict.
        ("mean", SIZES, [0.0, 0.4 / 3, 1.45 / 3, 1.15 / 3], ["silver", "silver", "grey"], 1 / 3, 2 / 3),
    ],
)
def test_group_table_exact(
    table: PredictionTable,
    fusion: str,
    weights: NDArray[np.float64] | None,
    fused_v1: list[float],
    predicted: list[str],
    strict: float,
    near: float,
) -> None:
    grouped = group_table(table, vehicle_keys(ROWS), weights=weights, fusion=fusion)  # type: ignore[arg-type]
    assert grouped.vehicles == ("v1", "v2", "v3")
    assert grouped.crops == (3, 2, 2)
    assert grouped.table.true.tolist() == [2, 1, 0]
    assert grouped.table.probs[0] == pytest.approx(fused_v1)
    assert [LABELS[i] for i in grouped.table.predicted] == predicted
    assert accuracy(grouped.table, NEAR) == pytest.approx((strict, near))


def test_log_fusion_is_the_weighted_geometric_mean(table: PredictionTable) -> None:
    grouped = group_table(table, vehicle_keys(ROWS), fusion="log", floor=0.04)  # floor 0.01 per label
    row = np.exp(np.log(np.maximum(PROBS[5:7], 0.01)).mean(axis=0))
    assert grouped.table.probs[2] == pytest.approx(row / row.sum())


def test_vehicle_metrics_and_confusions(table: PredictionTable) -> None:
    metrics, _ = vehicle_metrics(table, vehicle_keys(ROWS), near=NEAR)
    assert (metrics.crops, metrics.vehicles) == (7, 3)
    assert (metrics.crop_strict, metrics.crop_near) == pytest.approx((4 / 7, 6 / 7))
    assert (metrics.vehicle_strict, metrics.vehicle_near) == pytest.approx((2 / 3, 2 / 3))
    assert metrics.labels == ("black", "grey", "silver", "white")
    # rows true, columns predicted
    assert metrics.crop_confusion == ((1, 1, 0, 0), (0, 1, 1, 0), (0, 0, 2, 1), (0, 0, 0, 0))
    assert metrics.vehicle_confusion == ((0, 1, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 0))
    assert metrics.near_pairs == ("grey=silver", "silver=white")


@pytest.mark.parametrize(
    ("keys", "weights", "error"),
    [
        (["v1"] * 6, None, "one vehicle key per row"),
        (["v1"] * 7, None, "different true labels"),
        (vehicle_keys(ROWS), np.zeros(7), "positive"),
    ],
)
def test_grouping_errors(
    table: PredictionTable,
    keys: list[str],
    weights: NDArray[np.float64] | None,
    error: str,
) -> None:
    with pytest.raises(GroupingError, match=error):
        group_table(table, keys, weights=weights)


def write_set(root: Path) -> Path:
    """Six crops of three vehicles in a labels.csv with id/same_as columns: red, green and blue paint."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (colour, vid) in enumerate([("red", ""), ("red", "a0"), ("green", ""), ("green", "a2"), ("blue", "")]):
        name = f"a{i}.png"
        cv2.imwrite(str(root / name), solid_bgr(colour, 40, 60))
        rows.append({"id": f"a{i}", "same_as": vid, "color": colour, "crop_path": name})
    rows.append({"id": "a5", "same_as": "", "color": "unsure", "crop_path": "a0.png"})
    with (root / "labels.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_eval_cli_reports_per_vehicle(tmp_path: Path) -> None:
    model = make_color_classifier(tmp_path / "color.onnx")
    data = write_set(tmp_path / "set")
    result = CliRunner().invoke(
        eval_command,
        [str(model), str(data), "--label-column", "color", "--path-column", "crop_path", "--group-column", "same_as",
         "--report-dir", str(tmp_path / "report"), "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "per crop (5 crops): strict 100.0%" in result.output
    assert "per vehicle (3 vehicles, mean fusion): strict 100.0%" in result.output
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["vehicles"]["vehicles"] == 3
    assert (tmp_path / "report" / "confusion_vehicles.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--group-column", "nope"], "no column 'nope'"),
        (["--group-column", "same_as", "--near", "silver"], "LABEL=LABEL"),
    ],
)
def test_eval_cli_errors(tmp_path: Path, args: list[str], error: str) -> None:
    model = make_color_classifier(tmp_path / "color.onnx")
    data = write_set(tmp_path / "set")
    result = CliRunner().invoke(
        eval_command, [str(model), str(data), "--label-column", "color", "--path-column", "crop_path", *args]
    )
    assert result.exit_code != 0
    assert error in result.output


def test_eval_runs_a_recogniser_file(tmp_path: Path) -> None:
    file = recognizer_file(tmp_path)
    root = tmp_path / "crops"
    root.mkdir()
    rows = []
    for i, (colour, body) in enumerate([("red", (30, 30, 200)), ("blue", (170, 60, 20)), ("green", (40, 160, 40))]):
        cv2.imwrite(str(root / f"c{i}.png"), vehicle(body))
        rows.append({"id": f"c{i}", "same_as": "", "color": colour, "crop_path": f"c{i}.png"})
    with (root / "labels.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = CliRunner().invoke(
        eval_command,
        [str(file), str(root), "--label-column", "color", "--path-column", "crop_path", "--group-column", "same_as",
         "--crop-margin", "0.1", "--report-dir", str(tmp_path / "report"), "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "per vehicle (3 vehicles, mean fusion): strict 100.0%" in result.output
    bad = CliRunner().invoke(eval_command, [str(tmp_path / "report" / "report.json"), str(root)])
    assert bad.exit_code != 0  # a JSON file is not a model (nor a recogniser file)


@pytest.fixture(scope="module")
def real_build() -> tuple[RecognizerConfig, BuildReport]:
    models = shared_path("models/omz_vehicle_attributes_0039_72.onnx").parent
    traffic = shared_path("datasets/traffic_crops_dev/labels.csv").parent
    colors = shared_path("datasets/vehicle_colors_dev/labels.csv").parent
    return build(models, traffic, colors)


@pytest.mark.shared
def test_real_recogniser_meets_the_issue_targets(real_build: tuple[RecognizerConfig, BuildReport]) -> None:
    """Leave-one-clip-out on traffic_crops_dev: per vehicle near >= 0.85 and strict >= 0.75, above the shipped
    models from the same run; on vehicle_colors_dev (5-fold) within 2 points of the best shipped model."""
    _, report = real_build
    ours = report.camera["recognizer (CV)"]
    assert ours.vehicles == 61
    assert ours.vehicle_strict >= 0.75
    assert ours.vehicle_near >= 0.85
    for shipped in ("omz", "spectrico"):
        assert ours.vehicle_strict > report.camera[shipped].vehicle_strict
        assert ours.crop_strict > report.camera[shipped].crop_strict
    best_clean = max(report.clean_top1["omz"], report.clean_top1["spectrico"])
    assert report.clean_top1["recognizer (CV)"] >= best_clean - 0.02


@pytest.mark.shared
def test_real_recogniser_in_the_bank(real_build: tuple[RecognizerConfig, BuildReport], tmp_path: Path) -> None:
    config, _ = real_build
    path = save_recognizer_config(config, tmp_path / "recognizer.yaml")
    bank = ClassifierBank.from_settings(
        ClassifierSettings(color_recognizer=ColorRecognizerSettings(file=path, providers=("cpu",)), crop_margin=0.1)
    )
    crops = shared_path("datasets/traffic_crops_dev/labels.csv").parent / "crops"
    # a0040: a red Honda Fit-type hatchback, front view; n0003: the yellow Hummer-type SUV seen from above.
    results = bank.classify_images([read_image(crops / "a0040.png"), read_image(crops / "n0003.png")])
    assert [r.top(1)["color"][0].label for r in results] == ["red", "yellow"]


@pytest.mark.shared
def test_real_camera_adaptation_helps_washed_out_cameras_only(real_build: tuple[RecognizerConfig, BuildReport]) -> None:
    """Leave-one-clip-out, online: per-camera adaptation costs nothing per vehicle on the recorded clips and wins
    back accuracy on a simulated dim, low-contrast camera; the written file carries the levels envelope."""
    config, report = real_build
    recorded, dim = report.scenarios[0], report.scenarios[1]
    assert recorded.name == "recorded clips"
    assert dim.name.startswith("simulated: dim")
    assert recorded.adapted.vehicle_strict >= recorded.plain.vehicle_strict
    assert recorded.adapted.vehicle_near >= recorded.plain.vehicle_near
    assert dim.adapted.vehicle_strict >= dim.plain.vehicle_strict + 0.05
    assert set(report.per_clip) == {"anugoyal", "swdee", "canersu", "abhishek", "ckuhn"}
    assert config.camera is not None
    assert config.camera == report.envelope
