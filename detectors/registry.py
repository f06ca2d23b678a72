"""Detector plugins, chosen by the ``type`` key of the ``detector`` settings.

A new runtime or model family is a module with its detector class (implementing `detectors.base.Detector`), a
settings class whose ``type`` is a new literal, and one factory registered here; the service opens whatever
``type`` names through `open_detector`. The factories import their runtime (ONNX Runtime) only when called, so
importing this module is cheap.

Example:
    >>> detector = open_detector(DetectorSettings(model=Path("models/yolov8n_int8_640.onnx")))  # doctest: +SKIP
    >>> detector.detect([frame_bgr])[0].class_names  # doctest: +SKIP
    ('car', 'truck')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from common.plugins import PluginRegistry, PluginSettings
from detectors.settings import DetectorSettings

if TYPE_CHECKING:
    from detectors.base import Detector

__all__ = ["DETECTORS", "open_detector"]

FrameSizes = Sequence[tuple[int, int]]
"""The (height, width) of the frames a detector will see, where known (the cameras'): it may size its input to
them. Empty when unknown."""

DETECTORS: PluginRegistry[Callable[[Any, FrameSizes], Detector]] = PluginRegistry("detector")
"""Detector type → factory opening it from its settings (an instance of the settings class of that type) and the
frame sizes."""


@DETECTORS.plugin("yolo")
def _open_yolo(settings: DetectorSettings, frame_sizes: FrameSizes) -> Detector:
    from detectors.yolo import YoloDetector  # loads ONNX Runtime

    return YoloDetector.from_settings(settings, frame_sizes)


def open_detector(settings: PluginSettings, frame_sizes: FrameSizes = ()) -> Detector:
    """Opens, checks and warms up the detector that ``settings.type`` names, for frames of ``frame_sizes``.

    Raises:
        UnknownPluginError: no detector plugin has that type.
        ModelLoadError: the model is missing, corrupt or not what its plugin expects.
    """
    return DETECTORS.get(settings.type)(settings, frame_sizes)
