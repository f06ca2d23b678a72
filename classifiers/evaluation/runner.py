"""``eval``: any classifier ONNX on a labelled set → printed figures, JSON/CSV report and PNG plots."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

import cv2
from pydantic import BaseModel, ConfigDict, Field

from classifiers.evaluation.metrics import group_table
from classifiers.evaluation.plots import plot_confusion, plot_per_class_f1, plot_reliability
from classifiers.evaluation.predict import Classifier, open_classifier, predict_set
from classifiers.evaluation.report import (
    EvalReport,
    compare_tables,
    restrict,
    table_metrics,
    write_predictions,
    write_report,
)
from classifiers.evaluation.vehicles import DEFAULT_NEAR, NearPairs, plot_confusions, vehicle_keys, vehicle_metrics
from classifiers.training.dataset import LabelledSet, load_labelled
from classifiers.training.errors import DatasetError

# Coarser levels reported for make/model/year classifiers: make, and make+model without the year.
DEFAULT_GROUPS = ("make", "make+model")


class EvalConfig(BaseModel):
    """Everything ``eval`` needs; the CLI builds one from its options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Path = Field(description="classifier ONNX (labels and preprocessing in its metadata or sidecar YAML)")
    data: Path = Field(description="labelled folder or labels.csv")
    label_column: str | None = Field(default=None, description="CSV column with the true class (default: auto)")
    path_column: str = Field(default="path", description="CSV column with image paths")
    output: str | None = Field(default=None, description="model output to evaluate (default: best label match)")
    aliases: dict[str, str] = Field(default_factory=dict, description="dataset label -> model label")
    report_dir: Path | None = Field(default=None, description="folder for report.json, per_class.csv and PNGs")
    baseline: Path | None = Field(default=None, description="a second model to compare with on shared labels")
    groups: tuple[str, ...] = Field(
        default=DEFAULT_GROUPS, description="coarser levels to report, from label_attributes (e.g. make, make+model)"
    )
    top_confused: int = Field(default=15, ge=1, description="how many confused pairs to list")
    confusion_classes: int = Field(default=20, ge=2, description="classes in the confusion-matrix plot")
    batch_size: int = Field(default=32, ge=1, le=1024, description="images per inference run")
    threads: int = Field(default=0, ge=0, description="ONNX Runtime intra-op threads (0 = default)")
    providers: tuple[str, ...] = Field(default=("cpu",), description="ONNX Runtime providers, in order")
    progress: bool = Field(default=True, description="show progress bars")
    group_column: str | None = Field(
        default=None,
        description="column naming each row's vehicle (e.g. same_as: its value, or the row's id when empty); "
        "adds strict/near accuracy per crop and per vehicle and their confusion matrices",
    )
    id_column: str = Field(default="id", description="column with each row's own id, for group_column")
    near: tuple[tuple[str, str], ...] = Field(
        default=DEFAULT_NEAR, description="label pairs that count as right in near accuracy"
    )
    vehicle_fusion: Literal["mean", "log"] = Field(
        default="mean", description="how a vehicle's crops are fused: mean probabilities or mean log-probabilities"
    )
    vehicle_weights: Literal["size", "equal"] = Field(
        default="size", description="weight of each crop in its vehicle: its shorter side in pixels, or equal"
    )
    crop_margin: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="context margin the images were cut with around the vehicle box (a colour recogniser file "
        "finds the body and the road around it from it)",
    )


def _image_sizes(paths: Sequence[Path]) -> list[float]:
    sizes = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise DatasetError(f"cannot read image {path}")
        sizes.append(float(min(image.shape[:2])))
    return sizes


def _vehicle_columns(data: LabelledSet, config: EvalConfig) -> None:
    for column in (config.group_column, config.id_column):
        if column is not None and column not in data.columns:
            raise DatasetError(f"{data.source} has no column {column!r} (columns: {', '.join(data.columns)})")


def label_groups(
    labels: Sequence[str], attributes: Mapping[str, Sequence[str]], task: str, spec: str
) -> list[str] | None:
    """The group of each of the model's labels for a group spec such as ``make`` or ``make+model``.

    Groups come from the model's ``label_attributes``; a ``make_model`` classifier without them falls back to the
    label's first word for ``make``. None when the model cannot say (or the grouping would not merge any labels).
    """
    parts = [p.strip() for p in spec.split("+") if p.strip()]
    if parts and all(p in attributes for p in parts):
        groups = [" ".join(attributes[p][i] for p in parts) for i in range(len(labels))]
    elif parts == ["make"] and task == "make_model":
        groups = [label.split(" ", 1)[0] for label in labels]
    else:
        return None
    return groups if len(set(groups)) < len(labels) else None


def evaluate(config: EvalConfig) -> EvalReport:
    """Runs the evaluation and, with ``report_dir``, writes ``report.json``, ``per_class.csv``, ``predictions.csv``
    and the PNG plots there.

    Raises:
        TrainingError: unusable data (missing images, no shared labels) — a ``ValueError`` with one line.
        ModelLoadError: the model cannot be loaded.
    """
    started = time.perf_counter()
    data = load_labelled(config.data, label_column=config.label_column, path_column=config.path_column)
    if config.group_column is not None:
        _vehicle_columns(data, config)

    def open_model(path: Path, output: str | None) -> Classifier:
        # Imported here: the colour recogniser pulls in its member models' code only when it is evaluated.
        from classifiers.color.eval_adapter import is_recognizer_file, open_recognizer_classifier

        if is_recognizer_file(path):
            return open_recognizer_classifier(
                path, crop_margin=config.crop_margin, providers=config.providers, batch_size=config.batch_size
            )
        return open_classifier(
            path, output=output, dataset_labels=data.labels, providers=config.providers, threads=config.threads
        )

    classifier = open_model(config.model, config.output)
    predictions = predict_set(
        classifier, data, aliases=config.aliases, batch_size=config.batch_size, progress=config.progress
    )
    table = predictions.table
    grouped = {
        spec: label_groups(classifier.labels, classifier.label_attributes, classifier.task, spec)
        for spec in config.groups
    }
    report = EvalReport(
        model=config.model.name,
        output=classifier.output,
        task=classifier.task,
        dataset=str(config.data),
        label_column=data.label_column,
        images_total=len(data.items),
        images_evaluated=len(table.true),
        unknown_labels=predictions.unknown,
        from_logits=predictions.from_logits,
        metrics=table_metrics(table, confused_limit=config.top_confused),
        groups={
            spec: table_metrics(group_table(table, groups), confused_limit=config.top_confused)
            for spec, groups in grouped.items()
            if groups is not None
        },
    )
    if config.group_column is not None:
        rows = [data.items[i] for i in predictions.rows]
        keys = vehicle_keys([item.row for item in rows], group_column=config.group_column, id_column=config.id_column)
        weights = _image_sizes([item.path for item in rows]) if config.vehicle_weights == "size" else None
        vehicles, _ = vehicle_metrics(
            table, keys, near=NearPairs.of(config.near), weights=weights, fusion=config.vehicle_fusion
        )
        report = replace(report, vehicles=vehicles)
    if config.baseline is not None:
        base = open_model(config.baseline, None)
        base_predictions = predict_set(
            base, data, aliases=config.aliases, batch_size=config.batch_size, progress=config.progress
        )
        shared = sorted(set(predictions.rows) & set(base_predictions.rows))
        position = {row: i for i, row in enumerate(predictions.rows)}
        base_position = {row: i for i, row in enumerate(base_predictions.rows)}
        report = replace(
            report,
            comparison=compare_tables(
                restrict(table, [position[r] for r in shared]),
                restrict(base_predictions.table, [base_position[r] for r in shared]),
                config.baseline.name,
            ),
        )
    if config.report_dir is not None:
        folder = config.report_dir
        folder.mkdir(parents=True, exist_ok=True)
        name = config.model.stem
        made = {
            "confusion": plot_confusion(
                table, folder / "confusion.png", max_classes=config.confusion_classes, title=f"{name}: most confused"
            ),
            "per_class_f1": plot_per_class_f1(report.metrics.classes, folder / "per_class_f1.png", title=f"{name}: F1"),
            "reliability": plot_reliability(
                report.metrics.reliability,
                folder / "reliability.png",
                title=f"{name}: reliability (ECE {report.metrics.reliability.ece:.3f})",
            ),
        }
        if report.vehicles is not None:
            made["vehicles"] = plot_confusions(
                report.vehicles, folder / "confusion_vehicles.png", title=f"{name}: per crop and per vehicle"
            )
        report = replace(report, plots={k: str(v) for k, v in made.items() if v is not None})
        report = replace(report, seconds=round(time.perf_counter() - started, 2))
        write_report(report, folder)
        write_predictions(table, [data.items[i].path for i in predictions.rows], folder / "predictions.csv")
    else:
        report = replace(report, seconds=round(time.perf_counter() - started, 2))
    return report
