"""The per-vehicle evaluation on a tiny generated set of camera-like crops (always runs): crops re-cut from their
stored boxes, one fused decision per vehicle, cross-validation by clip that never fits on the scored clip, the false
alerts with their contact sheet, and the command."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from numpy.typing import NDArray

from classifiers.bank import ClassifierBank
from classifiers.calibration.file import Calibration, HeadCalibration
from classifiers.evaluation.vehicles import GroupingError
from classifiers.settings import AbstentionSettings, ClassifierModelSettings, ClassifierSettings
from classifiers.training.embed import read_image
from streamer.cli.main import main
from tests.synthetic_classifier import make_color_classifier
from watchlists import evaluation_cv, evaluation_fit
from watchlists.entries import WatchlistEntry
from watchlists.evaluation import evaluate_scores
from watchlists.evaluation_cv import CVOptions, evaluate_vehicles
from watchlists.evaluation_data import box_in_stored_crop, load_crops
from watchlists.evaluation_false import contact_sheet, false_alerts, write_false_alerts
from watchlists.evaluation_fit import FitData, FitOptions, FoldFit
from watchlists.evaluation_vehicles import read_crops
from watchlists.matching import Matcher

MARGIN = 0.1
ROAD = (110, 110, 110)
PAINT = {"red": (30, 30, 200), "green": (30, 200, 30), "blue": (200, 30, 30), "purple": (170, 40, 150)}
# clip → vehicles: (true colour, paint seen, crops); the purple car is labelled red but looks blue.
CLIPS = {
    "c1": [("red", "red", 3), ("green", "green", 2), ("blue", "blue", 2)],
    "c2": [("red", "red", 2), ("blue", "blue", 3), ("red", "purple", 2)],
    "c3": [("green", "green", 3), ("red", "red", 2), ("unsure", "blue", 2)],
}
WATCHLIST = "entries:\n  - {id: red, color: red}\n  - {id: green, color: green}\n  - {id: blue, color: blue}\n"


def write_set(root: Path) -> Path:
    """A labels.csv in traffic_crops_dev's columns, each crop the box grown by 10 % on a grey road."""
    (root / "crops").mkdir(parents=True)
    rows: list[dict[str, str]] = []
    for clip, vehicles in CLIPS.items():
        for label, paint, count in vehicles:
            first = ""
            for k in range(count):
                crop_id = f"{clip}{len(rows):03d}"
                side = 60 + 20 * k
                x1, y1 = 300.0 + 7 * k, 200.0 + 3 * k
                image = np.full((round(side * 1.2), round(side * 1.2), 3), ROAD, np.uint8)
                inner = round(side * MARGIN)
                image[inner : inner + side, inner : inner + side] = PAINT[paint]
                cv2.imwrite(str(root / "crops" / f"{crop_id}.png"), image)
                rows.append(
                    {
                        "id": crop_id,
                        "clip": clip,
                        "x1": f"{x1:.1f}",
                        "y1": f"{y1:.1f}",
                        "x2": f"{x1 + side:.1f}",
                        "y2": f"{y1 + side:.1f}",
                        "color": label,
                        "make": "unknown",
                        "body_type": "sedan",
                        "same_as": first,
                        "crop_path": f"crops/{crop_id}.png",
                    }
                )
                first = first or crop_id
    with (root / "labels.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_set(tmp_path_factory.mktemp("crops"))


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> ClassifierBank:
    model = make_color_classifier(tmp_path_factory.mktemp("models") / "color.onnx", gain=5.0)
    settings = ClassifierSettings(
        models=(ClassifierModelSettings(model=model, providers=("cpu",)),), crop_margin=0.0, min_crop_size=8
    )
    return ClassifierBank.from_settings(settings)


def entries() -> list[WatchlistEntry]:
    return [WatchlistEntry(id=c, color=c) for c in ("red", "green", "blue")]


def test_crops_are_recut_from_their_stored_boxes(dataset: Path) -> None:
    crops = load_crops(dataset, path_column="crop_path", group_column="same_as", fold_column="clip")
    assert len(crops) == 21
    assert len({c.vehicle for c in crops}) == 9
    assert {c.fold for c in crops} == {"c1", "c2", "c3"}
    image = read_image(crops[1].path)  # box 80 px, stored with 8 px around it
    assert box_in_stored_crop(crops[1].row, image.shape, MARGIN).tolist() == pytest.approx([8, 8, 88, 88], abs=1.0)
    assert box_in_stored_crop({}, (40, 60, 3), MARGIN).tolist() == [0, 0, 60, 40]


def test_crops_of_one_vehicle_must_agree_on_its_labels(tmp_path: Path) -> None:
    root = write_set(tmp_path / "set")
    text = (root / "labels.csv").read_text().splitlines()
    text[2] = text[2].replace(",red,", ",green,", 1)  # the second crop of the first vehicle
    (root / "labels.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(GroupingError, match="vehicle 'c1000': its crops disagree on 'color'"):
        load_crops(root, path_column="crop_path", group_column="same_as")


def by_size(image: NDArray[np.uint8], box: NDArray[np.float32]) -> float | None:
    """A view gate: weight by the box's width; boxes under 70 px are refused."""
    width = float(box[2] - box[0])
    return None if width < 70 else width


def test_one_fused_decision_per_vehicle(dataset: Path, bank: ClassifierBank) -> None:
    crops = load_crops(dataset, path_column="crop_path", group_column="same_as", fold_column="clip")
    data = read_crops(crops, read_image, stored_margin=MARGIN, gate=by_size)
    matcher = Matcher(entries(), color_confusion=False)
    result = evaluate_vehicles(bank, data, lambda table: matcher, CVOptions(fit=None))
    # The first crop of each vehicle (60 px) is refused by the gate.
    assert [v.views for v in result.vehicles] == [2, 1, 1, 1, 2, 1, 2, 1, 1]
    report = evaluate_scores(matcher, result.scores, [v.row for v in result.vehicles], unit="vehicles")
    counts = {e.entry_id: (e.vehicles, e.counts.tp, e.counts.fp, e.counts.fn) for e in report.entries}
    # 4 red vehicles (one of them looks blue), 2 green, 2 blue; the unsure one counts for nothing.
    assert counts == {"red": (4, 3, 0, 1), "green": (2, 2, 0, 0), "blue": (2, 2, 1, 0)}
    assert "9 vehicles" in report.text()
    alerts = false_alerts(matcher, result.vehicles, result.scores, [c.path for c in crops])
    assert [(a.vehicle, a.entry, a.labels) for a in alerts] == [
        ("c2012", "blue", "color red, make unknown, body_type sedan")
    ]
    assert alerts[0].image.endswith("c2013.png")  # its best (largest, sharpest) view
    assert "color blue" in alerts[0].seen


def test_without_folds_vehicles_fuse_with_the_banks_fitted_exponents(dataset: Path, bank: ClassifierBank) -> None:
    crops = load_crops(dataset, path_column="crop_path", group_column="same_as", fold_column="clip")
    data = read_crops(crops, read_image, stored_margin=MARGIN, gate=by_size)
    views_alike = Calibration({"color": HeadCalibration(method="none", agreement_exponent=0.0)})
    measured = bank.with_parts(calibration=views_alike)
    matcher = Matcher(entries(), color_confusion=False)
    sharpened = evaluate_vehicles(bank, data, lambda table: matcher, CVOptions(fit=None, refit_color=False))
    plain = evaluate_vehicles(measured, data, lambda table: matcher, CVOptions(fit=None, refit_color=False))
    two_views = [i for i, v in enumerate(plain.vehicles) if v.views == 2]
    assert two_views
    for i in two_views:
        before, after = sharpened.vehicles[i].fused, plain.vehicles[i].fused
        assert before is not None
        assert after is not None
        assert after.heads["color"].probs.max() < before.heads["color"].probs.max()


def test_cross_validation_never_fits_on_the_clip_it_scores(
    dataset: Path, bank: ClassifierBank, monkeypatch: pytest.MonkeyPatch
) -> None:
    crops = load_crops(dataset, path_column="crop_path", group_column="same_as", fold_column="clip")
    data = read_crops(crops, read_image, stored_margin=MARGIN)
    seen: dict[str, set[str]] = {}
    real_fit = evaluation_fit.fit_fold

    def spy(fit_data: FitData, rows: NDArray[np.bool_], options: FitOptions) -> FoldFit:
        held = sorted({fit_data.folds[i] for i in np.flatnonzero(~rows)})
        seen[held[0]] = {fit_data.folds[i] for i in np.flatnonzero(rows)}
        return real_fit(fit_data, rows, options)

    monkeypatch.setattr(evaluation_cv, "fit_fold", spy)
    matcher = Matcher(entries())
    options = CVOptions(fit=FitOptions(rules=AbstentionSettings(enabled=False)))
    result = evaluate_vehicles(bank, data, lambda table: Matcher(entries(), color_table=table), options)
    assert seen == {"c1": {"c2", "c3"}, "c2": {"c1", "c3"}, "c3": {"c1", "c2"}}
    assert sorted(result.fits) == ["c1", "c2", "c3"]
    assert all(fit.color_table is not None for fit in result.fits.values())
    assert result.curves["color"].truth.shape == (19,)  # every crop with a known colour, held out once
    assert len(result.vehicles) == 9
    assert result.scores.shape == (9, len(matcher.entries))


def test_false_alerts_are_written_as_a_list_and_a_contact_sheet(
    dataset: Path, bank: ClassifierBank, tmp_path: Path
) -> None:
    crops = load_crops(dataset, path_column="crop_path", group_column="same_as", fold_column="clip")
    data = read_crops(crops, read_image, stored_margin=MARGIN)
    matcher = Matcher(entries(), color_confusion=False)
    result = evaluate_vehicles(bank, data, lambda table: matcher, CVOptions(fit=None))
    alerts = false_alerts(matcher, result.vehicles, result.scores, [c.path for c in crops])
    write_false_alerts(alerts, tmp_path / "fa.csv", tmp_path / "fa.json")
    assert json.loads((tmp_path / "fa.json").read_text())[0]["entry"] == "blue"
    assert (tmp_path / "fa.csv").read_text().splitlines()[0].startswith("vehicle,fold,entry,score")
    sheet = contact_sheet(alerts, tmp_path / "fa.png")
    assert sheet is not None
    assert sheet.stat().st_size > 5_000
    assert contact_sheet([], tmp_path / "none.png") is None


def test_the_command_per_vehicle_cross_validated(dataset: Path, tmp_path: Path) -> None:
    model = make_color_classifier(tmp_path / "color.onnx", gain=5.0)
    (tmp_path / "w.yaml").write_text(WATCHLIST)
    out = tmp_path / "out"
    args = ["watchlist", "evaluate", "--data", str(dataset), "--watchlist", str(tmp_path / "w.yaml")]
    args += ["--classifier", str(model), "--path-column", "crop_path", "--group-column", "same_as"]
    args += [
        "--fold-column",
        "clip",
        "--crop-margin",
        "0",
        "--out-dir",
        str(out),
        "--json-out",
        str(tmp_path / "r.json"),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "9 vehicles" in result.output
    assert "calibration on held-out crops" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["unit"] == "vehicles"
    assert sorted(report["folds"]) == ["c1", "c2", "c3"]
    for name in ("pr.png", "false_alerts.csv", "false_alerts.json", "reliability_color_before.png"):
        assert (out / name).is_file(), name
    assert json.loads((tmp_path / "r.json").read_text())["images"] == 9


def test_the_command_can_leave_fusion_unfitted(dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = make_color_classifier(tmp_path / "color.onnx", gain=5.0)
    (tmp_path / "w.yaml").write_text(WATCHLIST)
    fitted: list[bool] = []
    real = evaluation_fit.fit_fusion

    def spy(*args: Any) -> Any:
        fitted.append(True)
        return real(*args)

    monkeypatch.setattr(evaluation_fit, "fit_fusion", spy)
    args = ["watchlist", "evaluate", "--data", str(dataset), "--watchlist", str(tmp_path / "w.yaml")]
    args += ["--classifier", str(model), "--path-column", "crop_path", "--group-column", "same_as"]
    args += ["--fold-column", "clip", "--crop-margin", "0"]
    result = CliRunner().invoke(main, [*args, "--no-fusion-fit"])
    assert result.exit_code == 0, result.output
    assert not fitted
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert len(fitted) == 3  # once per held-out clip
