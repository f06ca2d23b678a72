"""One ONNX classifier: manifest checks against the graph, batching, softmax on logits, and the real models; the
synthetic-model tests run on ONNX Runtime and on OpenVINO."""

from __future__ import annotations

import contextlib
import csv
import json
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
import pytest
from numpy.typing import NDArray
from onnx import TensorProto, helper

from classifiers.onnx_classifier import OnnxClassifier, is_distribution, softmax
from classifiers.settings import ClassifierModelSettings
from detectors.runtime import ModelLoadError
from tests.conftest import shared_path
from tests.detectors.runtimes import RUNTIMES, dynamic_name
from tests.synthetic_classifier import COLORS_BGR, IR_VERSION, OPSET, RunCounter, make_color_classifier, solid_bgr

CPU = ("cpu",)


def open_classifier(path: Path, **settings: Any) -> OnnxClassifier:
    return OnnxClassifier(ClassifierModelSettings(model=path, providers=CPU, **settings))


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    """Each test taking it runs on ONNX Runtime and on OpenVINO (the classifiers' default precision, fp32)."""
    name: str = request.param
    return name


def rainbow(n: int) -> list[NDArray[np.uint8]]:
    """``n`` crops of different sizes cycling through red, green, blue."""
    names = list(COLORS_BGR)
    return [solid_bgr(names[i % 3], 20 + i, 30 + 2 * i) for i in range(n)]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="rgb-nchw-dynamic"),
        pytest.param({"color_order": "BGR"}, id="bgr"),
        pytest.param({"layout": "NHWC"}, id="nhwc"),
        pytest.param({"color_order": "BGR", "layout": "NHWC", "input_size": (24, 40)}, id="bgr-nhwc-not-square"),
        pytest.param({"batch": 1}, id="static-batch-1"),
        pytest.param({"batch": 4}, id="static-batch-4"),
        pytest.param({"metadata_in": "sidecar"}, id="sidecar"),
        pytest.param({"normalization": "std"}, id="std"),
        pytest.param({"embedding": True}, id="unlabelled-embedding-ignored"),
        pytest.param({"logits": True}, id="logits"),
        pytest.param({"float16_input": True, "layout": "NHWC"}, id="float16-input"),
    ],
)
def test_classifies_dominant_colour(tmp_path: Path, runtime: str, options: dict[str, Any]) -> None:
    clf = open_classifier(make_color_classifier(tmp_path / "c.onnx", **options), runtime=runtime)
    assert clf.runtime_name == runtime
    assert clf.heads == {"color": ("red", "green", "blue")}
    crops = rainbow(7)
    results = clf.classify(crops)
    assert [r["color"].top(1)[0].label for r in results] == ["red", "green", "blue"] * 2 + ["red"]
    for r in results:
        assert r["color"].probs.sum() == pytest.approx(1.0, abs=1e-5)
        assert r["color"].top(1)[0].prob > 0.99


def test_multi_output_heads_named_by_output(tmp_path: Path, runtime: str) -> None:
    clf = open_classifier(
        make_color_classifier(tmp_path / "a.onnx", multi_output=True, color_order="BGR"), runtime=runtime
    )
    assert clf.heads == {"color": ("red", "green", "blue"), "type": ("car", "bus", "truck")}
    result = clf.classify([solid_bgr("green")])[0]
    assert result["color"].top(1)[0].label == "green"
    assert result["type"].top(1)[0].label == "bus"


@pytest.mark.parametrize(
    ("options", "settings", "expected_heads", "error"),
    [
        pytest.param({}, {"name": "paint"}, ["paint"], None, id="name-overrides-task"),
        pytest.param({"multi_output": True}, {"heads": ("type",)}, ["type"], None, id="pick-one-output"),
        pytest.param(
            {"multi_output": True}, {"heads": ("type",), "name": "body"}, ["body"], None, id="rename-picked-output"
        ),
        pytest.param(
            {"multi_output": True}, {"heads": ("type", "color")}, ["type", "color"], None, id="order-of-heads-setting"
        ),
        pytest.param({"multi_output": True}, {"name": "x"}, None, "needs exactly one head", id="name-on-multi-output"),
        pytest.param({"embedding": True}, {"heads": ("embedding",)}, None, "has no labels", id="unlabelled-output"),
        pytest.param({}, {"heads": ("logits",)}, None, "lacks", id="unknown-output"),
    ],
)
def test_head_selection(
    tmp_path: Path,
    runtime: str,
    options: dict[str, Any],
    settings: dict[str, Any],
    expected_heads: list[str] | None,
    error: str | None,
) -> None:
    path = make_color_classifier(tmp_path / "m.onnx", **options)
    raises = pytest.raises(ModelLoadError, match=error) if error else contextlib.nullcontext()
    with raises:
        clf = open_classifier(path, runtime=runtime, **settings)
    if expected_heads is not None:
        assert list(clf.heads) == expected_heads
        assert list(clf.classify([solid_bgr("red")])[0]) == expected_heads


def rank3_model(path: Path) -> Path:
    """A model whose input is ``[batch, 3, 32]``: not an image classifier."""
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["input"], ["probs"], axes=[2], keepdims=0)],
        "rank3",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 32])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {"labels": '["a", "b", "c"]', "input_size": "32x32"})
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize(
    ("options", "error"),
    [
        pytest.param({"labels": None}, "no 'labels'", id="missing-labels"),
        pytest.param({"labels": json.dumps(["a", "b", "c", "d"])}, r"expected \[batch, 4\] \(4 labels\)", id="4-of-3"),
        pytest.param({"labels": json.dumps(["a", "b"])}, r"expected \[batch, 2\]", id="2-of-3"),
        pytest.param({"input_size": "64x64"}, "does not match the manifest's NCHW 64x64", id="wrong-input-size"),
        pytest.param({"input_layout": "NHWC"}, r"expected \[batch, 32, 32, 3\]", id="wrong-layout"),
        pytest.param({"color_order": "HSV"}, "color_order", id="bad-color-order"),
    ],
)
def test_manifest_checked_against_graph(tmp_path: Path, runtime: str, options: dict[str, Any], error: str) -> None:
    path = make_color_classifier(tmp_path / "bad.onnx", metadata_overrides=options)
    with pytest.raises(ModelLoadError, match=error) as caught:
        open_classifier(path, runtime=runtime)
    assert str(caught.value).startswith("classifier bad.onnx: ")


def test_rank3_input_rejected(tmp_path: Path, runtime: str) -> None:
    shape = f"[{dynamic_name(runtime)!r}, 3, 32]"
    with pytest.raises(ModelLoadError, match=re.escape(f"input must be rank 4 (NCHW), got shape {shape}")):
        open_classifier(rank3_model(tmp_path / "r3.onnx"), runtime=runtime)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        pytest.param(None, "classifier file not found", id="missing"),
        pytest.param(b"not an onnx file", "cannot load classifier", id="corrupt"),
    ],
)
def test_bad_files(tmp_path: Path, runtime: str, content: bytes | None, error: str) -> None:
    path = tmp_path / "x.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=error):
        open_classifier(path, runtime=runtime)


@pytest.mark.parametrize(
    ("model_batch", "max_batch", "n", "expected_batches"),
    [
        pytest.param(None, 32, 10, [10], id="one-call"),
        pytest.param(None, 4, 10, [4, 4, 2], id="chunks-of-max-batch"),
        pytest.param(None, 5, 10, [5, 5], id="exact-chunks"),
        pytest.param(1, 32, 3, [1, 1, 1], id="static-batch-1"),
        pytest.param(4, 32, 10, [4, 4, 4], id="static-batch-padded"),
        pytest.param(None, 32, 0, [], id="empty-input-no-call"),
    ],
)
def test_engine_runs_per_chunk(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    runtime: str,
    model_batch: int | None,
    max_batch: int,
    n: int,
    expected_batches: list[int],
) -> None:
    clf = open_classifier(
        make_color_classifier(tmp_path / "c.onnx", batch=model_batch), max_batch=max_batch, runtime=runtime
    )
    counter = RunCounter.install(clf.engine, monkeypatch)
    results = clf.classify(rainbow(n))
    assert counter.batches == expected_batches
    assert [r["color"].top(1)[0].label for r in results] == [["red", "green", "blue"][i % 3] for i in range(n)]


def test_logits_get_softmax_probabilities_do_not(tmp_path: Path, runtime: str) -> None:
    with_softmax = open_classifier(make_color_classifier(tmp_path / "p.onnx"), runtime=runtime)
    logits = open_classifier(make_color_classifier(tmp_path / "l.onnx", logits=True), runtime=runtime)
    assert [h.softmax for h in with_softmax.head_specs] == [False]
    assert [h.softmax for h in logits.head_specs] == [True]
    crops = [solid_bgr((40, 90, 200)), solid_bgr((10, 10, 10))]
    np.testing.assert_allclose(
        [r["color"].probs for r in logits.classify(crops)],
        [r["color"].probs for r in with_softmax.classify(crops)],
        atol=1e-6,
    )


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([[0.2, 0.8], [1.0, 0.0]], True),
        ([[0.2, 0.795]], True),  # fp16 rounding
        ([[2.0, -1.0]], False),  # sums to 1 but negative: logits
        ([[3.0, 1.0]], False),
        ([[0.1, 0.2]], False),  # sigmoid-like scores
    ],
)
def test_is_distribution(rows: list[list[float]], expected: bool) -> None:
    assert is_distribution(np.asarray(rows, np.float32)) is expected


def test_softmax_large_logits() -> None:
    probs = softmax(np.asarray([[1000.0, 0.0], [0.0, 0.0]], np.float32))
    np.testing.assert_allclose(probs, [[1.0, 0.0], [0.5, 0.5]])


def test_scores_are_read_only(tmp_path: Path) -> None:
    result = open_classifier(make_color_classifier(tmp_path / "c.onnx")).classify([solid_bgr("red")])[0]
    with pytest.raises(ValueError, match="read-only"):
        result["color"].probs[0] = 0.0


@pytest.mark.parametrize(
    "crop",
    [
        pytest.param(np.zeros((8, 8), np.uint8), id="grey"),
        pytest.param(np.zeros((8, 8, 3), np.float32), id="float"),
        pytest.param(np.zeros((0, 8, 3), np.uint8), id="empty"),
    ],
)
def test_bad_crop(tmp_path: Path, crop: NDArray[np.generic]) -> None:
    clf = open_classifier(make_color_classifier(tmp_path / "c.onnx"))
    with pytest.raises(ValueError, match="crop 1 must be a non-empty BGR"):
        clf.classify([solid_bgr("red"), crop])  # type: ignore[list-item]


# --- real models (../shared) ---

SPECTRICO_MAKE = "models/spectrico_make_mobilenetv3_224.onnx"
SPECTRICO_COLOR = "models/spectrico_color_mobilenetv3_224.onnx"
OMZ_ATTRIBUTES = "models/omz_vehicle_attributes_0039_72.onnx"


@pytest.fixture(scope="module")
def make_classifier() -> OnnxClassifier:
    return open_classifier(shared_path(SPECTRICO_MAKE))


def read_rows(labels_csv: Path) -> list[dict[str, str]]:
    with labels_csv.open(newline="") as f:
        return list(csv.DictReader(f))


def read_bgr(path: Path) -> NDArray[np.uint8]:
    image = cv2.imread(str(path))
    assert image is not None, f"cannot read {path}"
    return np.asarray(image, np.uint8)


def load_images(root: Path, rows: list[dict[str, str]]) -> list[NDArray[np.uint8]]:
    return [read_bgr(root / row["path"]) for row in rows]


@pytest.mark.shared
def test_real_make_accuracy_on_stanford_cars(make_classifier: OnnxClassifier) -> None:
    """40 crops spread over the 49 makes: measured top-1 0.95 / top-5 1.0 on 20, top-5 0.965 on 200.

    The model was probably trained on Stanford Cars, so this checks the wiring (order, preprocessing), not accuracy.
    """
    root = shared_path("datasets/stanford_cars_dev")
    rows = read_rows(root / "labels.csv")
    rows = rows[:: len(rows) // 40][:40]
    results = make_classifier.classify(load_images(root, rows))
    assert make_classifier.head_specs[0].softmax is False  # `probs` is already a softmax output
    # Stanford Cars spells some makes differently (FIAT, HUMMER, smart): compare case-insensitively.
    truth = [row["make"].lower() for row in rows]
    top1 = np.mean([r["make"].top(1)[0].label.lower() == t for r, t in zip(results, truth, strict=True)])
    top5 = np.mean([t in {s.label.lower() for s in r["make"].top(5)} for r, t in zip(results, truth, strict=True)])
    assert top1 >= 0.8
    assert top5 >= 0.9


def colour_rows(color: str, n: int) -> list[dict[str, str]]:
    root = shared_path("datasets/vehicle_colors_dev")
    return [row for row in read_rows(root / "labels.csv") if row["color"] == color][:n]


@pytest.mark.shared
@pytest.mark.parametrize("color", ["red", "white"])
@pytest.mark.parametrize(
    ("model", "expected_heads"), [(SPECTRICO_COLOR, ["color"]), (OMZ_ATTRIBUTES, ["color", "type"])]
)
def test_real_colour_models(model: str, expected_heads: list[str], color: str) -> None:
    """Five clearly red / white cars come out right on both colour models (the OMZ one takes BGR 0..255)."""
    clf = open_classifier(shared_path(model))
    assert list(clf.heads) == expected_heads
    root = shared_path("datasets/vehicle_colors_dev")
    results = clf.classify(load_images(root, colour_rows(color, 5)))
    assert [r["color"].top(1)[0].label for r in results] == [color] * 5


@pytest.mark.shared
@pytest.mark.parametrize("model", [SPECTRICO_MAKE, OMZ_ATTRIBUTES])
def test_real_batch_equals_one_by_one(model: str) -> None:
    clf = open_classifier(shared_path(model), max_batch=8)
    root = shared_path("datasets/vehicle_colors_dev")
    rows = colour_rows("red", 4) + colour_rows("blue", 4) + colour_rows("yellow", 3)
    crops = load_images(root, rows)
    crops = [c[: c.shape[0] // (1 + i % 2)] for i, c in enumerate(crops)]  # mixed sizes in one batch
    batched = clf.classify(crops)
    single = [clf.classify([crop])[0] for crop in crops]
    for b, s in zip(batched, single, strict=True):
        assert b.keys() == s.keys()
        for head in b:
            np.testing.assert_allclose(b[head].probs, s[head].probs, rtol=1e-4, atol=1e-5)
