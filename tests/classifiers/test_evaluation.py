"""eval: exact figures on a hand-made prediction table, and a real run on a model trained from synthetic images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from classifiers.cli_train_eval import eval as eval_command
from classifiers.cli_train_eval import train as train_command
from classifiers.evaluation.metrics import (
    ClassStats,
    ConfusedPair,
    PredictionTable,
    class_stats,
    confused_pairs,
    confusion_submatrix,
    group_table,
    macro_scores,
    most_confused_classes,
    reliability,
    topk_accuracy,
)
from classifiers.evaluation.predict import EvaluationError, _as_probs, match_labels, open_classifier
from classifiers.evaluation.report import compare_tables, format_text, table_metrics
from classifiers.evaluation.runner import EvalConfig, evaluate, label_groups
from classifiers.training.trainer import TrainConfig, train
from tests.classifiers.test_training import make_backbone, make_dataset
from tests.conftest import shared_path

# Six images of three classes. Predicted (top-1): a, b, b, a, c, a — row 5 is a tie between a and c, which the
# stable ranking breaks towards the earlier label, a.
LABELS = ("a", "b", "c")
TRUE = np.array([0, 0, 1, 1, 2, 2], np.int64)
PROBS = np.array(
    [
        [0.70, 0.20, 0.10],
        [0.20, 0.50, 0.30],
        [0.05, 0.85, 0.10],
        [0.65, 0.25, 0.10],
        [0.25, 0.30, 0.45],
        [0.45, 0.10, 0.45],
    ]
)


@pytest.fixture
def table() -> PredictionTable:
    return PredictionTable(LABELS, TRUE, PROBS)


@pytest.mark.parametrize(("k", "expected"), [(1, 3 / 6), (2, 5 / 6), (3, 1.0), (5, 1.0)])
def test_topk_accuracy(table: PredictionTable, k: int, expected: float) -> None:
    assert topk_accuracy(table, k) == pytest.approx(expected)


def test_per_class_and_macro_scores(table: PredictionTable) -> None:
    stats = class_stats(table)
    expected = [
        ClassStats("a", 1 / 3, 1 / 2, 0.4, 2),
        ClassStats("b", 1 / 2, 1 / 2, 0.5, 2),
        ClassStats("c", 1.0, 1 / 2, 2 / 3, 2),
    ]
    for got, want in zip(stats, expected, strict=True):
        assert got.label == want.label
        assert got.support == want.support
        assert (got.precision, got.recall, got.f1) == pytest.approx((want.precision, want.recall, want.f1))
    macro = macro_scores(stats)
    assert (macro.precision, macro.recall, macro.f1) == pytest.approx((11 / 18, 1 / 2, 47 / 90))


def test_classes_absent_from_the_ground_truth_get_no_row() -> None:
    # A 4-label model on a set without "d": "d" predictions are mistakes, but "d" has no precision row.
    t = PredictionTable(("a", "b", "c", "d"), np.array([0, 1], np.int64), np.array([[0.1, 0, 0, 0.9], [0, 1.0, 0, 0]]))
    assert [s.label for s in class_stats(t)] == ["a", "b"]
    assert class_stats(t)[0].recall == 0.0
    assert confused_pairs(t) == [ConfusedPair("a", "d", 1, 1.0)]


def test_most_confused_pairs_and_confusion_matrix(table: PredictionTable) -> None:
    assert confused_pairs(table) == [
        ConfusedPair("a", "b", 1, 0.5),
        ConfusedPair("b", "a", 1, 0.5),
        ConfusedPair("c", "a", 1, 0.5),
    ]
    assert confused_pairs(table, limit=1) == [ConfusedPair("a", "b", 1, 0.5)]
    assert most_confused_classes(table, 2) == [0, 1]
    assert confusion_submatrix(table, [0, 1, 2]).tolist() == [[1, 1, 0], [1, 1, 0], [1, 0, 1]]


def test_reliability_bins_and_expected_calibration_error(table: PredictionTable) -> None:
    curve = reliability(table, n_bins=5)
    counts = [b.count for b in curve.bins]
    assert counts == [0, 0, 3, 2, 1]
    middle, high, top = curve.bins[2], curve.bins[3], curve.bins[4]
    assert (middle.lower, middle.upper) == pytest.approx((0.4, 0.6))
    assert (middle.confidence, middle.accuracy) == pytest.approx((1.4 / 3, 1 / 3))
    assert (high.confidence, high.accuracy) == pytest.approx((0.675, 0.5))
    assert (top.confidence, top.accuracy) == pytest.approx((0.85, 1.0))
    # 3/6·|1/3 − 1.4/3| + 2/6·|0.5 − 0.675| + 1/6·|1 − 0.85|
    assert curve.ece == pytest.approx(0.15)


def test_group_table_sums_probabilities_per_make(table: PredictionTable) -> None:
    makes = group_table(table, ["X", "X", "Y"])
    assert makes.labels == ("X", "Y")
    assert makes.true.tolist() == [0, 0, 0, 0, 1, 1]
    assert makes.probs[4] == pytest.approx([0.55, 0.45])
    assert topk_accuracy(makes, 1) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="one group per label"):
        group_table(table, ["X"])


def test_compare_with_baseline_lists_regressed_classes(table: PredictionTable) -> None:
    # The baseline has its labels in another order and an extra one; it gets a and b right, c half right.
    base_labels = ("c", "b", "a", "d")
    base_probs = np.zeros((6, 4))
    for row, predicted in enumerate(["a", "a", "b", "b", "a", "c"]):
        base_probs[row, base_labels.index(predicted)] = 1.0
    base_true = np.array([base_labels.index(LABELS[t]) for t in TRUE], np.int64)
    comparison = compare_tables(table, PredictionTable(base_labels, base_true, base_probs), "old.onnx")
    assert comparison.images == 6
    assert (comparison.baseline_top1, comparison.top1) == pytest.approx((5 / 6, 3 / 6))
    assert [(w.label, w.baseline_recall, w.recall) for w in comparison.worse] == [("a", 1.0, 0.5), ("b", 1.0, 0.5)]
    assert (comparison.better, comparison.unchanged) == (0, 1)
    shuffled = PredictionTable(base_labels, base_true[::-1].copy(), base_probs)
    with pytest.raises(ValueError, match="disagree"):
        compare_tables(table, shuffled, "old.onnx")


def test_report_text_has_the_headline_figures(table: PredictionTable) -> None:
    from classifiers.evaluation.report import EvalReport

    report = EvalReport(
        model="m.onnx",
        output="probs",
        task="color",
        dataset="set",
        label_column="color",
        images_total=7,
        images_evaluated=6,
        unknown_labels={"pink": 1},
        from_logits=False,
        metrics=table_metrics(table),
    )
    text = format_text(report)
    assert "top-1 50.0%  top-3 100.0%  top-5 100.0%" in text
    assert "macro precision 61.1%  recall 50.0%  F1 52.2%" in text
    assert "not evaluated): pink (1)" in text
    assert "a -> b: 1 (50.0%)" in text


@pytest.mark.parametrize(
    ("table_args", "error"),
    [
        ((LABELS, TRUE, PROBS[:, :2]), "probs must have shape"),
        ((LABELS, TRUE[:5], PROBS), "true must have shape"),
        ((LABELS, TRUE + 1, PROBS), "true indices must be in"),
    ],
)
def test_prediction_table_rejects_bad_shapes(table_args: tuple[object, ...], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        PredictionTable(*table_args)  # type: ignore[arg-type]


ATTRS = {"make": ["Audi", "Audi", "BMW"], "model": ["A4", "A4", "X5"], "year": ["2008", "2012", "2010"]}
CARS = ("Audi A4 2008", "Audi A4 2012", "BMW X5 2010")


@pytest.mark.parametrize(
    ("attributes", "task", "spec", "expected"),
    [
        (ATTRS, "make_model", "make", ["Audi", "Audi", "BMW"]),
        (ATTRS, "make_model", "make+model", ["Audi A4", "Audi A4", "BMW X5"]),
        (ATTRS, "make_model", "make+model+year", None),  # merges nothing
        ({}, "make_model", "make", ["Audi", "Audi", "BMW"]),  # first word of the label
        ({}, "make_model", "make+model", None),
        ({}, "color", "make", None),
    ],
)
def test_label_groups(attributes: dict[str, list[str]], task: str, spec: str, expected: list[str] | None) -> None:
    assert label_groups(CARS, attributes, task, spec) == expected


def test_labels_match_ignoring_case_and_spaces_with_aliases() -> None:
    mapping = match_labels(["Silver", "grey ", "pink", "Dark  Red"], ("silver", "gray", "dark red"), {"GREY": "Gray"})
    assert mapping == {"Silver": 0, "grey ": 1, "pink": None, "Dark  Red": 2}


def test_logits_get_a_softmax_probabilities_do_not() -> None:
    probs, changed = _as_probs(np.array([[0.2, 0.8]]))
    assert not changed
    assert probs.tolist() == [[0.2, 0.8]]
    probs, changed = _as_probs(np.array([[0.0, np.log(3.0)]]))
    assert changed
    assert probs == pytest.approx(np.array([[0.25, 0.75]]))


@pytest.fixture
def trained(tmp_path: Path) -> tuple[Path, Path]:
    """A model trained on synthetic squares (red/green/blue) and the data folder."""
    data = make_dataset(tmp_path / "data")
    output = tmp_path / "model.onnx"
    train(
        TrainConfig(
            data=data,
            output=output,
            backbone=make_backbone(tmp_path / "backbone.onnx"),
            heads=("logreg",),
            cache_dir=tmp_path / "cache",
            progress=False,
        )
    )
    return output, data


def test_evaluate_writes_report_and_plots_and_reports_unknown_labels(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    model, data = trained
    make_dataset(data, colours=["red", "yellow"], per_class=3, seed=9, csv_file=False)  # adds to the folders
    (data / "labels.csv").unlink()  # now one folder per class, with yellow unknown to the model
    report = evaluate(EvalConfig(model=model, data=data, report_dir=tmp_path / "report", progress=False))
    assert report.images_total == 6 * 3 + 3 + 3
    assert report.images_evaluated == 6 * 3 + 3
    assert report.unknown_labels == {"yellow": 3}
    assert report.metrics.topk[1] == 1.0
    # Per make; make+model would merge no labels here (no two classes share make and model), so it is left out.
    assert list(report.groups) == ["make"]
    assert report.groups["make"].topk[1] == 1.0
    assert [s.label for s in report.groups["make"].classes] == ["Acme", "Bolt"]
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["metrics"]["topk"]["top1"] == 1.0
    assert saved["unknown_labels"] == {"yellow": 3}
    assert (tmp_path / "report" / "per_class.csv").read_text().splitlines()[0] == "label,precision,recall,f1,support"
    predictions = (tmp_path / "report" / "predictions.csv").read_text().splitlines()
    assert predictions[0] == "path,true,predicted,probability,top3,correct"
    assert len(predictions) == 1 + 21
    assert all(line.endswith(",1") for line in predictions[1:])
    for name in ("per_class_f1", "reliability"):
        png = Path(report.plots[name])
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_against_baseline_on_old_classes(trained: tuple[Path, Path], tmp_path: Path) -> None:
    model, data = trained
    report = evaluate(EvalConfig(model=model, data=data, baseline=model, progress=False))
    assert report.comparison is not None
    assert report.comparison.images == 18
    assert report.comparison.worse == ()
    assert report.comparison.unchanged == 3


def test_eval_with_no_shared_label_is_a_clear_error(trained: tuple[Path, Path], tmp_path: Path) -> None:
    model, _ = trained
    other = make_dataset(tmp_path / "other", colours=["yellow"], per_class=2, csv_file=False)
    with pytest.raises(EvaluationError, match=r"knows none of the labels in other \(yellow\); map them with --map"):
        evaluate(EvalConfig(model=model, data=other, progress=False))


def test_cli_train_then_eval(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", per_class=8)
    backbone = make_backbone(tmp_path / "backbone.onnx")
    output = tmp_path / "out" / "m.onnx"
    runner = CliRunner()
    trained = runner.invoke(
        train_command,
        [
            str(data),
            "-o",
            str(output),
            "--backbone",
            str(backbone),
            "--holdout",
            "0.25",
            "--heads",
            "prototype",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--quiet",
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert "3 classes, head prototype(cosine)" in trained.output
    assert "held out 6 images" in trained.output
    evaluated = runner.invoke(
        eval_command,
        [str(output), str(tmp_path / "out" / "m.holdout.csv"), "--report-dir", str(tmp_path / "r"), "--quiet"],
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert "6 of 6 images evaluated" in evaluated.output
    assert "make level (2 groups): top-1" in evaluated.output
    assert (tmp_path / "r" / "report.json").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "{model}", "{other}"], "Error: model m.onnx knows none of the labels"),
        (["eval", "{model}", "{data}", "--output", "nope"], "Error: model m.onnx has no labelled output 'nope'"),
        (["eval", "{data}/red/red_0_0.png", "{data}"], "Error: cannot load classifier red_0_0.png"),
        (
            ["train", "{data}", "-o", "{tmp}/x.onnx"],
            "Error: give exactly one of backbone (new model) or base (extend a trained model)",
        ),
        (
            ["train", "{data}", "-o", "{tmp}/x.onnx", "--backbone", "{model}", "--label-column", "hue"],
            "Error: {data}/labels.csv has no label column 'hue' (columns: path, label, make, model, year)",
        ),
    ],
)
def test_cli_bad_input_prints_one_error_line(tmp_path: Path, args: list[str], message: str) -> None:
    data = make_dataset(tmp_path / "data", per_class=3)
    other = make_dataset(tmp_path / "other", colours=["yellow"], per_class=2, csv_file=False)
    model = make_backbone(tmp_path / "m.onnx")
    values = {"model": str(model), "data": str(data), "other": str(other), "tmp": str(tmp_path)}
    command = {"eval": eval_command, "train": train_command}[args[0]]
    result = CliRunner().invoke(command, [a.format(**values) for a in args[1:]] + ["--quiet"])
    assert result.exit_code == 2  # bad input: the vehiclewatch convention (streamer.cli.errors)
    assert result.output.strip() == message.format(**values) or result.output.startswith(message.format(**values))
    assert len(result.output.strip().splitlines()) == 1


def test_output_is_chosen_by_the_labels_of_the_set() -> None:
    omz = shared_path("models/omz_vehicle_attributes_0039_72.onnx")
    assert open_classifier(omz, dataset_labels=["white", "Red", "silver"]).output == "color"
    assert open_classifier(omz, dataset_labels=["bus", "van"]).output == "type"
