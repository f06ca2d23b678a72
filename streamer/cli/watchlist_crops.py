"""What `watchlist evaluate` (per vehicle) and `watchlist calibrate` share: their options for the labelled crops
and the classifiers, the classifier settings they make of them, the service's view gate, and reading the crops.

Both open the classifier bank through ``ClassifierBank.from_settings`` (the service's way), and both weigh each
labelled crop as the service weighs a view of a track: with its quality score
(:func:`streamer.recognize.quality.assess_quality`), leaving out views the gate refuses as too small.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import numpy as np
from numpy.typing import NDArray

from streamer.cli.defaults import DEFAULT_CLASSIFIERS, MODELS_ENV, model_overrides
from streamer.cli.errors import fail
from streamer.cli.options import classifier_option, color_recognizer_option, models_option

if TYPE_CHECKING:
    from classifiers.settings import ClassifierSettings
    from watchlists.evaluation_vehicles import CropImages

F = TypeVar("F", bound=Callable[..., Any])

TRAFFIC_STORED_MARGIN = 0.1
"""The margin ``traffic_crops_dev`` stored its crops with around the detector box (its README)."""


@dataclass(frozen=True)
class CropArgs:
    """The options of the labelled crops and of the classifiers."""

    data_path: Path
    models: Path | None
    classifiers: tuple[Path, ...]
    color_recognizer: Path | None
    body_type_model: Path | None
    crop_margin: float
    make_crop_margin: float | None
    stored_margin: float
    path_column: str
    group_column: str | None
    fold_column: str | None
    limit: int | None
    batch_size: int
    calibration: Path | None
    abstain: bool


def crop_options(command: F) -> F:
    """Decorates a command with the crop and classifier options (they become :class:`CropArgs` fields)."""
    options = [
        click.option(
            "--data",
            "data_path",
            required=True,
            type=click.Path(path_type=Path, exists=True),
            help="Labelled images: a labels.csv (make, model, year, body_type, color columns) or a folder with one.",
        ),
        models_option,
        classifier_option,
        color_recognizer_option,
        click.option(
            "--body-type-model",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Also judge body types with this model's 'type' output (omz_vehicle_attributes_0039_72.onnx).",
        ),
        click.option(
            "--crop-margin",
            type=float,
            default=0.05,
            show_default=True,
            help="Context around each box for the classifiers (classifiers.crop_margin).",
        ),
        click.option(
            "--make-crop-margin",
            type=float,
            default=0.0,
            show_default=True,
            help="The make model's own margin (it reads the tight box best); applies to the make model of --models.",
        ),
        click.option(
            "--stored-margin",
            type=float,
            default=TRAFFIC_STORED_MARGIN,
            show_default=True,
            help="Margin the stored crops have around their box (x1,y1,x2,y2 columns); crops are re-cut from it.",
        ),
        click.option("--path-column", default="path", show_default=True, help="CSV column with the image paths."),
        click.option("--group-column", help="Rows with the same value are one vehicle (e.g. same_as; empty: own id)."),
        click.option("--fold-column", help="Cross-validate by this column (e.g. clip): fit on the others, score one."),
        click.option("--limit", type=int, help="Use only the first N images (a quick look)."),
        click.option("--batch-size", type=int, default=32, show_default=True, help="Images per inference call."),
        click.option(
            "--calibration",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Calibration file for the bank (classifiers.calibration); with --fold-column each fold fits its own.",
        ),
        click.option("--no-abstain", "abstain", flag_value=False, default=True, help="Heads never abstain."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def classifier_settings(args: CropArgs) -> ClassifierSettings:
    """The bank's settings from the flags."""
    from classifiers.settings import AbstentionSettings, ClassifierSettings

    overrides = model_overrides(args.models, None, args.classifiers, args.color_recognizer).get("classifiers", {})
    models: list[dict[str, Any]] = [dict(m) for m in overrides.get("models", [])]
    if args.make_crop_margin is not None and not args.classifiers:
        for model in models:
            if Path(model["model"]).name == DEFAULT_CLASSIFIERS[0]:
                model["crop_margin"] = args.make_crop_margin
    if args.body_type_model is not None:
        models.append({"model": str(args.body_type_model), "heads": ["type"]})
    if not models and args.color_recognizer is None:
        fail(f"no classifier: give --classifier FILE or --models DIR (or set {MODELS_ENV})")
    section: dict[str, Any] = {
        "models": [{**m, "providers": ["cpu"]} for m in models],
        "crop_margin": args.crop_margin,
        "calibration": args.calibration,
        "abstain": AbstentionSettings(enabled=args.abstain),
    }
    if "color_recognizer" in overrides:
        section["color_recognizer"] = {**overrides["color_recognizer"], "providers": ["cpu"]}
    return ClassifierSettings(**section)


def service_gate(image: NDArray[np.uint8], box: NDArray[np.float32]) -> float | None:
    """The view's quality score as the service weighs it in fusion; None where its gate refuses it as too small
    (blurry or cut views are classified too, after the schedule's patience, at their lower score)."""
    from streamer.recognize.quality import GateResult, assess_quality
    from streamer.recognize.settings import QualitySettings

    quality = assess_quality(image, box, QualitySettings())
    return None if quality.gate is GateResult.TOO_SMALL else quality.score


def read_labelled_crops(args: CropArgs) -> CropImages:
    """The labelled crops, read with their boxes, facts and quality weights (a progress bar on stderr)."""
    from tqdm import tqdm  # type: ignore[import-untyped]

    from classifiers.training.embed import read_image
    from watchlists.evaluation_data import load_crops
    from watchlists.evaluation_vehicles import read_crops

    crops = load_crops(
        args.data_path,
        path_column=args.path_column,
        group_column=args.group_column,
        fold_column=args.fold_column,
        limit=args.limit,
    )
    with tqdm(total=len(crops), desc="reading crops", unit="crop", file=sys.stderr, leave=False) as bar:
        return read_crops(crops, read_image, stored_margin=args.stored_margin, gate=service_gate, progress=bar.update)
