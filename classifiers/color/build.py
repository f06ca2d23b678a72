"""Fit, measure and write a colour recogniser file in one command.

    python -m classifiers.color.build --models ../shared/models -o out/color/recognizer.yaml

Steps:

1. Run every member (omz ``color``, spectrico_color, the paint statistic) on the camera crops
   (``traffic_crops_dev``, cut with a 10 % margin) and on the clean photos (``vehicle_colors_dev``, whole images).
2. Camera crops, **leave-one-clip-out**: for each of the clips, fit the pool on the other clips only (plus the
   clean photos at ``--colors-weight``) and predict the held-out clip. No crop of a vehicle (nor of its camera) is
   ever in the fit that scores it. Per crop and per vehicle (crops fused per ``same_as``), strict and near.
3. Per-camera adaptation (``classifiers.color.camera_eval``), leave-one-clip-out as in 2: each held-out clip
   streamed online through a ``CameraAdapter`` whose envelope comes from the other clips; on the recorded clips and
   on simulated dim and hazy cameras, without and with the adaptation, overall and per clip.
4. Clean photos, 5-fold: each fold scored by a pool fitted on the other folds and all camera crops.
5. The shipped members alone, from the same run, on the same crops, for comparison.
6. Fit the pool on everything and write the recogniser file (paths to the member models are absolute; the levels
   envelope of all clips for per-camera adaptation), with the cross-validated figures in its ``provenance``;
   ``report.json``, confusion plots and ``camera_adaptation.png`` go to ``--report-dir``.

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

from classifiers.color.build_report import BuildReport, Scenario, format_report, plot_adaptation
from classifiers.color.camera_adapt import CameraLevelsSettings, envelope
from classifiers.color.camera_eval import SIMULATIONS, StreamCrops, adapted_loco, clip_levels
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


def _clean_cv(
    camera: LabelledOutputs, clean: LabelledOutputs, *, colors_weight: float, bias_penalty: float
) -> NDArray[np.float64]:
    """Clean photos, 5-fold: each fold scored by a pool fitted on the other folds and all camera crops."""
    folds = _folds(len(clean.targets), 5, seed=0)
    out = np.zeros((len(clean.targets), len(COLOR_LABELS)))
    for fold in range(5):
        held = folds == fold
        params = fit_pool(
            [np.concatenate([a, b]) for a, b in zip(camera.outputs.log_probs, clean.outputs.log_probs, strict=True)],
            np.concatenate([camera.targets, np.where(held, -1, clean.targets)]),
            sample_weight=np.concatenate([np.ones(len(camera.targets)), np.full(len(clean.targets), colors_weight)]),
            bias_penalty=bias_penalty,
        )
        out[held] = np.exp(pool_log_probs([m[held] for m in clean.outputs.log_probs], params))
    return out


def stream_crops(data: LabelledSet) -> StreamCrops:
    """The camera crops in memory, with clip, frame and vehicle (``same_as`` or ``id``) of each."""
    rows = [item.row for item in data.items]
    return StreamCrops(
        [read_image(item.path) for item in data.items],
        tuple(row.get("clip", "") for row in rows),
        np.asarray([int(row.get("frame") or 0) for row in rows], np.int64),
        tuple(vehicle_keys(rows, group_column="same_as")),
    )


def _subset(
    probs: NDArray[np.float64], data: LabelledOutputs, rows: NDArray[np.bool_], near: NearPairs
) -> VehicleMetrics:
    vehicles = tuple(v for v, k in zip(data.vehicles, rows, strict=True) if k)
    part = LabelledOutputs(data.outputs, data.targets[rows], data.sizes[rows], (), vehicles)
    return camera_metrics(probs[rows], part, near)


@dataclass(frozen=True)
class Adaptation:
    """Step 3's figures: the scenarios, the recorded clips per clip, their adapted probabilities per crop."""

    scenarios: list[Scenario]
    per_clip: dict[str, tuple[VehicleMetrics, VehicleMetrics]]
    probs: NDArray[np.float64]


def measure_adaptation(
    recognizer: ColorRecognizer, data: StreamCrops, camera: LabelledOutputs, near: NearPairs, bias_penalty: float
) -> Adaptation:
    """Leave-one-clip-out without and with per-camera adaptation, on the recorded clips and simulated cameras."""
    scenarios: list[Scenario] = []
    recorded = np.zeros(0)
    per_clip: dict[str, tuple[VehicleMetrics, VehicleMetrics]] = {}
    for simulation in (None, *SIMULATIONS):
        log.warning("camera adaptation: %s", "recorded clips" if simulation is None else simulation.name)
        cv = adapted_loco(
            recognizer,
            data,
            camera.outputs.log_probs,
            camera.targets,
            margin=TRAFFIC_MARGIN,
            bias_penalty=bias_penalty,
            simulation=simulation,
        )
        name = "recorded clips" if simulation is None else f"simulated: {simulation.name}"
        plain, adapted = camera_metrics(cv.plain, camera, near), camera_metrics(cv.adapted, camera, near)
        scenarios.append(Scenario(name, plain, adapted, cv.corrected_share))
        if simulation is None:
            recorded = cv.adapted
            clips = np.asarray(camera.clips)
            for clip in dict.fromkeys(camera.clips):
                rows = (clips == clip) & (camera.targets >= 0)
                per_clip[clip] = (_subset(cv.plain, camera, rows, near), _subset(cv.adapted, camera, rows, near))
    return Adaptation(scenarios, per_clip, recorded)


def _fitted_config(
    members: Sequence[MemberConfig],
    params: PoolParams,
    envelope_settings: CameraLevelsSettings,
    provenance: dict[str, str],
) -> RecognizerConfig:
    return RecognizerConfig(
        members=tuple(
            m.model_copy(update={"weight": round(w, 4)}) for m, w in zip(members, params.weights, strict=True)
        ),
        biases={c: round(b, 4) for c, b in zip(COLOR_LABELS, params.biases, strict=True) if b != 0.0},
        camera=envelope_settings,
        provenance=provenance,
    )


def _figures(
    recognizer: ColorRecognizer,
    named: Sequence[tuple[str, NDArray[np.floating], NDArray[np.floating], int | None]],
    camera: LabelledOutputs,
    clean: LabelledOutputs,
    near: NearPairs,
) -> tuple[dict[str, VehicleMetrics], dict[str, VehicleMetrics], dict[str, float], dict[str, int]]:
    """Camera figures (size-weighted and log fusion) and clean-photo top-1 of each (name, camera probabilities,
    clean probabilities, member index or None for the recogniser)."""
    figures: dict[str, VehicleMetrics] = {}
    figures_log: dict[str, VehicleMetrics] = {}
    clean_top1: dict[str, float] = {}
    clean_images: dict[str, int] = {}
    for name, on_camera, on_clean, index in named:
        figures[name] = camera_metrics(on_camera, camera, near)
        figures_log[name] = camera_metrics(on_camera, camera, near, by_size=False)
        # Each member is scored on the clean photos of the colours it knows (omz has no silver or brown).
        known = [t >= 0 and (index is None or member_knows(recognizer, index, int(t))) for t in clean.targets]
        table, _ = _table(on_clean, np.where(known, clean.targets, -1))
        clean_top1[name], _ = accuracy(table, near)
        clean_images[name] = len(table.true)
    return figures, figures_log, clean_top1, clean_images


def _fit_all(
    camera: LabelledOutputs, clean: LabelledOutputs, *, colors_weight: float, bias_penalty: float
) -> PoolParams:
    """The pool of the written file: every camera crop, and the clean photos at ``colors_weight``."""
    return fit_pool(
        [np.concatenate([a, b]) for a, b in zip(camera.outputs.log_probs, clean.outputs.log_probs, strict=True)],
        np.concatenate([camera.targets, clean.targets]),
        sample_weight=np.concatenate([np.ones(len(camera.targets)), np.full(len(clean.targets), colors_weight)]),
        bias_penalty=bias_penalty,
    )


def _provenance(
    traffic: Path, colors: Path, colors_weight: float, bias_penalty: float, cv: VehicleMetrics, clean: dict[str, float]
) -> dict[str, str]:
    return {
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "builder": "python -m classifiers.color.build",
        "camera_data": str(traffic.resolve()),
        "clean_data": str(colors.resolve()),
        "fit": f"log-linear pool on all camera crops + clean photos at weight {colors_weight}, "
        f"bias penalty {bias_penalty}",
        "camera_cv": "leave-one-clip-out; vehicles fused by crop-size-weighted mean",
        "camera_cv_vehicle_strict": f"{cv.vehicle_strict:.3f}",
        "camera_cv_vehicle_near": f"{cv.vehicle_near:.3f}",
        "camera_cv_crop_strict": f"{cv.crop_strict:.3f}",
        "camera_cv_crop_near": f"{cv.crop_near:.3f}",
        "clean_cv_top1": f"{clean['recognizer (CV)']:.3f}",
    }


def build(
    models: Path,
    traffic: Path,
    colors: Path,
    *,
    colors_weight: float = 0.0,
    bias_penalty: float = 0.01,
    providers: Sequence[str] = ("cpu",),
    near_pairs: Sequence[tuple[str, str]] = DEFAULT_NEAR,
    adaptation: bool = True,
) -> tuple[RecognizerConfig, BuildReport]:
    """Runs steps 1-6 of the module doc (``adaptation=False``: not 3) and returns the fitted config and the figures.

    ``traffic``: the camera crops, a folder with ``labels.csv`` or a CSV (``cut_crops``' ``combined.csv``).
    """
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
    clean_cv = _clean_cv(camera, clean, colors_weight=colors_weight, bias_penalty=bias_penalty)
    named: list[tuple[str, NDArray[np.floating], NDArray[np.floating], int | None]] = [
        (m.name, camera.outputs.alone[i], clean.outputs.alone[i], i) for i, m in enumerate(members)
    ]
    figures, figures_log, clean_top1, clean_images = _figures(
        recognizer, [*named, ("recognizer (CV)", camera_cv, clean_cv, None)], camera, clean, near
    )
    data = stream_crops(camera_set)
    adapted = measure_adaptation(recognizer, data, camera, near, bias_penalty) if adaptation else None  # step 3
    if adapted is not None:
        figures["recognizer + camera adaptation (CV)"] = camera_metrics(adapted.probs, camera, near)
        figures_log["recognizer + camera adaptation (CV)"] = camera_metrics(adapted.probs, camera, near, by_size=False)
    levels = clip_levels(data, TRAFFIC_MARGIN)
    envelope_settings = envelope(list(levels.values()))
    params = _fit_all(camera, clean, colors_weight=colors_weight, bias_penalty=bias_penalty)
    provenance = _provenance(traffic, colors, colors_weight, bias_penalty, figures["recognizer (CV)"], clean_top1)
    provenance["camera_levels"] = "envelope of the levels of " + ", ".join(levels)
    report = BuildReport(
        *(figures, figures_log, clean_top1, clean_images, fold_params, params, colors_weight, bias_penalty),
        per_clip=adapted.per_clip if adapted else {},
        scenarios=adapted.scenarios if adapted else [],
        clip_levels=levels,
        envelope=envelope_settings,
    )
    return _fitted_config(members, params, envelope_settings, provenance), report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m classifiers.color.build", description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, required=True, help=f"folder with {OMZ} and {SPECTRICO}")
    parser.add_argument(
        "--traffic",
        type=Path,
        default=Path("../shared/datasets/traffic_crops_dev"),
        help="camera crops: a folder with labels.csv, or a CSV (e.g. cut_crops' combined.csv for dev + extra)",
    )
    parser.add_argument("--colors", type=Path, default=Path("../shared/datasets/vehicle_colors_dev"))
    parser.add_argument("-o", "--output", type=Path, default=Path("out/color/recognizer.yaml"))
    parser.add_argument("--report-dir", type=Path, default=Path("out/color/build"))
    parser.add_argument("--colors-weight", type=float, default=0.0, help="row weight of the clean photos in fits")
    parser.add_argument("--bias-penalty", type=float, default=0.01)
    parser.add_argument("--no-adaptation", action="store_true", help="skip measuring per-camera adaptation")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        config, report = build(
            args.models,
            args.traffic,
            args.colors,
            colors_weight=args.colors_weight,
            bias_penalty=args.bias_penalty,
            adaptation=not args.no_adaptation,
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
        title="colour recogniser, leave-one-clip-out",
    )
    if report.scenarios:
        plot_confusions(
            report.camera["recognizer + camera adaptation (CV)"],
            args.report_dir / "confusion_recognizer_adapted_cv.png",
            title="colour recogniser with per-camera adaptation, leave-one-clip-out",
        )
        plot_adaptation(report, args.report_dir / "camera_adaptation.png")
    print(format_report(report))
    print(f"wrote {args.output}; report and plots in {args.report_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
