"""`YoloDetector` on real ONNX Runtime and OpenVINO with synthetic models: loading errors, batching, layouts,
filters."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from detectors.base import Detector
from detectors.engines.base import EngineOptions
from detectors.engines.selection import open_engine
from detectors.providers import RuntimeName
from detectors.runtime import ModelLoadError
from detectors.settings import DetectorSettings
from detectors.yolo import YoloDetector, parse_imgsz, parse_names
from tests.detectors.runtimes import RUNTIMES, dynamic_name, exact
from tests.synthetic_classifier import RunCounter
from tests.synthetic_detector import (
    SYNTHETIC_NAMES,
    default_metadata,
    encode_output,
    expected_box,
    fixed_box_settings,
    make_constant_output_onnx,
    make_fixed_box_detector,
    make_yolo_onnx,
    write_corrupt_model,
)

BOX = (8.0, 16.0, 56.0, 48.0)  # in the 64x64 input
C = len(SYNTHETIC_NAMES)


def _image(h: int, w: int, value: int = 255) -> NDArray[np.uint8]:
    return np.full((h, w, 3), value, np.uint8)


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> RuntimeName:
    """Each test taking it runs on ONNX Runtime and on OpenVINO (fp32, see `tests.detectors.runtimes`)."""
    name: RuntimeName = request.param
    return name


def _open(path: Path, runtime: str, **overrides: Any) -> YoloDetector:
    return YoloDetector.from_settings(fixed_box_settings(path, **exact(runtime), **overrides))


# -- metadata parsing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("{0: 'person', 1: 'car'}", ("person", "car")),
        ("{1: 'car', 0: 'person'}", ("person", "car")),
        ('["person", "car"]', ("person", "car")),
        ('{"0": "person", "1": "car"}', ("person", "car")),
        ("['person', 'car']", ("person", "car")),
        ("{0: 'person', 2: 'car'}", ValueError("names ids must be 0..1, got [0, 2]")),
        ("{'a': 'person'}", ValueError("names keys must be class ids")),
        ("[]", ValueError("names is empty")),
        ("person, car", ValueError("names is neither a Python literal nor JSON")),
        ("42", ValueError("names must be a dict or a list, got int")),
    ],
)
def test_parse_names(raw: str, expected: tuple[str, ...] | ValueError) -> None:
    if isinstance(expected, ValueError):
        with pytest.raises(ValueError, match=re.escape(str(expected))):
            parse_names(raw)
    else:
        assert parse_names(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[640, 640]", (640, 640)),
        ("[384, 640]", (384, 640)),
        ("640", (640, 640)),
        ("(320,)", (320, 320)),
        ("[640, 0]", ValueError("imgsz must be one or two positive integers")),
        ("[1, 2, 3]", ValueError("imgsz must be one or two positive integers")),
        ("big", ValueError("imgsz is not a size: 'big'")),
    ],
)
def test_parse_imgsz(raw: str, expected: tuple[int, int] | ValueError) -> None:
    if isinstance(expected, ValueError):
        with pytest.raises(ValueError, match=re.escape(str(expected))):
            parse_imgsz(raw)
    else:
        assert parse_imgsz(raw) == expected


# -- bad model files -------------------------------------------------------------------------------------------

V8_RAW = encode_output("v8", [BOX], [2], [0.9], C)
META = default_metadata(SYNTHETIC_NAMES, 64)
_Maker = Callable[[Path], Path]
BAD_MODELS: list[tuple[str, _Maker, str]] = [
    ("missing", lambda d: d / "absent.onnx", "detector file not found: "),
    ("corrupt", lambda d: write_corrupt_model(d / "m.onnx"), "cannot load detector m.onnx: "),
    (
        "no names",
        lambda d: make_yolo_onnx(d / "m.onnx", "v8", SYNTHETIC_NAMES, V8_RAW, metadata={"imgsz": "[64, 64]"}),
        "detector m.onnx has no class names in its metadata (key 'names')",
    ),
    (
        "unreadable names",
        lambda d: make_yolo_onnx(d / "m.onnx", "v8", SYNTHETIC_NAMES, V8_RAW, metadata={**META, "names": "car bus"}),
        "detector m.onnx has unreadable class names in its metadata: names is neither",
    ),
    (
        "output rank 2",
        lambda d: make_constant_output_onnx(d / "m.onnx", np.zeros(20, np.float32), metadata=META),
        "detector m.onnx output 'output0' must have 3 dimensions (YOLO detections), got [{batch}, 20]",
    ),
    (
        "output shape fits no layout",
        lambda d: make_constant_output_onnx(d / "m.onnx", np.zeros((4 + C + 1, 30), np.float32), metadata=META),
        "detector m.onnx: output shape [1, 13, 30] fits no YOLO layout for 8 classes: expected [B, 12, N] (v8/11)",
    ),
    (
        "output names a different class count",
        lambda d: make_constant_output_onnx(d / "m.onnx", encode_output("v8", [], [], [], 80), metadata=META),
        "detector m.onnx: output shape [1, 84, 20] fits no YOLO layout for 8 classes",
    ),
    (
        "input rank 3",
        lambda d: make_constant_output_onnx(d / "m.onnx", V8_RAW, metadata=META, input_shape=["batch", 3, 64]),
        "detector m.onnx input 'images' must be [batch, 3, height, width], got [{batch}, 3, 64]",
    ),
    (
        "grey input",
        lambda d: make_constant_output_onnx(d / "m.onnx", V8_RAW, metadata=META, input_shape=[1, 1, 64, 64]),
        "detector m.onnx input 'images' must be [batch, 3, height, width], got [1, 1, 64, 64]",
    ),
    (
        "uint8 input",
        lambda d: make_constant_output_onnx(d / "m.onnx", V8_RAW, metadata=META, input_type=TensorProto.UINT8),
        "detector m.onnx input 'images' must be float or float16, got uint8",
    ),
    (
        "no input size",
        lambda d: make_constant_output_onnx(
            d / "m.onnx", V8_RAW, metadata={"names": META["names"]}, input_shape=["batch", 3, "h", "w"]
        ),
        "detector m.onnx has no input size: neither imgsz metadata nor a static input shape",
    ),
    (
        "imgsz disagrees with input",
        lambda d: make_constant_output_onnx(d / "m.onnx", V8_RAW, metadata={**META, "imgsz": "[32, 32]"}),
        "detector m.onnx: metadata imgsz [32, 32] differs from its input shape [{batch}, 3, 64, 64]",
    ),
    (
        "unreadable imgsz",
        lambda d: make_constant_output_onnx(d / "m.onnx", V8_RAW, metadata={**META, "imgsz": "huge"}),
        "detector m.onnx has unreadable metadata: imgsz is not a size: 'huge'",
    ),
]


@pytest.mark.parametrize(("case", "make", "message"), BAD_MODELS, ids=[c[0] for c in BAD_MODELS])
def test_bad_models_raise_one_line_model_load_error(
    tmp_path: Path, runtime: str, case: str, make: _Maker, message: str
) -> None:
    path = make(tmp_path)
    expected = message.replace("{batch}", repr(dynamic_name(runtime)))
    with pytest.raises(ModelLoadError, match=re.escape(expected)) as caught:
        _open(path, runtime)
    assert "\n" not in str(caught.value)


def test_unknown_class_names_are_listed(tmp_path: Path, runtime: str) -> None:
    path = make_fixed_box_detector(tmp_path / "m.onnx", BOX)
    message = (
        "detector m.onnx has no class 'lorry', 'van' (from settings classes); its classes are: person, bicycle, car, "
    )
    with pytest.raises(ModelLoadError, match=re.escape(message)):
        _open(path, runtime, classes=("car", "lorry", "van"))


def test_failing_warm_up_is_a_model_load_error(tmp_path: Path) -> None:
    # An input of symbolic size (64x64 by its metadata) added to a 32x32 constant: ORT loads the model and
    # fails only when it runs. (OpenVINO runs such a model to a wrong output instead, and is not fed it here: an
    # invalid graph can corrupt its memory. The next test covers its failures.)
    path = make_constant_output_onnx(tmp_path / "m.onnx", V8_RAW, metadata=META, input_shape=["batch", 3, "h", "w"])
    model = onnx.load(str(path))
    model.graph.initializer.append(numpy_helper.from_array(np.zeros((1, 3, 32, 32), np.float32), "small"))
    model.graph.node.insert(0, helper.make_node("Add", ["images", "small"], ["summed"]))
    model.graph.node[1].input[0] = "summed"  # the Shape node that sizes the output now needs the Add
    onnx.save(model, str(path))
    with pytest.raises(ModelLoadError, match=r"detector m\.onnx failed its warm-up run: ") as caught:
        _open(path, "onnxruntime")
    assert "\n" not in str(caught.value)


def test_engine_failing_its_warm_up_is_a_model_load_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runtime: RuntimeName
) -> None:
    path = make_fixed_box_detector(tmp_path / "m.onnx", BOX)
    engine = open_engine(path, EngineOptions(runtime=runtime, providers=("cpu",)), what="detector")

    def fail(output_names: Any, feeds: Any) -> Any:
        raise RuntimeError("Exception from src/inference/src/cpp/infer_request.cpp:223:\npages of detail")

    monkeypatch.setattr(engine, "run", fail)
    with pytest.raises(ModelLoadError, match=re.escape("detector m.onnx failed its warm-up run: Exception from src")):
        YoloDetector(engine, fixed_box_settings(path))


# -- detection through every layout ----------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["v8", "v5", "end2end"])
@pytest.mark.parametrize("dynamic", [True, False])
def test_fixed_box_lands_in_each_image(tmp_path: Path, runtime: str, layout: Any, dynamic: bool) -> None:
    path = make_fixed_box_detector(tmp_path / "m.onnx", BOX, "bus", 0.8, layout=layout, dynamic_batch=dynamic)
    detector = _open(path, runtime, max_batch=4)
    assert detector.runtime_name == runtime
    assert detector.layout == layout
    assert detector.dynamic_batch is dynamic
    assert detector.max_batch == (4 if dynamic else 1)
    assert detector.names == SYNTHETIC_NAMES
    assert detector.input_size == (64, 64)
    assert detector.vehicle_class_ids == (2, 3, 5, 7)
    images = [_image(480, 640), _image(720, 1280), _image(64, 64), _image(1080, 810), _image(100, 300)]
    results = detector.detect(images)
    assert len(results) == len(images)
    for image, result in zip(images, results, strict=True):
        assert result.class_names == ("bus",)
        assert result.class_ids.tolist() == [5]
        np.testing.assert_allclose(result.scores, [0.8], rtol=1e-6)
        np.testing.assert_allclose(result.boxes[0], expected_box(BOX, image.shape[:2]), atol=1e-3)
        assert result.track_ids is None


def test_detect_with_no_images(tmp_path: Path, runtime: str) -> None:
    detector = _open(make_fixed_box_detector(tmp_path / "m.onnx", BOX), runtime)
    assert detector.detect([]) == []


@pytest.mark.parametrize(
    ("classes", "confidence", "min_box_size", "image_hw", "found"),
    [
        (("car",), 0.35, 16, (64, 64), True),  # the box is 48x32 input pixels
        (("bus", "truck"), 0.35, 16, (64, 64), False),  # class filter
        (("car",), 0.95, 16, (64, 64), False),  # score threshold
        (("car",), 0.35, 33, (64, 64), False),  # short side 32 < 33
        (("car",), 0.35, 32, (64, 64), True),
        (("car",), 0.35, 160, (640, 640), True),  # min size is in frame pixels: 320 here
        (("car",), 0.35, 321, (640, 640), False),
        (("car",), 0.35, 17, (16, 32), False),  # a small frame: the box is 24x16 frame pixels
        (("car",), 0.35, 16, (16, 32), True),
    ],
)
def test_filters(
    tmp_path: Path,
    runtime: str,
    classes: tuple[str, ...],
    confidence: float,
    min_box_size: int,
    image_hw: tuple[int, int],
    found: bool,
) -> None:
    path = make_fixed_box_detector(tmp_path / "m.onnx", BOX, "car", 0.9)
    detector = _open(path, runtime, classes=classes, confidence=confidence, min_box_size=min_box_size)
    (result,) = detector.detect([_image(*image_hw)])
    assert len(result) == (1 if found else 0)


def test_box_in_the_padding_is_dropped(tmp_path: Path, runtime: str) -> None:
    # The box covers only the top padding of a 16:9 frame: clipped to zero height, it is never a detection.
    path = make_fixed_box_detector(tmp_path / "m.onnx", (10, 0, 50, 10), "car", 0.9)
    (result,) = _open(path, runtime, min_box_size=0).detect([_image(360, 640)])
    assert len(result) == 0


def test_brightness_gate_switches_detections_per_frame(tmp_path: Path, runtime: str) -> None:
    path = make_fixed_box_detector(tmp_path / "m.onnx", BOX, gate_by_brightness=True)
    detector = _open(path, runtime, max_batch=3)
    results = detector.detect([_image(64, 64, 255), _image(64, 64, 0), _image(360, 640, 255), _image(360, 640, 0)])
    assert [len(r) for r in results] == [1, 0, 1, 0]
    np.testing.assert_allclose(results[0].scores, [0.9], rtol=1e-6)


def test_float16_input_model(tmp_path: Path, runtime: str) -> None:
    path = make_constant_output_onnx(tmp_path / "m.onnx", V8_RAW, metadata=META, input_type=TensorProto.FLOAT16)
    detector = _open(path, runtime)
    tensor, _ = detector.preprocess([_image(64, 64)])
    assert tensor.dtype == np.float16
    (result,) = detector.detect([_image(64, 64)])
    assert result.class_names == ("car",)


def test_is_a_detector(tmp_path: Path, runtime: str) -> None:
    detector = _open(make_fixed_box_detector(tmp_path / "m.onnx", BOX), runtime)
    assert isinstance(detector, Detector)
    detector.warmup()


# -- batching: one engine run per chunk ------------------------------------------------------------------------


def _counted(path: Path, runtime: str, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> tuple[YoloDetector, Any]:
    """A detector whose engine records the batch size of every run, warm-up included."""
    settings = fixed_box_settings(path, **exact(runtime), **overrides)
    options = EngineOptions(runtime=settings.runtime, providers=settings.providers, precision="fp32", batch=1)
    engine = open_engine(path, options, what="detector")
    counter = RunCounter.install(engine, monkeypatch)
    return YoloDetector(engine, settings), counter


@pytest.mark.parametrize(
    ("dynamic", "max_batch", "images", "runs"),
    [
        (True, 4, 10, [4, 4, 4, 2]),  # warm-up with a full batch, then chunks of 4
        (True, 4, 4, [4, 4]),
        (True, 1, 3, [1, 1, 1, 1]),
        (True, 8, 3, [8, 3]),
        (False, 4, 3, [1, 1, 1, 1]),  # static batch: max_batch ignored, one image per run
        (False, 1, 0, [1]),
    ],
)
def test_one_engine_run_per_chunk(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    runtime: str,
    dynamic: bool,
    max_batch: int,
    images: int,
    runs: list[int],
) -> None:
    path = make_fixed_box_detector(tmp_path / "m.onnx", BOX, dynamic_batch=dynamic)
    detector, counter = _counted(path, runtime, monkeypatch, max_batch=max_batch)
    results = detector.detect([_image(48 + i, 64) for i in range(images)])
    assert counter.batches == runs
    assert [len(r) for r in results] == [1] * images


def test_static_batch_larger_than_one_is_padded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runtime: str) -> None:
    path = make_constant_output_onnx(tmp_path / "m.onnx", V8_RAW, metadata=META, input_shape=[2, 3, 64, 64])
    detector, counter = _counted(path, runtime, monkeypatch)
    assert (detector.dynamic_batch, detector.max_batch) == (False, 2)
    results = detector.detect([_image(64, 64)] * 3)
    assert counter.batches == [2, 2, 2]
    assert [len(r) for r in results] == [1, 1, 1]


class CountingSession:
    """A real ORT session that records the batch size of every run: the detector still takes a bare session."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        self.inner = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.batches: list[int] = []

    def run(self, output_names: list[str] | None, input_feed: dict[str, Any]) -> list[Any]:
        self.batches.append(next(iter(input_feed.values())).shape[0])
        result: list[Any] = self.inner.run(output_names, input_feed)
        return result

    def get_inputs(self) -> list[Any]:
        inputs: list[Any] = self.inner.get_inputs()
        return inputs

    def get_outputs(self) -> list[Any]:
        outputs: list[Any] = self.inner.get_outputs()
        return outputs

    def get_modelmeta(self) -> Any:
        return self.inner.get_modelmeta()


def test_a_bare_onnx_runtime_session_still_works(tmp_path: Path) -> None:
    path = make_fixed_box_detector(tmp_path / "m.onnx", BOX)
    session = CountingSession(path)
    detector = YoloDetector(session, fixed_box_settings(path, max_batch=2))
    assert (detector.runtime_name, detector.device, detector.precision) == (
        "onnxruntime",
        "CPUExecutionProvider",
        "fp32",
    )
    assert [len(r) for r in detector.detect([_image(64, 64)] * 3)] == [1, 1, 1]
    assert session.batches == [2, 2, 1]


def test_preprocess_refuses_more_than_max_batch(tmp_path: Path) -> None:
    path = make_fixed_box_detector(tmp_path / "m.onnx", BOX)
    detector = YoloDetector.from_settings(fixed_box_settings(path, max_batch=2))
    with pytest.raises(ValueError, match=re.escape("3 images given, but detector m.onnx takes at most 2")):
        detector.preprocess([_image(8, 8)] * 3)


def test_settings_type(tmp_path: Path) -> None:
    settings = fixed_box_settings(tmp_path / "m.onnx")
    assert isinstance(settings, DetectorSettings)
    assert settings.providers == ("cpu",)
