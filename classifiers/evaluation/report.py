"""An evaluation's figures as one report: built from prediction tables (pure), written as JSON/CSV, printed as text."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.evaluation.metrics import (
    ClassStats,
    ConfusedPair,
    MacroScores,
    PredictionTable,
    Reliability,
    class_stats,
    confused_pairs,
    macro_scores,
    reliability,
    topk_accuracy,
)
from classifiers.evaluation.vehicles import VehicleMetrics, format_vehicle_text

TOP_KS = (1, 3, 5)


@dataclass(frozen=True)
class TableMetrics:
    """Everything measured on one prediction table."""

    images: int
    topk: Mapping[int, float]
    macro: MacroScores
    classes: tuple[ClassStats, ...]
    confused: tuple[ConfusedPair, ...]
    reliability: Reliability


def table_metrics(
    table: PredictionTable, *, ks: Sequence[int] = TOP_KS, confused_limit: int = 15, bins: int = 10
) -> TableMetrics:
    """Top-k accuracies, per-class and macro figures, the most confused pairs and the calibration curve."""
    stats = class_stats(table)
    return TableMetrics(
        images=len(table.true),
        topk={k: topk_accuracy(table, k) for k in ks},
        macro=macro_scores(stats),
        classes=tuple(stats),
        confused=tuple(confused_pairs(table, confused_limit)),
        reliability=reliability(table, bins),
    )


@dataclass(frozen=True)
class ClassChange:
    """One class's recall under the baseline model and under the evaluated one."""

    label: str
    support: int
    baseline_recall: float
    recall: float


@dataclass(frozen=True)
class Comparison:
    """The evaluated model against a baseline on the images whose label both know (e.g. the old classes after
    adding new ones): did anything regress?"""

    baseline: str
    images: int
    top1: float
    baseline_top1: float
    top3: float
    baseline_top3: float
    worse: tuple[ClassChange, ...]
    better: int
    unchanged: int


def _recalls(table: PredictionTable) -> dict[str, tuple[float, int]]:
    return {s.label: (s.recall, s.support) for s in class_stats(table)}


def compare_tables(table: PredictionTable, baseline: PredictionTable, baseline_name: str) -> Comparison:
    """Compares two models' tables over the same rows (row i is the same image in both).

    Raises:
        ValueError: the tables differ in length or in a row's true label.
    """
    if len(table.true) != len(baseline.true):
        raise ValueError(f"tables have {len(table.true)} and {len(baseline.true)} rows")
    truth = [table.labels[i] for i in table.true]
    if truth != [baseline.labels[i] for i in baseline.true]:
        raise ValueError("tables disagree on the true labels of their rows")
    new, old = _recalls(table), _recalls(baseline)
    changes = [ClassChange(label, new[label][1], old[label][0], new[label][0]) for label in sorted(new)]
    return Comparison(
        baseline=baseline_name,
        images=len(table.true),
        top1=topk_accuracy(table, 1),
        baseline_top1=topk_accuracy(baseline, 1),
        top3=topk_accuracy(table, 3),
        baseline_top3=topk_accuracy(baseline, 3),
        worse=tuple(
            sorted((c for c in changes if c.recall < c.baseline_recall), key=lambda c: c.recall - c.baseline_recall)
        ),
        better=sum(c.recall > c.baseline_recall for c in changes),
        unchanged=sum(c.recall == c.baseline_recall for c in changes),
    )


def restrict(table: PredictionTable, rows: Sequence[int]) -> PredictionTable:
    """The table's rows ``rows``, in that order."""
    index = np.asarray(rows, np.int64)
    return PredictionTable(table.labels, table.true[index], table.probs[index])


@dataclass(frozen=True)
class EvalReport:
    """One model on one labelled set."""

    model: str
    output: str
    task: str
    dataset: str
    label_column: str
    images_total: int
    images_evaluated: int
    unknown_labels: Mapping[str, int]
    from_logits: bool
    metrics: TableMetrics
    groups: Mapping[str, TableMetrics] = field(default_factory=dict)
    comparison: Comparison | None = None
    plots: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    vehicles: VehicleMetrics | None = None
    """Strict/near accuracy per crop and per vehicle (rows grouped by ``same_as``), when asked for."""


def report_dict(report: EvalReport) -> dict[str, Any]:
    """The report as JSON-ready data (top-k keys become ``top1``, ``top3`` ...)."""
    data = asdict(report)
    for metrics in [data["metrics"], *data["groups"].values()]:
        metrics["topk"] = {f"top{k}": v for k, v in metrics["topk"].items()}
    return data


def write_report(report: EvalReport, folder: Path) -> dict[str, Path]:
    """Writes ``report.json`` and ``per_class.csv`` into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / "report.json"
    json_path.write_text(json.dumps(report_dict(report), indent=2))
    csv_path = folder / "per_class.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label", "precision", "recall", "f1", "support"])
        for s in report.metrics.classes:
            writer.writerow([s.label, f"{s.precision:.4f}", f"{s.recall:.4f}", f"{s.f1:.4f}", s.support])
    return {"json": json_path, "per_class_csv": csv_path}


def write_predictions(table: PredictionTable, paths: Sequence[Path], csv_path: Path, *, top: int = 3) -> Path:
    """One row per evaluated image: path, true label, top-1 label and probability, top labels, correct or not."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    ranking = table.ranking[:, :top]
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "true", "predicted", "probability", f"top{top}", "correct"])
        for row, path in enumerate(paths):
            best = int(ranking[row, 0])
            writer.writerow(
                [
                    str(path),
                    table.labels[int(table.true[row])],
                    table.labels[best],
                    f"{table.probs[row, best]:.4f}",
                    "|".join(table.labels[int(i)] for i in ranking[row]),
                    int(best == table.true[row]),
                ]
            )
    return csv_path


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _topk_line(metrics: TableMetrics) -> str:
    return "  ".join(f"top-{k} {_pct(v)}" for k, v in metrics.topk.items())


def format_text(report: EvalReport, *, max_classes: int = 40) -> str:
    """A plain-text summary: headline figures, per-class table (worst first when long), confusions, comparison."""
    m = report.metrics
    lines = [
        f"model {report.model} (output {report.output!r}, task {report.task}) on {report.dataset} "
        f"[{report.label_column}]: {report.images_evaluated} of {report.images_total} images evaluated",
        f"  {_topk_line(m)}",
        f"  macro precision {_pct(m.macro.precision)}  recall {_pct(m.macro.recall)}  F1 {_pct(m.macro.f1)}  "
        f"({len(m.classes)} classes)  ECE {m.reliability.ece:.3f}",
    ]
    if report.from_logits:
        lines.append("  note: the output is not a probability vector; a softmax was applied")
    if report.unknown_labels:
        unknown = ", ".join(f"{k} ({v})" for k, v in report.unknown_labels.items())
        lines.append(f"  labels the model does not know (not evaluated): {unknown}")
    for name, g in report.groups.items():
        lines.append(f"  {name} level ({len(g.classes)} groups): {_topk_line(g)}")
    if report.vehicles is not None:
        lines.append(format_vehicle_text(report.vehicles))
    classes = sorted(m.classes, key=lambda s: (s.f1, s.label)) if len(m.classes) > max_classes else list(m.classes)
    shown = classes[:max_classes]
    title = f"per class (worst {len(shown)} of {len(m.classes)} by F1)" if len(shown) < len(m.classes) else "per class"
    width = min(max((len(s.label) for s in shown), default=5), 48)
    lines += ["", title, f"  {'label':<{width}}  precision  recall     f1  support"]
    lines += [
        f"  {s.label[:width]:<{width}}  {s.precision:9.3f}  {s.recall:6.3f}  {s.f1:5.3f}  {s.support:7d}" for s in shown
    ]
    if m.confused:
        lines += ["", "most confused (true -> predicted: images, share of true)"]
        lines += [f"  {p.true} -> {p.predicted}: {p.count} ({_pct(p.share)})" for p in m.confused]
    c = report.comparison
    if c is not None:
        lines += [
            "",
            f"against baseline {c.baseline} on the {c.images} images whose label both know:",
            f"  top-1 {_pct(c.baseline_top1)} -> {_pct(c.top1)}  top-3 {_pct(c.baseline_top3)} -> {_pct(c.top3)}  "
            f"classes better {c.better}, unchanged {c.unchanged}, worse {len(c.worse)}",
        ]
        lines += [
            f"  worse: {w.label}: recall {w.baseline_recall:.3f} -> {w.recall:.3f} ({w.support} images)"
            for w in c.worse[:10]
        ]
    if report.plots:
        lines += ["", "plots: " + ", ".join(report.plots.values())]
    return "\n".join(lines)
