"""`vehiclewatch detect` and `vehiclewatch classify`: try the models on one image and print JSON.

They open the models the way the service does (``detectors.registry.open_detector``, ``ClassifierBank.from_settings``),
so what they print is what `run` would see on that image.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import cv2
import numpy as np
from numpy.typing import NDArray

from streamer.cli.defaults import MODELS_ENV, model_overrides, require_detector
from streamer.cli.errors import clear_errors, fail
from streamer.cli.options import classifier_option, color_recognizer_option, detector_option, models_option

if TYPE_CHECKING:
    from classifiers.bank import ClassifierBank
    from classifiers.types import Classification
    from detectors.settings import DetectorSettings
    from detectors.types import Detections


def read_image(path: Path) -> NDArray[np.uint8]:
    """The image at ``path`` as BGR; bad input (exit 2) when it is missing or cannot be decoded."""
    if not path.is_file():
        fail(f"image not found: {path}")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        fail(f"cannot decode image: {path}")
    return np.asarray(image, np.uint8)


def detector_settings(models: Path | None, detector: Path | None, confidence: float | None) -> DetectorSettings:
    """The detector the flags name, with ``--confidence`` applied."""
    from detectors.settings import DetectorSettings

    values = dict(require_detector(model_overrides(models, detector, ())))
    if confidence is not None:
        values["confidence"] = confidence
    return DetectorSettings(**values)


def _box(box: NDArray[np.float32]) -> list[float]:
    return [round(float(v), 1) for v in box]


def _annotate(picture: NDArray[np.uint8], found: Detections, path: Path) -> None:
    for box, name in zip(found.boxes.astype(int), found.class_names, strict=True):
        cv2.rectangle(picture, (box[0], box[1]), (box[2], box[3]), (0, 255, 0), 2)
        cv2.putText(picture, name, (box[0], max(box[1] - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 0), 1)
    cv2.imwrite(str(path), picture)


@click.command()
@click.argument("image", type=click.Path(path_type=Path, dir_okay=False))
@models_option
@detector_option
@click.option("--confidence", type=float, help="Minimum box score (default 0.35).")
@click.option("--annotate", type=click.Path(path_type=Path, dir_okay=False), help="Also write the image with boxes.")
def detect(
    image: Path, models: Path | None, detector: Path | None, confidence: float | None, annotate: Path | None
) -> None:
    """Detect vehicles in IMAGE and print them as JSON."""
    from detectors.registry import open_detector
    from streamer.service.config import configure_logging
    from streamer.sources.native_logging import quiet_native_logging

    configure_logging("WARNING")
    quiet_native_logging()  # FFmpeg's and OpenCV's own lines: the one-line error says what failed
    picture = read_image(image)
    with clear_errors():
        found = open_detector(detector_settings(models, detector, confidence)).detect([picture])[0]
    rows = [
        {"box": _box(box), "class": name, "confidence": round(float(score), 4)}
        for box, name, score in zip(found.boxes, found.class_names, found.scores, strict=True)
    ]
    click.echo(json.dumps({"image": str(image), "vehicles": rows}, indent=2))
    if annotate is not None:
        _annotate(picture, found, annotate)


def _heads(c: Classification | None, top_k: int) -> dict[str, list[dict[str, Any]]] | None:
    if c is None:
        return None
    return {h: [{"label": s.label, "prob": round(s.prob, 4)} for s in top] for h, top in c.top(top_k).items()}


def _classify_boxes(
    bank: ClassifierBank, picture: NDArray[np.uint8], settings: DetectorSettings, top_k: int
) -> list[dict[str, Any]]:
    """Every vehicle the detector finds in ``picture``, with its box's classification."""
    from detectors.registry import open_detector

    found = open_detector(settings).detect([picture])[0]
    per_box = bank.classify_boxes([(picture, found)]).frames[0]
    return [
        {"box": _box(box), "class": name, "classification": _heads(c, top_k)}
        for box, name, c in zip(found.boxes, found.class_names, per_box, strict=True)
    ]


@click.command()
@click.argument("image", type=click.Path(path_type=Path, dir_okay=False))
@models_option
@detector_option
@classifier_option
@color_recognizer_option
@click.option("--detect/--whole", "run_detector", default=False, help="Detect vehicles first and classify each box.")
@click.option("--top-k", type=int, default=3, show_default=True, help="Labels per head.")
def classify(
    image: Path,
    models: Path | None,
    detector: Path | None,
    classifiers: tuple[Path, ...],
    color_recognizer: Path | None,
    run_detector: bool,
    top_k: int,
) -> None:
    """Classify IMAGE (a vehicle photo, or with --detect every vehicle in it) and print JSON."""
    from classifiers.bank import ClassifierBank
    from classifiers.settings import ClassifierSettings
    from streamer.service.config import configure_logging
    from streamer.sources.native_logging import quiet_native_logging

    configure_logging("WARNING")
    quiet_native_logging()  # FFmpeg's and OpenCV's own lines: the one-line error says what failed
    picture = read_image(image)
    overrides = model_overrides(models, None, classifiers, color_recognizer)
    if not overrides.get("classifiers", {}).get("models") and color_recognizer is None:
        fail(f"no classifier: give --classifier FILE or --models DIR (or set {MODELS_ENV})")
    result: dict[str, Any] = {"image": str(image)}
    with clear_errors():
        bank = ClassifierBank.from_settings(ClassifierSettings(**overrides["classifiers"]))
        if run_detector:
            result["vehicles"] = _classify_boxes(bank, picture, detector_settings(models, detector, None), top_k)
        else:
            result["classification"] = _heads(bank.classify_images([picture])[0], top_k)
    click.echo(json.dumps(result, indent=2))
