"""A colour recogniser file as an ``eval`` classifier: ``vehiclewatch eval out/color/recognizer.yaml DATA``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from classifiers.color.labels import COLOR_LABELS
from classifiers.color.recognizer import COLOR_HEAD, ColorRecognizer, RecognizerFileError
from classifiers.evaluation.predict import Classifier, EvaluationError

RECOGNIZER_SUFFIXES = frozenset({".yaml", ".yml"})


def is_recognizer_file(path: Path) -> bool:
    """Whether ``path`` names a colour recogniser file rather than an ONNX model."""
    return path.suffix.lower() in RECOGNIZER_SUFFIXES


def open_recognizer_classifier(
    path: Path, *, crop_margin: float, providers: Sequence[str] = ("cpu",), batch_size: int = 32
) -> Classifier:
    """Opens the recogniser as an evaluation ``Classifier`` whose ``color`` output scores images.

    Args:
        path: the recogniser file.
        crop_margin: the margin the evaluated images were cut with around the vehicle box (0 for whole photos).
        providers: ONNX Runtime providers for its member models.
        batch_size: crops per member inference call.

    Raises:
        EvaluationError: the file is missing or invalid.
        ModelLoadError: a member model cannot be opened.
    """
    try:
        recognizer = ColorRecognizer.from_file(path, crop_margin=crop_margin, providers=providers, max_batch=batch_size)
    except RecognizerFileError as exc:
        raise EvaluationError(str(exc)) from exc

    def score(images: Sequence[NDArray[np.uint8]]) -> NDArray[np.float64]:
        return np.stack([r.probs for r in recognizer.recognize(images)]).astype(np.float64)

    return Classifier(
        path=path,
        session=None,
        manifest=None,
        output=COLOR_HEAD,
        labels=COLOR_LABELS,
        task="color",
        score_images=score,
    )
