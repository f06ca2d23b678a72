"""Crop classifier plugins, chosen by the ``type`` key of their settings; `open_classifier` is the way to open one.

Built in: ``onnx`` (an entry of ``classifiers.models``: `classifiers.onnx_classifier.OnnxClassifier`) and
``color_recognizer`` (``classifiers.color_recognizer``: `classifiers.color.recognizer.ColorRecognizer`). A new
model family is a module with its classifier class (implementing `classifiers.base.CropClassifier`), a settings
class whose ``type`` is a new literal, and one factory registered here. The factories import their runtime
(ONNX Runtime or OpenVINO, OpenCV) only when called, so importing this module is cheap.

Example:
    >>> clf = open_classifier(ClassifierModelSettings(model=Path("models/make.onnx")))  # doctest: +SKIP
    >>> clf.classify([crop_bgr])[0]["make"].top(1)  # doctest: +SKIP
    [LabelScore(label='Honda', prob=0.82)]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from classifiers.color.settings import ColorRecognizerSettings
from classifiers.settings import DEFAULT_CROP_MARGIN, ClassifierModelSettings
from common.plugins import PluginRegistry, PluginSettings

if TYPE_CHECKING:
    from classifiers.base import CropClassifier

__all__ = ["CLASSIFIERS", "ClassifierFactory", "open_classifier"]


class ClassifierFactory(Protocol):
    """Opens a classifier from its settings (an instance of the settings class of the factory's type)."""

    def __call__(self, settings: Any, /, *, crop_margin: float) -> CropClassifier:
        """``crop_margin``: the context the crops are cut with around each box (``classifiers.crop_margin``)."""
        ...


CLASSIFIERS: PluginRegistry[ClassifierFactory] = PluginRegistry("classifier")
"""Classifier type → factory."""


@CLASSIFIERS.plugin("onnx")
def _open_onnx(settings: ClassifierModelSettings, *, crop_margin: float) -> CropClassifier:  # noqa: ARG001
    from classifiers.onnx_classifier import OnnxClassifier  # loads the inference engines

    return OnnxClassifier(settings)


@CLASSIFIERS.plugin("color_recognizer")
def _open_color_recognizer(settings: ColorRecognizerSettings, *, crop_margin: float) -> CropClassifier:
    from classifiers.color.recognizer import ColorRecognizer  # loads ONNX Runtime and OpenCV
    from detectors.runtime import ModelLoadError

    try:
        return ColorRecognizer.from_file(
            settings.file,
            crop_margin=crop_margin,
            providers=settings.providers,
            max_batch=settings.max_batch,
            runtime=settings.runtime,
        )
    except ValueError as exc:  # a missing or invalid recogniser file: one line, like a bad model
        raise ModelLoadError(str(exc).splitlines()[0]) from exc


def open_classifier(settings: PluginSettings, *, crop_margin: float = DEFAULT_CROP_MARGIN) -> CropClassifier:
    """Opens, checks and warms up the crop classifier that ``settings.type`` names.

    Args:
        settings: the plugin's settings, e.g. a `ClassifierModelSettings` (type ``onnx``).
        crop_margin: the context crops are cut with around each box, for plugins that look at it (the colour
            recogniser white-balances on the road around the vehicle); whole images: 0.

    Raises:
        UnknownPluginError: no classifier plugin has that type.
        ModelLoadError: a model or file is missing, corrupt or not what its plugin expects.
    """
    return CLASSIFIERS.get(settings.type)(settings, crop_margin=crop_margin)
