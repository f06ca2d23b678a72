"""Fit, measure and write a colour recogniser file in one command.

    python -m classifiers.color.build --models ../shared/models -o out/color/recognizer.yaml

Steps:

1. Run every member (omz ``color``, spectrico_color, the paint statistic) on the camera crops
   (``traffic_crops_dev``, cut with a 10 % margin) and on the clean photos (``vehicle_colors_dev``, whole images).
2. Camera crops, **leave-one-clip-out**: for each of the clips, fit the pool on the other clips only (plus the
   clean photos at ``--colors-weight``) and predict the held-out clip. No crop of a vehicle (nor of its camera) is
   ever in the fit that scores it. Per crop and per vehicle (crops fused per ``same_as``), strict and near.
3. Clean photos, 5-fold: each fold scored by a pool fitted on the other folds and all camera crops.
4. The shipped members alone, from the same run, on the same crops, for comparison.
5. Fit the pool on everything and write the recogniser file (paths to the member models are absolute), with the
   cross-validated figures in its ``provenance``; ``report.json`` and confusion plots go to ``--report-dir``.

The figures to quote are the cross-validated ones: the written pool has seen every clip.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from classifiers.color.labels import COLOR_LABELS, INDEX, base_color
from classifiers.color.pool import PoolParams, fit_pool, grouped_cross_val, pool_log_probs
from classifiers.color.recognizer import (
    ColorRecognizer,
    MemberConfig,
    MemberOutputs,
    RecognizerConfig,
    save_recognizer_config,
)
from classifiers.evaluation.metrics import PredictionTable
from classifiers.evaluation.vehicles import (
    DEFAULT_NEAR,
    NearPairs,
    VehicleMetrics,
    accuracy,
    plot_confusions,
    vehicle_keys,
    vehicle_metrics,
)
from classifiers.training.dataset import LabelledSet, load_labelled
from classifiers.training.embed import read_image

log = logging.getLogger(__name__)

OMZ = "omz_vehicle_attributes_0039_72.onnx"
SPECTRICO = "spectrico_color_mobilenetv3_224.onnx"
TRAFFIC_MARGIN = 0.1
"""traffic_crops_dev crops are the detector box grown by 10 % on every side (its README)."""


@dataclass(frozen=True)
class LabelledOutputs:
    """Member outputs on one labelled set, with the targets and (for camera crops) clip and vehicle of each row."""

    outputs: MemberOutputs
    targets: NDArray[np.int64]
    sizes: NDArray[np.float64]
    clips: tuple[str, ...]
    vehicles: tuple[str, ...]


def default_members(models: Path) -> tuple[MemberConfig, ...]:
    """omz (its ``color`` output), spectrico_color and the paint statistic, each with weight 1 (to be fitted)."""
    return (
        MemberConfig(name="omz", kind="classifier", model=(models / OMZ).resolve(), output="color", weight=1.0),
        MemberConfig(name="spectrico", kind="classifier", model=(models / SPECTRICO).resolve(), weight=1.0),
        MemberConfig(name="paint", kind="paint", weight=1.0),
    )


def _targets(data: LabelledSet) -> NDArray[np.int64]:
    # Labels outside the vocabulary (unsure, pink) are kept for the record but never fitted or scored.
    out = []
    for item in data.items:
        found = base_color(item.label)
        out.append(INDEX[found[0]] if found is not None else -1)
    return np.asarray(out, np.int64)


def run_members(
    recognizer: ColorRecognizer,
    data: LabelledSet,
    *,
    crop_margin: float,
    clip_column: str | None = None,
    group_column: str | None = None,
    batch: int = 32,
) -> LabelledOutputs:
    """Every member on every image of ``data``, in batches."""
    parts: list[MemberOutputs] = []
    sizes: list[float] = []
    for start in range(0, len(data.items), batch):
        images = [read_image(item.path) for item in data.items[start : start + batch]]
        sizes.extend(float(min(image.shape[:2])) for image in images)
        parts.append(recognizer.member_outputs(images, crop_margin=crop_margin))
    members = len(parts[0].log_probs)
    outputs = MemberOutputs(
        [np.concatenate([p.log_probs[m] for p in parts]) for m in range(members)],
        [np.concatenate([p.alone[m] for p in parts]) for m in range(members)],
        [s for p in parts for s in p.paint],
    )
    rows = [item.row for item in data.items]
    return LabelledOutputs(
        outputs=outputs,
        targets=_targets(data),
        sizes=np.asarray(sizes),
        clips=tuple(row.get(clip_column, "") for row in rows) if clip_column else (),
        vehicles=tuple(vehicle_keys(rows, group_column=group_column)) if group_column else (),
    )


def _table(probs: NDArray[np.floating], targets: NDArray[np.int64]) -> tuple[PredictionTable, NDArray[np.bool_]]:
    keep = targets >= 0
    return PredictionTable(COLOR_LABELS, targets[keep], np.asarray(probs, np.float64)[keep]), keep


def camera_metrics(
    probs: NDArray[np.floating], data: LabelledOutputs, near: NearPairs, *, by_size: bool = True
) -> VehicleMetrics:
    """Per-crop and per-vehicle figures on camera crops.

    Args:
        probs: ``(N, colours)`` per crop.
        data: the crops' targets, sizes and vehicles.
        near: near pairs.
        by_size: vehicles fuse their crops by the size-weighted mean (a close view counts more, as the service's
            quality-weighted track fusion does); otherwise by the equally weighted mean of log-probabilities
            (the convention of the issue's baseline figures).
    """
    table, keep = _table(probs, data.targets)
    keys = [v for v, k in zip(data.vehicles, keep, strict=True) if k]
    if by_size:
        metrics, _ = vehicle_metrics(table, keys, near=near, weights=data.sizes[keep], fusion="mean")
    else:
        metrics, _ = vehicle_metrics(table, keys, near=near, fusion="log")
    return metrics


def member_knows(recognizer: ColorRecognizer, member: int, color: int) -> bool:
    """Whether member ``member`` of the recogniser has a label for colour index ``color``."""
    return COLOR_LABELS[color] not in recognizer.member_missing(member)


def _folds(n: int, k: int, seed: int) -> NDArray[np.int64]:
    return np.random.default_rng(seed).permutation(np.arange(n) % k)


@dataclass(frozen=True)
class BuildReport:
    """Everything ``build`` measured."""

    camera: dict[str, VehicleMetrics]
    """Per member and for the recogniser (``recognizer (CV)``: leave-one-clip-out) on the camera crops."""
    camera_log: dict[str, VehicleMetrics]
    """The same, vehicles fused by the equally weighted mean of log-probabilities."""
    clean_top1: dict[str, float]
    """The same names on the clean photos (the recogniser: 5-fold CV); each scored on the colours it knows."""
    clean_images: dict[str, int]
    fold_params: dict[str, PoolParams]
    params: PoolParams
    colors_weight: float
    bias_penalty: float


def build(
    models: Path,
    traffic: Path,
    colors: Path,
    *,
    colors_weight: float = 0.0,
    bias_penalty: float = 0.01,
    providers: Sequence[str] = ("cpu",),
    near_pairs: Sequence[tuple[str, str]] = DEFAULT_NEAR,
) -> tuple[RecognizerConfig, BuildReport]:
    """Runs steps 1-5 of the module doc and returns the fitted recogniser config and the figures."""
    members = default_members(models)
    draft = RecognizerConfig(members=members)
    recognizer = ColorRecognizer(draft, path=models / "draft.yaml", crop_margin=TRAFFIC_MARGIN, providers=providers)
    camera_set = load_labelled(traffic, label_column="color", path_column="crop_path")
    clean_set = load_labelled(colors, label_column="color")
    camera = run_members(recognizer, camera_set, crop_margin=TRAFFIC_MARGIN, clip_column="clip", group_column="same_as")
    clean = run_members(recognizer, clean_set, crop_margin=0.0)
    near = NearPairs.of(near_pairs)

    extra = (clean.outputs.log_probs, clean.targets, colors_weight) if colors_weight > 0 else None
    camera_cv, fold_params = grouped_cross_val(
        camera.outputs.log_probs, camera.targets, camera.clips, extra=extra, bias_penalty=bias_penalty
    )
    folds = _folds(len(clean.targets), 5, seed=0)
    clean_cv = np.zeros((len(clean.targets), len(COLOR_LABELS)))
    for fold in range(5):
        held = folds == fold
        params = fit_pool(
            [np.concatenate([a, b]) for a, b in zip(camera.outputs.log_probs, clean.outputs.log_probs, strict=True)],
            np.concatenate([camera.targets, np.where(held, -1, clean.targets)]),
            sample_weight=np.concatenate([np.ones(len(camera.targets)), np.full(len(clean.targets), colors_weight)]),
            bias_penalty=bias_penalty,
        )
        clean_cv[held] = np.exp(pool_log_probs([m[held] for m in clean.outputs.log_probs], params))

    figures: dict[str, VehicleMetrics] = {}
    figures_log: dict[str, VehicleMetrics] = {}
    clean_top1: dict[str, float] = {}
    clean_images: dict[str, int] = {}
    for m, member in enumerate(members):
        figures[member.name] = camera_metrics(camera.outputs.alone[m], camera, near)
        figures_log[member.name] = camera_metrics(camera.outputs.alone[m], camera, near, by_size=False)
        # Each member is scored on the clean photos of the colours it knows (omz has no silver or brown).
        known = np.asarray([t >= 0 and member_knows(recognizer, m, int(t)) for t in clean.targets])
        table, _ = _table(clean.outputs.alone[m], np.where(known, clean.targets, -1))
        clean_top1[member.name], _ = accuracy(table, near)
        clean_images[member.name] = len(table.true)
    figures["recognizer (CV)"] = camera_metrics(camera_cv, camera, near)
    figures_log["recognizer (CV)"] = camera_metrics(camera_cv, camera, near, by_size=False)
    table, _ = _table(clean_cv, clean.targets)
    clean_top1["recognizer (CV)"], _ = accuracy(table, near)
    clean_images["recognizer (CV)"] = len(table.true)

    params = fit_pool(
        [np.concatenate([a, b]) for a, b in zip(camera.outputs.log_probs, clean.outputs.log_probs, strict=True)],
        np.concatenate([camera.targets, clean.targets]),
        sample_weight=np.concatenate([np.ones(len(camera.targets)), np.full(len(clean.targets), colors_weight)]),
        bias_penalty=bias_penalty,
    )
    cv = figures["recognizer (CV)"]
    fitted = RecognizerConfig(
        members=tuple(
            m.model_copy(update={"weight": round(w, 4)}) for m, w in zip(members, params.weights, strict=True)
        ),
        biases={c: round(b, 4) for c, b in zip(COLOR_LABELS, params.biases, strict=True) if b != 0.0},
        provenance={
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "builder": "python -m classifiers.color.build",
            "camera_data": str(traffic.resolve()),
            "clean_data": str(colors.resolve()),
            "fit": f"log-linear pool on all camera crops + clean photos at weight {colors_weight}, "
            f"bias penalty {bias_penalty}",
            "camera_cv": "leave-one-clip-out over "
            f"{len(set(camera.clips))} clips; vehicles fused by crop-size-weighted mean",
            "camera_cv_vehicle_strict": f"{cv.vehicle_strict:.3f}",
            "camera_cv_vehicle_near": f"{cv.vehicle_near:.3f}",
            "camera_cv_crop_strict": f"{cv.crop_strict:.3f}",
            "camera_cv_crop_near": f"{cv.crop_near:.3f}",
            "clean_cv_top1": f"{clean_top1['recognizer (CV)']:.3f}",
        },
    )
    report = BuildReport(
        figures, figures_log, clean_top1, clean_images, fold_params, params, colors_weight, bias_penalty
    )
    return fitted, report


def format_report(report: BuildReport) -> str:
    """The figures as a Markdown table (camera crops per crop and per vehicle, clean photos)."""
    lines = [
        "| model | crop strict | crop near | vehicle strict | vehicle near | vehicle strict / near (log fusion) "
        "| clean photos top-1 (images) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in report.camera.items():
        g = report.camera_log[name]
        clean_cell = f"{100 * report.clean_top1[name]:.1f} % ({report.clean_images[name]})"
        lines.append(
            f"| {name} | {100 * m.crop_strict:.1f} % | {100 * m.crop_near:.1f} % | "
            f"{100 * m.vehicle_strict:.1f} % | {100 * m.vehicle_near:.1f} % | "
            f"{100 * g.vehicle_strict:.1f} % / {100 * g.vehicle_near:.1f} % | {clean_cell} |"
        )
    first = next(iter(report.camera.values()))
    lines.append(f"\ncamera crops: {first.crops} crops of {first.vehicles} vehicles (unsure labels not scored)")
    weights = ", ".join(f"{w:.2f}" for w in report.params.weights)
    lines.append(f"\nfitted member weights: {weights}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m classifiers.color.build", description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, required=True, help=f"folder with {OMZ} and {SPECTRICO}")
    parser.add_argument("--traffic", type=Path, default=Path("../shared/datasets/traffic_crops_dev"))
    parser.add_argument("--colors", type=Path, default=Path("../shared/datasets/vehicle_colors_dev"))
    parser.add_argument("-o", "--output", type=Path, default=Path("out/color/recognizer.yaml"))
    parser.add_argument("--report-dir", type=Path, default=Path("out/color/build"))
    parser.add_argument("--colors-weight", type=float, default=0.0, help="row weight of the clean photos in fits")
    parser.add_argument("--bias-penalty", type=float, default=0.01)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        config, report = build(
            args.models, args.traffic, args.colors, colors_weight=args.colors_weight, bias_penalty=args.bias_penalty
        )
    except ValueError as exc:
        print(f"Error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    save_recognizer_config(config, args.output)
    args.report_dir.mkdir(parents=True, exist_ok=True)
    (args.report_dir / "report.json").write_text(json.dumps(asdict(report), indent=2, default=str))
    plot_confusions(
        report.camera["recognizer (CV)"],
        args.report_dir / "confusion_recognizer_cv.png",
        title="colour recogniser, leave-one-clip-out on traffic_crops_dev",
    )
    print(format_report(report))
    print(f"wrote {args.output}; report and plots in {args.report_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
