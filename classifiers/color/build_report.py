"""What ``classifiers.color.build`` measured, and its tables (Markdown) and plots."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from classifiers.color.camera_adapt import CameraLevels, CameraLevelsSettings
from classifiers.color.pool import PoolParams
from classifiers.evaluation.vehicles import VehicleMetrics

CONFUSIONS: tuple[tuple[str, str], ...] = (("black", "grey"), ("grey", "black"), ("orange", "yellow"))
"""The (true, predicted) confusions the issue names, counted in every report."""


@dataclass(frozen=True)
class Scenario:
    """One camera condition measured leave-one-clip-out, without and with per-camera adaptation."""

    name: str
    plain: VehicleMetrics
    adapted: VehicleMetrics
    corrected_share: float
    """Share of crops whose correction was not the identity."""


@dataclass(frozen=True)
class BuildReport:
    """Everything ``build`` measured."""

    camera: dict[str, VehicleMetrics]
    """Per member and for the recogniser (``recognizer (CV)``: leave-one-clip-out; ``recognizer + camera
    adaptation (CV)``: the same with online per-camera adaptation) on the camera crops."""
    camera_log: dict[str, VehicleMetrics]
    """The same, vehicles fused by the equally weighted mean of log-probabilities."""
    clean_top1: dict[str, float]
    """The same names on the clean photos (the recogniser: 5-fold CV); each scored on the colours it knows."""
    clean_images: dict[str, int]
    fold_params: dict[str, PoolParams]
    params: PoolParams
    colors_weight: float
    bias_penalty: float
    per_clip: dict[str, tuple[VehicleMetrics, VehicleMetrics]] = field(default_factory=dict)
    """Clip → (without, with adaptation), leave-one-clip-out."""
    scenarios: list[Scenario] = field(default_factory=list)
    """The recorded clips and the simulated cameras (``camera_eval.SIMULATIONS``), without and with adaptation."""
    clip_levels: dict[str, CameraLevels] = field(default_factory=dict)
    envelope: CameraLevelsSettings | None = None


def confusion_count(metrics: VehicleMetrics, true: str, predicted: str, *, vehicles: bool = True) -> int:
    """How many vehicles (or crops) of colour ``true`` were called ``predicted``."""
    if true not in metrics.labels or predicted not in metrics.labels:
        return 0
    matrix = metrics.vehicle_confusion if vehicles else metrics.crop_confusion
    return int(matrix[metrics.labels.index(true)][metrics.labels.index(predicted)])


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _confusions(m: VehicleMetrics) -> str:
    return ", ".join(
        f"{t}→{p} {confusion_count(m, t, p)} ({confusion_count(m, t, p, vehicles=False)})" for t, p in CONFUSIONS
    )


def format_members(report: BuildReport) -> str:
    """The members and the recogniser: camera crops per crop and per vehicle, clean photos."""
    lines = [
        "| model | crop strict | crop near | vehicle strict | vehicle near | vehicle strict / near (log fusion) "
        "| clean photos top-1 (images) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in report.camera.items():
        g = report.camera_log[name]
        clean = report.clean_top1.get(name)
        clean_cell = f"{_pct(clean)} ({report.clean_images[name]})" if clean is not None else "-"
        lines.append(
            f"| {name} | {_pct(m.crop_strict)} | {_pct(m.crop_near)} | {_pct(m.vehicle_strict)} | "
            f"{_pct(m.vehicle_near)} | {_pct(g.vehicle_strict)} / {_pct(g.vehicle_near)} | {clean_cell} |"
        )
    first = next(iter(report.camera.values()))
    lines.append(f"\ncamera crops: {first.crops} crops of {first.vehicles} vehicles (unsure labels not scored)")
    lines.append(f"fitted member weights: {', '.join(f'{w:.2f}' for w in report.params.weights)}")
    return "\n".join(lines)


def format_adaptation(report: BuildReport) -> str:
    """Per-camera adaptation: each scenario and each clip, without → with; the issue's confusions."""
    lines = [
        "| cameras (leave-one-clip-out) | crop strict | crop near | vehicle strict | vehicle near "
        "| vehicles true→called (crops) | crops corrected |",
        "|---|---|---|---|---|---|---|",
    ]
    rows: list[tuple[str, VehicleMetrics, VehicleMetrics, str]] = [
        (s.name, s.plain, s.adapted, _pct(s.corrected_share)) for s in report.scenarios
    ]
    rows += [(f"clip {clip}", plain, adapted, "") for clip, (plain, adapted) in report.per_clip.items()]
    for name, plain, adapted, share in rows:
        cells = [
            f"{_pct(getattr(plain, k))} → {_pct(getattr(adapted, k))}"
            for k in ("crop_strict", "crop_near", "vehicle_strict", "vehicle_near")
        ]
        confusions = f"{_confusions(plain)} → {_confusions(adapted)}"
        lines.append(f"| {name} | {' | '.join(cells)} | {confusions} | {share} |")
    if report.clip_levels:
        levels = ", ".join(f"{c} {lv.black:.0f}/{lv.white:.0f}" for c, lv in report.clip_levels.items())
        lines.append(f"\ncamera levels (black/white luminance): {levels}")
    return "\n".join(lines)


def format_report(report: BuildReport) -> str:
    """Both tables."""
    parts = [format_members(report)]
    if report.scenarios:
        parts.append(format_adaptation(report))
    return "\n\n".join(parts)


def plot_adaptation(report: BuildReport, path: Path) -> Path:
    """Vehicle strict and near accuracy per scenario and clip, without and with adaptation (grouped bars)."""
    names = [s.name.split(" (")[0] for s in report.scenarios] + [f"clip {c}" for c in report.per_clip]
    pairs = [(s.plain, s.adapted) for s in report.scenarios] + list(report.per_clip.values())
    fig = Figure(figsize=(max(6.0, 1.2 * len(names) + 2.0), 4.0))
    axes = fig.subplots(1, 2, sharey=True)
    x = np.arange(len(names))
    for ax, key, title in zip(axes, ("vehicle_strict", "vehicle_near"), ("strict", "near"), strict=True):
        plain: NDArray[np.float64] = np.array([getattr(p, key) for p, _ in pairs])
        adapted: NDArray[np.float64] = np.array([getattr(a, key) for _, a in pairs])
        ax.bar(x - 0.2, plain, 0.4, label="without adaptation")
        ax.bar(x + 0.2, adapted, 0.4, label="with per-camera adaptation")
        ax.set_xticks(x, names, rotation=40, ha="right", fontsize=8)
        ax.set_title(f"per vehicle, {title}", fontsize=9)
        ax.set_ylim(0, 1)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
