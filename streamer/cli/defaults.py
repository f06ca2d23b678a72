"""Which model files the commands use when told only a folder, and how the model flags become settings.

Shared by `run`, `detect`, `classify`, `bench` and `watchlist`, so the default files and the ``VEHICLEWATCH_MODELS``
variable are named once; this module imports no command module, so every command module may import it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from streamer.cli.errors import fail

# The files `--models DIR` picks up: the detector and the make and colour classifiers of shared/models/README.md.
# The detector by measurement (`vehiclewatch bench --runtimes`, README): the float file is the fastest that agrees
# with fp32 ONNX Runtime (OpenVINO bf16 on a CPU, CUDA/TensorRT on a GPU); the int8 file is taken only without it.
DEFAULT_DETECTORS = ("yolov8n_640_dynbatch_dequant_fp32.onnx", "yolov8n_int8_640.onnx")
DEFAULT_DETECTOR = DEFAULT_DETECTORS[0]
DEFAULT_CLASSIFIERS = ("spectrico_make_mobilenetv3_224.onnx", "spectrico_color_mobilenetv3_224.onnx")
MODELS_ENV = "VEHICLEWATCH_MODELS"


def default_models_dir() -> Path | None:
    """The folder ``$VEHICLEWATCH_MODELS`` names, if set (the default of every ``--models`` option)."""
    value = os.environ.get(MODELS_ENV)
    return Path(value) if value else None


def default_classifier_files(models: Path, with_color: bool = True) -> list[Path]:
    """The default classifiers found in ``models``; ``with_color=False`` leaves the colour model out (a colour
    recogniser replaces it)."""
    names = DEFAULT_CLASSIFIERS if with_color else DEFAULT_CLASSIFIERS[:1]
    return [models / name for name in names if (models / name).is_file()]


def model_overrides(
    models: Path | None, detector: Path | None, classifiers: Sequence[Path], color_recognizer: Path | None = None
) -> dict[str, Any]:
    """Settings from the model flags: ``--models DIR`` picks the default files there, the others name files."""
    out: dict[str, Any] = {}
    if models is not None:
        if not models.is_dir():
            fail(f"--models: not a directory: {models}")
        detector_file = next(
            (models / n for n in DEFAULT_DETECTORS if (models / n).is_file()), models / DEFAULT_DETECTOR
        )
        out["detector"] = {"model": str(detector_file)}
        # The recogniser produces the 'color' head, so --models leaves its own colour model out.
        found = default_classifier_files(models, with_color=color_recognizer is None)
        out["classifiers"] = {"models": [{"model": str(p)} for p in found]}
    if detector is not None:
        out.setdefault("detector", {})["model"] = str(detector)
    if classifiers:
        out["classifiers"] = {"models": [{"model": str(p)} for p in classifiers]}
    if color_recognizer is not None:
        out.setdefault("classifiers", {})["color_recognizer"] = {"file": str(color_recognizer)}
    return out


def require_detector(overrides: dict[str, Any]) -> dict[str, Any]:
    """The detector section of ``overrides``; bad input (exit 2) when no flag named one."""
    if "detector" not in overrides:
        fail(f"no detector: give --detector FILE or --models DIR (or set {MODELS_ENV})")
    section: dict[str, Any] = overrides["detector"]
    return section
