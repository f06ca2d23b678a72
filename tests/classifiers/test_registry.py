"""Crop classifier plugins by ``type``: the built-in ones, one registered by a test, unknown types, lazy imports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict

from classifiers.bank import ClassifierBank
from classifiers.base import CropClassifier
from classifiers.color.recognizer import ColorRecognizer
from classifiers.color.settings import ColorRecognizerSettings
from classifiers.crops import ImageArray
from classifiers.onnx_classifier import OnnxClassifier
from classifiers.registry import CLASSIFIERS, ClassifierFactory, open_classifier
from classifiers.settings import ClassifierModelSettings, ClassifierSettings
from classifiers.types import HeadScores
from common.plugins import UnknownPluginError
from detectors.runtime import ModelLoadError
from tests.classifiers.test_color_recognizer import recognizer_file
from tests.synthetic_classifier import make_color_classifier, solid_bgr

ROOT = Path(__file__).resolve().parents[2]
CPU = ("cpu",)


class FakeClassifierSettings(BaseModel):
    """A plugin's own settings class, with its own literal type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["fake"] = "fake"
    label: str = "red"


class FakeClassifier:
    """Says ``label`` for every crop, on one head; remembers the crop margin it was opened with."""

    def __init__(self, label: str, crop_margin: float, path: Path = Path("fake.bin"), head: str = "fake") -> None:
        self.label = label
        self.crop_margin = crop_margin
        self.path = path
        self.head = head

    @property
    def heads(self) -> dict[str, tuple[str, ...]]:
        return {self.head: ("red", "blue")}

    def classify(self, crops: Sequence[ImageArray]) -> list[dict[str, HeadScores]]:
        probs = np.array([1.0, 0.0] if self.label == "red" else [0.0, 1.0], np.float32)
        return [{self.head: HeadScores(self.head, ("red", "blue"), probs)} for _ in crops]


def open_fake(settings: FakeClassifierSettings, *, crop_margin: float) -> CropClassifier:
    return FakeClassifier(settings.label, crop_margin)


@pytest.fixture
def fake_plugin() -> Iterator[None]:
    CLASSIFIERS.register("fake", open_fake)
    yield
    CLASSIFIERS.unregister("fake")


@pytest.fixture
def fake_onnx_plugin() -> Iterator[list[Any]]:
    """The ``onnx`` type replaced by a fake that records the settings it opens."""
    opened: list[Any] = []
    original = CLASSIFIERS.get("onnx")

    def open_recording(settings: ClassifierModelSettings, *, crop_margin: float) -> CropClassifier:
        opened.append(settings)
        return FakeClassifier("blue", crop_margin, settings.model, settings.name or settings.model.stem)

    CLASSIFIERS.unregister("onnx")
    CLASSIFIERS.register("onnx", open_recording)
    yield opened
    CLASSIFIERS.unregister("onnx")
    CLASSIFIERS.register("onnx", original)


def test_the_onnx_type_opens_an_onnx_classifier(tmp_path: Path) -> None:
    settings = ClassifierModelSettings(model=make_color_classifier(tmp_path / "c.onnx"), providers=CPU)
    assert settings.type == "onnx"
    clf = open_classifier(settings)
    assert isinstance(clf, OnnxClassifier)
    assert isinstance(clf, CropClassifier)
    assert clf.classify([solid_bgr("red")])[0]["color"].top(1)[0].label == "red"


def test_the_color_recognizer_type_opens_a_recognizer_with_the_crop_margin(tmp_path: Path) -> None:
    settings = ColorRecognizerSettings(file=recognizer_file(tmp_path), providers=CPU)
    assert settings.type == "color_recognizer"
    clf = open_classifier(settings, crop_margin=0.2)
    assert isinstance(clf, ColorRecognizer)
    assert clf.crop_margin == 0.2
    assert set(clf.heads) == {"color", "color_shade"}


def test_a_missing_recognizer_file_is_a_model_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"none\.yaml") as error:
        open_classifier(ColorRecognizerSettings(file=tmp_path / "none.yaml"))
    assert "\n" not in str(error.value)


def test_a_registered_plugin_is_picked_by_its_type(fake_plugin: None) -> None:
    clf = open_classifier(FakeClassifierSettings(label="blue"), crop_margin=0.3)
    assert isinstance(clf, FakeClassifier)
    assert clf.crop_margin == 0.3
    assert clf.classify([solid_bgr("red")])[0]["fake"].top(1)[0].label == "blue"
    assert CLASSIFIERS.types == ("color_recognizer", "fake", "onnx")


def test_the_bank_opens_every_model_through_the_registry(fake_onnx_plugin: list[Any]) -> None:
    models = (ClassifierModelSettings(model=Path("a.onnx")), ClassifierModelSettings(model=Path("b.onnx"), name="x"))
    bank = ClassifierBank.from_settings(ClassifierSettings(models=models, crop_margin=0.15))
    assert fake_onnx_plugin == list(models)
    assert [clf.path for clf in bank.classifiers] == [Path("a.onnx"), Path("b.onnx")]
    assert all(isinstance(clf, FakeClassifier) and clf.crop_margin == 0.15 for clf in bank.classifiers)
    assert set(bank.heads) == {"a", "x"}


def test_the_bank_rejects_two_plugins_with_the_same_head(fake_onnx_plugin: list[Any]) -> None:
    models = (
        ClassifierModelSettings(model=Path("a.onnx"), name="x"),
        ClassifierModelSettings(model=Path("b.onnx"), name="x"),
    )
    with pytest.raises(ModelLoadError, match=r"classifier head 'x' comes from both a\.onnx and b\.onnx"):
        ClassifierBank.from_settings(ClassifierSettings(models=models))


def test_an_unknown_type_is_rejected_naming_the_known_types() -> None:
    with pytest.raises(
        UnknownPluginError, match=r"^unknown classifier type 'fake'; known types: color_recognizer, onnx$"
    ):
        open_classifier(FakeClassifierSettings())


def test_a_type_cannot_be_registered_twice() -> None:
    factory: ClassifierFactory = open_fake
    with pytest.raises(ValueError, match="classifier type 'onnx' is already registered"):
        CLASSIFIERS.register("onnx", factory)


@pytest.mark.parametrize("settings_class", [ClassifierModelSettings, ColorRecognizerSettings])
def test_every_type_the_settings_accept_has_a_plugin(settings_class: type[BaseModel]) -> None:
    accepted = get_args(settings_class.model_fields["type"].annotation)
    assert accepted
    assert set(accepted) <= set(CLASSIFIERS.types)


def test_importing_the_registry_loads_no_model_runtime() -> None:
    code = "import sys, classifiers.registry; print(sorted({'onnxruntime', 'cv2'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
