"""A running recognise API on loopback with tiny synthetic models (a fixed-box detector, colour and make heads)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from classifiers.settings import ClassifierSettings
from streamer.history.settings import HistorySettings
from streamer.web.review_api import CameraAdapter
from streamer.web.runtime import WebApi, start_web_api
from streamer.web.settings import JwtSettings, RecognizeSettings, WebSettings
from tests.synthetic_classifier import make_color_classifier, solid_bgr
from tests.synthetic_detector import fixed_box_settings, make_fixed_box_detector

TOKEN = "front-desk-token-0123456789"
OTHER_TOKEN = "night-shift-token-abcdefghij"
MAKES = ("Toyota", "Honda", "Ford")  # tied to red, green, blue by the synthetic classifier


def write_tokens(path: Path) -> Path:
    path.write_text(f"front-desk: {TOKEN}\nnight-shift: {OTHER_TOKEN}\n")
    return path


def png(image: NDArray[np.uint8]) -> bytes:
    ok, data = cv2.imencode(".png", image)
    assert ok
    return bytes(data)


def data_url(image: NDArray[np.uint8]) -> str:
    return "data:image/png;base64," + base64.b64encode(png(image)).decode()


def red_car(height: int = 96, width: int = 128) -> NDArray[np.uint8]:
    return solid_bgr("red", height, width)


@contextmanager
def running_api(
    tmp_path: Path,
    *,
    detector: bool = True,
    history: HistorySettings | None = None,
    jwt: JwtSettings | None = None,
    adapter: CameraAdapter | None = None,
    **recognize: Any,
) -> Iterator[WebApi]:
    """The API with a fixed-box detector (or none) and make + colour classifiers, on 127.0.0.1:<free port>."""
    models = [
        {"model": make_color_classifier(tmp_path / "color.onnx"), "providers": ("cpu",), "intra_op_threads": 1},
        {
            "model": make_color_classifier(tmp_path / "make.onnx", task="make", labels=MAKES),
            "providers": ("cpu",),
            "intra_op_threads": 1,
        },
    ]
    # Abstention off: the synthetic crops are small and flat, where the make head would (rightly) abstain.
    classifiers = ClassifierSettings(models=models, min_crop_size=8, abstain={"enabled": False})
    det = fixed_box_settings(make_fixed_box_detector(tmp_path / "det.onnx", (8, 16, 56, 48))) if detector else None
    settings = WebSettings(
        enabled=True,
        port=0,
        tokens_file=write_tokens(tmp_path / "tokens.yaml"),
        recognize=RecognizeSettings(**recognize),
        jwt=jwt,
    )
    api = start_web_api(settings, det, classifiers, history, adapter=adapter)
    try:
        yield api
    finally:
        api.stop()
