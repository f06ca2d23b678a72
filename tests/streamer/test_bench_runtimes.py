"""`bench --runtimes` on synthetic models: candidates, box agreement, the report and its choice (no timing is
asserted); and how the benchmarks name each model's runtime and precision."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from detectors.types import Detections
from streamer.bench_models import describe_model, file_precision, openvino_available
from streamer.bench_runtimes import (
    Candidate,
    RuntimesOptions,
    candidates,
    matched_boxes,
    run_runtimes,
)
from tests.streamer.scene import make_scene


def _boxes(*rows: tuple[float, float, float, float, int]) -> Detections:
    array = np.array([r[:4] for r in rows], np.float32).reshape(-1, 4)
    ids = np.array([r[4] for r in rows], np.int32)
    return Detections(array, np.full(len(rows), 0.9, np.float32), ids, tuple(str(i) for i in ids))


@pytest.mark.parametrize(
    ("reference", "other", "matched"),
    [
        (_boxes((0, 0, 10, 10, 2)), _boxes((0, 0, 10, 10, 2)), 1),
        (_boxes((0, 0, 10, 10, 2)), _boxes((0, 0, 10, 9, 2)), 1),  # IoU 0.9
        (_boxes((0, 0, 10, 10, 2)), _boxes((0, 0, 10, 7, 2)), 0),  # IoU 0.7 < 0.8
        (_boxes((0, 0, 10, 10, 2)), _boxes((0, 0, 10, 10, 7)), 0),  # another class
        (_boxes((0, 0, 10, 10, 2), (0, 0, 10, 10, 2)), _boxes((0, 0, 10, 10, 2)), 1),  # each box matched once
        (_boxes((0, 0, 10, 10, 2), (20, 20, 30, 30, 5)), _boxes((20, 20, 30, 30, 5), (0, 0, 10, 10, 2)), 2),
        (_boxes(), _boxes((0, 0, 10, 10, 2)), 0),
        (_boxes((0, 0, 10, 10, 2)), _boxes(), 0),
    ],
)
def test_matched_boxes(reference: Detections, other: Detections, matched: int) -> None:
    assert matched_boxes(reference, other) == matched


def _int8_model(path: Path) -> Path:
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "scale", "zero"])
    graph = helper.make_graph(
        [node],
        "q",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [
            helper.make_tensor_value_info("y", TensorProto.UINT8, [1]),
            helper.make_tensor_value_info("scale", TensorProto.FLOAT, []),
            helper.make_tensor_value_info("zero", TensorProto.UINT8, []),
        ],
    )
    onnx.save(helper.make_model(graph), str(path))
    return path


def test_file_precision_reads_the_graph_not_the_name(tmp_path: Path) -> None:
    scene = make_scene(tmp_path, frames=2)
    assert file_precision(scene.detector) == "fp32"
    assert file_precision(_int8_model(tmp_path / "fp32_by_name.onnx")) == "int8"
    assert file_precision(tmp_path / "missing.onnx") == "unknown"


def test_candidates_try_each_runtime_and_force_f32_only_for_float_files(tmp_path: Path) -> None:
    scene = make_scene(tmp_path, frames=2)
    int8 = _int8_model(tmp_path / "int8.onnx")
    assert candidates([scene.detector], openvino=False) == [
        Candidate(scene.detector, "onnxruntime"),
        Candidate(scene.detector, "onnxruntime", fit_frames=True),
    ]
    assert candidates([scene.detector, int8, scene.detector], openvino=True) == [
        Candidate(scene.detector, "onnxruntime"),
        Candidate(scene.detector, "openvino"),
        Candidate(scene.detector, "openvino", "f32"),
        Candidate(int8, "onnxruntime"),
        Candidate(int8, "openvino"),
        Candidate(scene.detector, "onnxruntime", fit_frames=True),  # float files again at the frames' size
        Candidate(scene.detector, "openvino", fit_frames=True),
    ]


class _TellsItsRuntime:
    runtime_name = "openvino"
    precision = "bf16"
    device = "CPU"


class _HasAnEngine:
    engine = _TellsItsRuntime()


def test_a_model_that_tells_its_runtime_is_taken_at_its_word(tmp_path: Path) -> None:
    scene = make_scene(tmp_path, frames=2)
    for model in (_TellsItsRuntime(), _HasAnEngine()):
        told = describe_model(model, "detector", scene.detector, ("cpu",))
        assert (told.runtime, told.precision, told.device) == ("openvino", "bf16", "CPU")
    guessed = describe_model(object(), "detector", scene.detector, ("cpu",))
    assert (guessed.runtime, guessed.precision, guessed.device) == ("onnxruntime", "fp32", "CPUExecutionProvider")
    assert "detector" in guessed.render()
    assert "onnxruntime fp32 on CPUExecutionProvider" in guessed.render()


def test_runtimes_report_on_the_same_frames(tmp_path: Path) -> None:
    scene = make_scene(tmp_path, frames=6)
    overrides = {"detector": {"model": str(scene.detector), "providers": ["cpu"], "min_box_size": 8}}
    lines: list[str] = []
    report = run_runtimes(RuntimesOptions(scene.video, 4, [scene.detector], overrides, repeat=2), lines.append)
    assert report.frames == 4
    reference = report.rows[report.reference or 0]
    assert (reference.runtime, reference.precision) == ("onnxruntime", "fp32")
    assert len(reference.inferences_per_s) == 2
    assert reference.agreement == 1.0
    assert reference.boxes == reference.reference_boxes == 4  # one box per frame
    assert report.choice is not None
    assert {row.runtime for row in report.rows} == (
        {"onnxruntime", "openvino"} if openvino_available() else {"onnxruntime"}
    )
    for row in report.rows:
        assert row.error or (row.reference_boxes == 4 and len(row.inferences_per_s) == 2)
    text = report.render()
    assert "reference" in text
    assert "choice" in text
    assert "load average" in text
    assert report.as_dict()["choice_label"] == report.rows[report.choice].label
    assert any("inferences/s" in line for line in lines)
    plot = tmp_path / "runtimes.png"
    report.plot(plot)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
