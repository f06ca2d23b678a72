"""Crop classifiers on OpenVINO give ONNX Runtime's answers: synthetic models always, the real ones from ../shared;
the ``runtime`` setting reaches the colour recogniser's members too."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from classifiers.color.recognizer import ColorRecognizer
from classifiers.color.settings import ColorRecognizerSettings
from classifiers.onnx_classifier import OnnxClassifier
from classifiers.registry import open_classifier
from classifiers.settings import ClassifierModelSettings
from detectors.engines.selection import openvino_available
from tests.classifiers.test_color_recognizer import MARGIN, recognizer_file
from tests.conftest import shared_path
from tests.detectors.runtimes import OPENVINO_MISSING, RUNTIMES
from tests.synthetic_classifier import COLORS_BGR, make_color_classifier, solid_bgr

pytestmark = pytest.mark.skipif(not openvino_available(), reason=OPENVINO_MISSING)

CPU = ("cpu",)


def classifier(path: Path, runtime: str, **settings: Any) -> OnnxClassifier:
    return OnnxClassifier(ClassifierModelSettings(model=path, providers=CPU, runtime=runtime, **settings))


def mixed_crops(n: int, seed: int = 0) -> list[NDArray[np.uint8]]:
    """Crops of several sizes whose colours are mixtures, so that the probabilities are not all ~1."""
    rng = np.random.default_rng(seed)
    crops = []
    for i in range(n):
        bgr = rng.integers(0, 256, 3)
        crop = np.empty((16 + 3 * i, 24 + 2 * i, 3), np.uint8)
        crop[:] = bgr
        crops.append(crop + rng.integers(0, 20, crop.shape, dtype=np.uint8))
    return crops


def top1(results: list[dict[str, Any]], head: str) -> list[str]:
    return [r[head].top(1)[0].label for r in results]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="dynamic-batch"),
        pytest.param({"batch": 4}, id="static-batch-4"),
        pytest.param({"layout": "NHWC", "color_order": "BGR"}, id="nhwc-bgr"),
        pytest.param({"multi_output": True, "embedding": True}, id="two-heads-and-embedding"),
        pytest.param({"logits": True, "gain": 3.0}, id="logits"),
        pytest.param({"float16_input": True}, id="float16-input"),
    ],
)
@pytest.mark.parametrize("requests", [1, 2])
def test_same_answers_as_onnx_runtime(tmp_path: Path, options: dict[str, Any], requests: int) -> None:
    path = make_color_classifier(tmp_path / "c.onnx", **{"gain": 4.0, **options})
    reference = classifier(path, "onnxruntime", max_batch=8)
    openvino = classifier(path, "openvino", max_batch=8, infer_requests=requests)
    assert (openvino.runtime_name, openvino.device, openvino.precision) == ("openvino", "CPU", "fp32")
    crops = mixed_crops(11)
    expected = reference.classify(crops)
    got = openvino.classify(crops)
    for head in reference.heads:
        assert top1(got, head) == top1(expected, head)
        np.testing.assert_allclose(
            [r[head].probs for r in got],
            [r[head].probs for r in expected],
            atol=1e-3 if options.get("float16_input") else 1e-5,  # float16 pixels round alike, not bit for bit
        )


def test_same_top1_at_openvinos_own_precision(tmp_path: Path) -> None:
    """``precision: auto`` (bf16 where the CPU has it): the same top-1 on crops that are not near a tie."""
    path = make_color_classifier(tmp_path / "c.onnx")
    crops = [solid_bgr(name, 20 + i, 30) for i, name in enumerate(list(COLORS_BGR) * 3)]
    expected = classifier(path, "onnxruntime").classify(crops)
    openvino = classifier(path, "openvino", precision="auto")
    assert openvino.precision in {"fp32", "bf16", "fp16"}
    assert top1(openvino.classify(crops), "color") == top1(expected, "color")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_colour_recogniser_members_run_on_the_runtime(tmp_path: Path, runtime: str) -> None:
    settings = ColorRecognizerSettings(file=recognizer_file(tmp_path), providers=CPU, runtime=runtime)
    recognizer = open_classifier(settings, crop_margin=MARGIN)
    assert isinstance(recognizer, ColorRecognizer)
    assert (recognizer.runtime_name, recognizer.precision) == (runtime, "fp32")
    reference = ColorRecognizer.from_file(recognizer.path, crop_margin=MARGIN, providers=CPU, runtime="onnxruntime")
    crops = mixed_crops(6)
    for a, b in zip(recognizer.recognize(crops), reference.recognize(crops), strict=True):
        np.testing.assert_allclose(a.probs, b.probs, atol=1e-5)


def test_settings_defaults() -> None:
    settings = ClassifierModelSettings(model=Path("m.onnx"))
    assert (settings.runtime, settings.precision, settings.infer_requests) == ("auto", "fp32", 2)
    assert ColorRecognizerSettings(file=Path("r.yaml")).runtime == "auto"


# --- real models (../shared) ---

SPECTRICO_MAKE = "models/spectrico_make_mobilenetv3_224.onnx"


def stanford_crops(n: int) -> list[NDArray[np.uint8]]:
    root = shared_path("datasets/stanford_cars_dev")
    with (root / "labels.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    crops = []
    for row in rows[:: len(rows) // n][:n]:
        image = cv2.imread(str(root / row["path"]))
        assert image is not None, row["path"]
        crops.append(np.asarray(image, np.uint8))
    return crops


@pytest.fixture(scope="module")
def make_crops() -> list[NDArray[np.uint8]]:
    return stanford_crops(40)


@pytest.fixture(scope="module")
def make_reference(make_crops: list[NDArray[np.uint8]]) -> list[str]:
    return top1(classifier(shared_path(SPECTRICO_MAKE), "onnxruntime").classify(make_crops), "make")


@pytest.mark.shared
def test_real_make_model_fp32_gives_the_same_top1(
    make_crops: list[NDArray[np.uint8]], make_reference: list[str]
) -> None:
    openvino = classifier(shared_path(SPECTRICO_MAKE), "openvino")
    assert openvino.precision == "fp32"
    assert top1(openvino.classify(make_crops), "make") == make_reference


@pytest.mark.shared
def test_real_make_model_bf16_mostly_gives_the_same_top1(
    make_crops: list[NDArray[np.uint8]], make_reference: list[str]
) -> None:
    """bf16 changed the top-1 of 2.8 % of 1000 Stanford crops (measured): near-ties flip."""
    openvino = classifier(shared_path(SPECTRICO_MAKE), "openvino", precision="auto")
    got = top1(openvino.classify(make_crops), "make")
    agreement = np.mean([a == b for a, b in zip(got, make_reference, strict=True)])
    assert agreement >= 0.9, f"{openvino.precision}: top-1 agreement {agreement:.3f}"
