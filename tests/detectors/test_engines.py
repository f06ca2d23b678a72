"""The inference engines: ``runtime: auto`` resolution, ONNX Runtime and OpenVINO agreeing on synthetic models,
OpenVINO's chunking, parallel requests and thread safety, and what each engine reports (specs, metadata,
precision)."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from detectors.engines.base import DYNAMIC, EngineOptions, InferenceEngine, TensorSpec
from detectors.engines.precision import file_precision
from detectors.engines.selection import choose_runtime, open_engine, openvino_available
from detectors.providers import RuntimeName
from detectors.registry import open_detector
from detectors.runtime import ModelLoadError
from detectors.yolo import YoloDetector
from tests.detectors.runtimes import OPENVINO_MISSING, RUNTIMES
from tests.synthetic_detector import OPSET, fixed_box_settings, make_fixed_box_detector

needs_openvino = pytest.mark.skipif(not openvino_available(), reason=OPENVINO_MISSING)
GPU_PROVIDERS = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


def conv_net(path: Path, *, batch: int | str = "batch", size: int | str = 16, seed: int = 0) -> Path:
    """A tiny convolutional model with random weights and two outputs: numerics worth comparing."""
    rng = np.random.default_rng(seed)
    weights = [
        numpy_helper.from_array(rng.normal(0, 0.5, (6, 3, 3, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.normal(0, 0.1, 6).astype(np.float32), "b1"),
        numpy_helper.from_array(rng.normal(0, 0.5, (4, 6, 3, 3)).astype(np.float32), "w2"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Sigmoid", ["c2"], ["maps"]),
        helper.make_node("GlobalAveragePool", ["c2"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("Softmax", ["flat"], ["probs"], axis=1),
    ]
    half: int | str = size // 2 if isinstance(size, int) else "half"
    graph = helper.make_graph(
        nodes,
        "conv_net",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, size, size])],
        [
            helper.make_tensor_value_info("maps", TensorProto.FLOAT, [batch, 4, half, half]),
            helper.make_tensor_value_info("probs", TensorProto.FLOAT, [batch, 4]),
        ],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    helper.set_model_props(model, {"task": "test", "labels": '["a", "b", "c", "d"]'})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def quantized_net(path: Path) -> Path:
    """A graph with a dynamic quantization step (``DynamicQuantizeLinear``), as the int8 YOLO files have."""
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["input"], ["q", "scale", "zero"]),
        helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "quantized",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 3, 8, 8])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _inputs(n: int, size: int = 16, seed: int = 1) -> NDArray[np.float32]:
    return np.random.default_rng(seed).random((n, 3, size, size), dtype=np.float32)


def _open(path: Path, runtime: str, **options: Any) -> InferenceEngine:
    fields: dict[str, Any] = {"runtime": runtime, "providers": ("cpu",), "precision": "fp32", **options}
    return open_engine(path, EngineOptions(**fields))


# -- runtime: auto ---------------------------------------------------------------------------------------------


@pytest.fixture
def no_openvino(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import openvino`` fails, as on a machine without the package."""
    monkeypatch.setitem(sys.modules, "openvino", None)


@pytest.fixture
def gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """ONNX Runtime lists TensorRT and CUDA and their libraries load, as on a machine with an NVIDIA GPU."""
    monkeypatch.setattr("detectors.runtime.ort.get_available_providers", lambda: list(GPU_PROVIDERS))
    monkeypatch.setattr("detectors.runtime._loadable", lambda library: True)


@pytest.mark.parametrize(
    ("runtime", "providers", "machine", "expected"),
    [
        pytest.param("auto", ("tensorrt", "cuda", "cpu"), [], "openvino", id="cpu-only-with-openvino"),
        pytest.param("auto", ("tensorrt", "cuda", "cpu"), ["no_openvino"], "onnxruntime", id="cpu-only-without"),
        pytest.param("auto", ("tensorrt", "cuda", "cpu"), ["gpu"], "onnxruntime", id="gpu"),
        pytest.param("auto", ("tensorrt", "cuda", "cpu"), ["gpu", "no_openvino"], "onnxruntime", id="gpu-without"),
        pytest.param("auto", ("cpu",), ["gpu"], "openvino", id="gpu-not-configured"),
        pytest.param("onnxruntime", ("cpu",), [], "onnxruntime", id="onnxruntime-asked"),
        pytest.param("openvino", ("cuda", "cpu"), ["gpu"], "openvino", id="openvino-asked-on-gpu"),
        pytest.param(
            "openvino",
            ("cpu",),
            ["no_openvino"],
            ModelLoadError("runtime openvino needs the openvino package: pip install openvino"),
            id="openvino-asked-but-missing",
        ),
    ],
)
def test_choose_runtime(
    request: pytest.FixtureRequest,
    runtime: Any,
    providers: tuple[str, ...],
    machine: list[str],
    expected: str | ModelLoadError,
) -> None:
    for fixture in machine:
        request.getfixturevalue(fixture)
    if expected == "openvino" and "no_openvino" not in machine and not openvino_available():
        pytest.skip(OPENVINO_MISSING)
    if isinstance(expected, ModelLoadError):
        with pytest.raises(ModelLoadError, match=str(expected)):
            choose_runtime(runtime, providers)
    else:
        chosen, reason = choose_runtime(runtime, providers)
        assert chosen == expected
        assert reason


def test_gpu_reason_names_the_provider(gpu: None) -> None:
    assert choose_runtime("auto", ("tensorrt", "cuda", "cpu")) == (
        "onnxruntime",
        "auto: TensorrtExecutionProvider is usable",
    )


def test_auto_without_openvino_opens_the_detector_on_onnx_runtime(tmp_path: Path, no_openvino: None) -> None:
    path = make_fixed_box_detector(tmp_path / "m.onnx", (8, 16, 56, 48))
    detector = open_detector(fixed_box_settings(path))
    assert isinstance(detector, YoloDetector)
    assert (detector.runtime_name, detector.device, detector.precision) == (
        "onnxruntime",
        "CPUExecutionProvider",
        "fp32",
    )


@needs_openvino
def test_auto_on_a_cpu_opens_the_detector_on_openvino_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = make_fixed_box_detector(tmp_path / "m.onnx", (8, 16, 56, 48))
    with caplog.at_level(logging.INFO, logger="detectors.engines.selection"):
        detector = open_detector(fixed_box_settings(path))
    assert isinstance(detector, YoloDetector)
    assert (detector.runtime_name, detector.device) == ("openvino", "CPU")
    assert detector.precision in {"fp32", "bf16", "fp16"}
    (line,) = [r.getMessage() for r in caplog.records if r.name == "detectors.engines.selection"]
    assert line.startswith(f"detector m.onnx runs on openvino CPU, precision {detector.precision}")
    assert line.endswith("[auto: no GPU provider usable, openvino installed]")


# -- both runtimes agree ---------------------------------------------------------------------------------------


@needs_openvino
@pytest.mark.parametrize(
    ("options", "n"),
    [
        pytest.param({}, 5, id="dynamic"),
        pytest.param({"batch": 1}, 5, id="batch-1-one-request"),
        pytest.param({"batch": 1, "requests": 2}, 5, id="batch-1-two-requests"),
        pytest.param({"batch": 1, "requests": 3}, 1, id="one-row-three-requests"),
        pytest.param({"batch": 2, "requests": 2}, 6, id="batch-2-two-requests"),
    ],
)
def test_openvino_fp32_matches_onnx_runtime(tmp_path: Path, options: dict[str, Any], n: int) -> None:
    path = conv_net(tmp_path / "net.onnx")
    reference = _open(path, "onnxruntime")
    engine = _open(path, "openvino", **options)
    assert engine.precision == "fp32"
    x = _inputs(n)
    expected = reference.run(None, {"input": x})
    got = engine.run(None, {"input": x})
    assert [a.shape for a in got] == [a.shape for a in expected]
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-4)
    (probs,) = engine.run(["probs"], {"input": x})  # one output, by name
    np.testing.assert_allclose(probs, expected[1], atol=1e-5, rtol=1e-4)


@needs_openvino
def test_openvino_at_its_own_precision_is_close(tmp_path: Path) -> None:
    """bf16 (where the CPU has it) keeps about 3 significant digits: close, not exact."""
    path = conv_net(tmp_path / "net.onnx")
    x = _inputs(4)
    (expected,) = _open(path, "onnxruntime").run(["probs"], {"input": x})
    engine = _open(path, "openvino", precision="auto", batch=1)
    (got,) = engine.run(["probs"], {"input": x})
    np.testing.assert_allclose(got, expected, atol=2e-2)
    assert np.array_equal(got.argmax(axis=1), expected.argmax(axis=1))


@needs_openvino
def test_detector_outputs_agree(tmp_path: Path) -> None:
    path = make_fixed_box_detector(tmp_path / "m.onnx", (8, 16, 56, 48), gate_by_brightness=True)
    onnx_runtime = YoloDetector.from_settings(fixed_box_settings(path, runtime="onnxruntime", max_batch=3))
    openvino = YoloDetector.from_settings(
        fixed_box_settings(path, runtime="openvino", precision="fp32", max_batch=3, infer_requests=2)
    )
    assert openvino.runtime_name == "openvino"
    images = [np.random.default_rng(i).integers(0, 256, (48 + 8 * i, 64, 3), dtype=np.uint8) for i in range(3)]
    tensor, _ = onnx_runtime.preprocess(images)
    np.testing.assert_allclose(openvino.infer(tensor), onnx_runtime.infer(tensor), atol=1e-6)
    for a, b in zip(openvino.detect(images), onnx_runtime.detect(images), strict=True):
        assert a.class_names == b.class_names
        np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-4)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-6)


# -- what the engines report -----------------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_specs_and_metadata(tmp_path: Path, runtime: str) -> None:
    engine = _open(conv_net(tmp_path / "net.onnx", size="s"), runtime, batch=1)
    batch = "batch" if runtime == "onnxruntime" else DYNAMIC
    side = "s" if runtime == "onnxruntime" else DYNAMIC
    assert engine.inputs == (TensorSpec("input", (batch, 3, side, side), "float32"),)
    assert [spec.name for spec in engine.outputs] == ["maps", "probs"]
    assert engine.outputs[1] == TensorSpec("probs", (batch, 4), "float32")
    assert dict(engine.metadata) == {"task": "test", "labels": '["a", "b", "c", "d"]'}
    assert engine.runtime_name == runtime
    assert engine.accelerator is False
    assert isinstance(engine, InferenceEngine)


@needs_openvino
@pytest.mark.parametrize(
    ("batch", "size", "options", "compiled"),
    [
        pytest.param("batch", 16, {"batch": 1}, 1, id="dynamic-batch-made-static"),
        pytest.param("batch", 16, {}, None, id="kept-dynamic"),
        pytest.param("batch", "s", {"batch": 1}, None, id="dynamic-size-stays-dynamic"),
        pytest.param(2, 16, {"batch": 1}, 2, id="static-batch-kept"),
    ],
)
def test_openvino_compiled_batch(
    tmp_path: Path, batch: int | str, size: int | str, options: dict[str, Any], compiled: int | None
) -> None:
    from detectors.engines.openvino_engine import OpenVinoEngine

    engine = _open(conv_net(tmp_path / "net.onnx", batch=batch, size=size), "openvino", **options)
    assert isinstance(engine, OpenVinoEngine)
    assert engine.compiled_batch == compiled
    n = 4 if compiled != 2 else 2
    assert engine.run(["probs"], {"input": _inputs(n)})[0].shape == (n, 4)


@needs_openvino
def test_openvino_refuses_what_it_cannot_run(tmp_path: Path) -> None:
    engine = _open(conv_net(tmp_path / "net.onnx", batch=2), "openvino")
    with pytest.raises(ValueError, match="a batch of 3 is not a multiple of the compiled batch 2"):
        engine.run(None, {"input": _inputs(3)})
    with pytest.raises(ValueError, match="the model has no output 'logits'"):
        engine.run(["logits"], {"input": _inputs(2)})


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_precision(tmp_path: Path, runtime: str) -> None:
    net = conv_net(tmp_path / "net.onnx")
    quantized = quantized_net(tmp_path / "q.onnx")
    assert (file_precision(net), file_precision(quantized)) == ("fp32", "int8")
    assert _open(net, runtime).precision == "fp32"
    own = _open(net, runtime, precision="auto").precision
    if runtime == "onnxruntime":
        assert own == "fp32"
        assert _open(quantized, runtime).precision == "int8"
    else:
        assert own in {"fp32", "bf16", "fp16"}
        assert _open(quantized, runtime).precision == "int8 (fp32 elsewhere)"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_bad_files(tmp_path: Path, runtime: RuntimeName) -> None:
    with pytest.raises(ModelLoadError, match="detector file not found: "):
        open_engine(tmp_path / "absent.onnx", EngineOptions(runtime=runtime), what="detector")
    corrupt = tmp_path / "m.onnx"
    corrupt.write_bytes(b"\x08\x07not a model")
    with pytest.raises(ModelLoadError, match=r"cannot load detector m\.onnx: ") as caught:
        open_engine(corrupt, EngineOptions(runtime=runtime), what="detector")
    assert "\n" not in str(caught.value)


# -- threads ---------------------------------------------------------------------------------------------------


@needs_openvino
@pytest.mark.parametrize("requests", [1, 2])
def test_openvino_is_safe_from_several_threads(tmp_path: Path, requests: int) -> None:
    """Four threads (as the detect and recognize stages, and more) share one engine; each gets its own answers."""
    path = conv_net(tmp_path / "net.onnx")
    engine = _open(path, "openvino", batch=1, requests=requests)
    inputs = [_inputs(1 + i % 3, seed=i) for i in range(16)]
    expected = [engine.run(None, {"input": x}) for x in inputs]
    failures: list[str] = []

    def work(offset: int) -> None:
        for round_ in range(10):
            i = (offset + round_) % len(inputs)
            got = engine.run(None, {"input": inputs[i]})
            if not all(np.array_equal(a, b) for a, b in zip(got, expected[i], strict=True)):
                failures.append(f"thread {offset}, input {i}")

    threads = [threading.Thread(target=work, args=(k * 4,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
