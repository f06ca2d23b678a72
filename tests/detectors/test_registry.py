"""Detector plugins by ``type``: the built-in YOLO one, one registered by a test, unknown types, lazy imports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pytest
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from common.plugins import UnknownPluginError
from detectors.base import Detector
from detectors.letterbox import Letterbox
from detectors.registry import DETECTORS, open_detector
from detectors.settings import DetectorSettings
from detectors.types import Detections
from detectors.yolo import YoloDetector
from tests.synthetic_detector import detections_of, fixed_box_settings, make_fixed_box_detector

ROOT = Path(__file__).resolve().parents[2]


class FakeDetectorSettings(BaseModel):
    """A plugin's own settings class, with its own literal type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["fake"] = "fake"
    boxes: int = 1


class FakeDetector:
    """Finds ``settings.boxes`` cars in every image."""

    def __init__(self, settings: FakeDetectorSettings, frame_sizes: Sequence[tuple[int, int]] = ()) -> None:
        self.settings = settings
        self.frame_sizes = frame_sizes

    @property
    def max_batch(self) -> int:
        return 2

    def preprocess(self, images: Sequence[NDArray[np.uint8]]) -> tuple[NDArray[Any], list[Letterbox]]:
        return np.zeros((len(images), 3, 8, 8), np.float32), [Letterbox.fit(i.shape[:2], (8, 8)) for i in images]

    def infer(self, tensor: NDArray[Any]) -> NDArray[Any]:
        return tensor

    def postprocess(self, output: NDArray[Any], letterboxes: Sequence[Letterbox]) -> list[Detections]:
        return [detections_of(*[(0, 0, 4, 4)] * self.settings.boxes) for _ in letterboxes]

    def detect(self, images: Sequence[NDArray[np.uint8]]) -> list[Detections]:
        tensor, letterboxes = self.preprocess(images)
        return self.postprocess(self.infer(tensor), letterboxes)


@pytest.fixture
def fake_plugin() -> Iterator[None]:
    DETECTORS.register("fake", FakeDetector)
    yield
    DETECTORS.unregister("fake")


def test_the_yolo_type_opens_a_warmed_up_yolo_detector(tmp_path: Path) -> None:
    settings = fixed_box_settings(make_fixed_box_detector(tmp_path / "m.onnx", (16, 16, 48, 40)))
    assert settings.type == "yolo"
    detector = open_detector(settings)
    assert isinstance(detector, YoloDetector)
    assert isinstance(detector, Detector)
    (found,) = detector.detect([np.full((64, 64, 3), 255, np.uint8)])
    assert found.class_names == ("car",)


def test_a_registered_plugin_is_picked_by_its_type(fake_plugin: None) -> None:
    detector = open_detector(FakeDetectorSettings(boxes=3))
    assert isinstance(detector, FakeDetector)
    assert isinstance(detector, Detector)
    assert [len(d) for d in detector.detect([np.zeros((16, 16, 3), np.uint8)] * 2)] == [3, 3]
    assert DETECTORS.types == ("fake", "yolo")


def test_an_unknown_type_is_rejected_naming_the_known_types() -> None:
    with pytest.raises(UnknownPluginError, match=r"^unknown detector type 'fake'; known types: yolo$"):
        open_detector(FakeDetectorSettings())


def test_a_type_cannot_be_registered_twice() -> None:
    with pytest.raises(ValueError, match="detector type 'yolo' is already registered"):
        DETECTORS.register("yolo", FakeDetector)


def test_every_type_the_settings_accept_has_a_plugin() -> None:
    accepted = get_args(DetectorSettings.model_fields["type"].annotation)
    assert accepted
    assert set(accepted) <= set(DETECTORS.types)


def test_importing_the_registry_loads_no_model_runtime() -> None:
    code = "import sys, detectors.registry; print(sorted({'onnxruntime', 'openvino', 'cv2'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
