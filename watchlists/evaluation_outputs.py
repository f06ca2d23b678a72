"""What a per-vehicle evaluation writes and prints besides the alert figures: what each fold fitted, make by crop
size, calibration before/after, the false alerts, and the plots (into one folder)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from watchlists.evaluation import MatchingReport, plot_report
from watchlists.evaluation_cv import Evaluation
from watchlists.evaluation_false import contact_sheet, false_alerts, write_false_alerts
from watchlists.evaluation_fit import FoldFit, make_size_curve
from watchlists.evaluation_plots import calibration_rows, calibration_table, plot_calibration, plot_make_sizes
from watchlists.evaluation_sizes import make_points, size_buckets, size_table, vehicle_makes
from watchlists.evaluation_vehicles import CropImages
from watchlists.matching import Matcher


def fold_summary(fits: dict[str, FoldFit]) -> dict[str, Any]:
    """Per fold: the make limit, each head's calibration method and parameter, the colour table's own weights."""
    out: dict[str, Any] = {}
    for fold, fit in fits.items():
        heads = {
            name: {
                "method": h.method,
                "temperature": h.temperature,
                "isotonic_points": len(h.isotonic_x or ()),
                "agreement_exponent": h.agreement_exponent,
            }
            for name, h in fit.calibration.heads.items()
        }
        own = {c: row.get(c) for c, row in fit.color_table.rows.items()} if fit.color_table is not None else {}
        out[fold] = {"make_min_box_side": fit.rules.make_min_box_side, "calibration": heads, "color_self_weight": own}
    return out


def summary_text(evaluation: Evaluation, data: CropImages) -> str:
    """The extra figures for the terminal (Markdown tables)."""
    parts = [
        "make by box size (make-labelled crops):",
        size_table(size_buckets(data, evaluation.raw, evaluation.classified), vehicle_makes(evaluation.vehicles)),
    ]
    if evaluation.curves:
        parts += ["", "calibration on held-out crops:", calibration_table(calibration_rows(evaluation.curves))]
    if evaluation.vehicle_curves:
        rows = calibration_rows(evaluation.vehicle_curves)
        parts += [
            "",
            "per vehicle (fused views; before: the configured agreement exponent, after: the fold's fitted one):",
            calibration_table(rows, unit="vehicles"),
        ]
    for fold, values in fold_summary(evaluation.fits).items():
        methods = ", ".join(
            f"{head} {h['method']}"
            + (f" T={h['temperature']:.2f}" if h["temperature"] else "")
            + (f" γ={h['agreement_exponent']:.1f}" if h["agreement_exponent"] is not None else "")
            for head, h in values["calibration"].items()
        )
        parts.append(f"fold {fold}: make limit {values['make_min_box_side']} px; {methods}")
    return "\n".join(parts)


def write_vehicle_outputs(
    report: MatchingReport, evaluation: Evaluation, data: CropImages, matcher: Matcher, folder: Path
) -> MatchingReport:
    """Writes ``pr.png``, ``false_alerts.{png,csv,json}``, ``make_sizes.png``, ``reliability_*.png`` and
    ``report.json`` into ``folder``; returns the report with its plot path."""
    folder.mkdir(parents=True, exist_ok=True)
    report = replace(report, plot=str(plot_report(report, folder / "pr.png", matcher.default_threshold)))
    alerts = false_alerts(matcher, evaluation.vehicles, evaluation.scores, [c.path for c in data.crops])
    write_false_alerts(alerts, folder / "false_alerts.csv", folder / "false_alerts.json")
    contact_sheet(alerts, folder / "false_alerts.png", title=f"{len(alerts)} false alerts, per vehicle")
    sides, correct = make_points(data, evaluation.raw)
    limits = {fold: fit.rules.make_min_box_side for fold, fit in evaluation.fits.items()}
    if len(sides):
        limit = int(np.median(list(limits.values()))) if limits else 0
        plot_make_sizes(sides, correct, folder / "make_sizes.png", limit=limit, fold_limits=limits)
    plot_calibration(evaluation.curves, folder)
    plot_calibration(evaluation.vehicle_curves, folder, unit="vehicles", prefix="reliability_vehicle_")
    extra = {
        "false_alerts": len(alerts),
        "folds": fold_summary(evaluation.fits),
        "make_sizes": [asdict(b) for b in size_buckets(data, evaluation.raw, evaluation.classified)],
        "make_vehicles": asdict(vehicle_makes(evaluation.vehicles)),
        "make_size_curve": make_size_curve(sides, correct),
        "calibration": calibration_rows(evaluation.curves),
        "calibration_per_vehicle": calibration_rows(evaluation.vehicle_curves),
    }
    payload = {**report.as_dict(), **extra}
    (folder / "report.json").write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return report
