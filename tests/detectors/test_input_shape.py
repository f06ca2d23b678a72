"""Re-sizing a YOLO export's input (rectangular inference): the anchor grid follows the new size, detections on
a 16:9 frame stay those of the square input, and a model that cannot be re-sized is kept or refused, never
guessed at."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from detectors.input_shape import (
    InputShapeError,
    anchor_count,
    anchor_grid,
    fit_input,
    resize_input,
    resized_model_file,
)
from detectors.runtime import ModelLoadError
from detectors.settings import DetectorSettings
from detectors.yolo import YoloDetector
from streamer.bench_runtimes import matched_boxes
from tests.conftest import shared_path
from tests.synthetic_detector import fixed_box_settings, make_fixed_box_detector


def _head_like_model(height: int = 640, width: int = 640) -> onnx.ModelProto:
    """A miniature of the YOLOv8 export's decoding: one value per cell at strides 8/16/32, flattened and
    concatenated to N anchors, reshaped with N baked in, then (value + anchor centre) * stride."""
    n = anchor_count(height, width)
    points, strides = anchor_grid(height, width)
    nodes, flat = [], []
    for stride in (8, 16, 32):
        nodes.append(helper.make_node("AveragePool", ["images"], [f"p{stride}"], kernel_shape=[stride] * 2,
                                      strides=[stride] * 2))  # fmt: skip
        nodes.append(helper.make_node("Reshape", [f"p{stride}", "flat_shape"], [f"f{stride}"]))
        flat.append(f"f{stride}")
    nodes += [
        helper.make_node("Concat", flat, ["cells"], axis=2),  # [b, 3, N]
        helper.make_node("Reshape", ["cells", "n_shape"], ["cells_n"]),  # N baked in, as the export's DFL has it
        helper.make_node("Slice", ["cells_n", "zero", "two", "one"], ["xy"]),  # [b, 2, N]
        helper.make_node("Add", ["xy", "anchors"], ["centred"]),
        helper.make_node("Mul", ["centred", "strides"], ["output0"]),
    ]
    initializers = [
        numpy_helper.from_array(np.array([0, 3, -1], np.int64), "flat_shape"),
        numpy_helper.from_array(np.array([0, 3, n], np.int64), "n_shape"),
        numpy_helper.from_array(np.array([0], np.int64), "zero"),
        numpy_helper.from_array(np.array([2], np.int64), "two"),
        numpy_helper.from_array(np.array([1], np.int64), "one"),
        numpy_helper.from_array(points, "anchors"),
        numpy_helper.from_array(strides, "strides"),
    ]
    graph = helper.make_graph(
        nodes,
        "head",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, height, width])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", 2, n])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    helper.set_model_props(model, {"imgsz": f"[{height}, {width}]"})
    return model


def _run(model: onnx.ModelProto, images: NDArray[np.float32]) -> NDArray[np.float32]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"images": images})[0], np.float32)


def test_the_anchor_grid_is_the_exports_for_a_square_input() -> None:
    points, strides = anchor_grid(640, 640)
    assert points.shape == (1, 2, 8400)
    assert strides.shape == (1, 8400)
    assert points[0, :, :3].tolist() == [[0.5, 1.5, 2.5], [0.5, 0.5, 0.5]]
    assert points[0, :, 80].tolist() == [0.5, 1.5]  # the second row of stride 8's 80x80 cells
    assert strides[0, [0, 6399, 6400, 7999, 8000, 8399]].tolist() == [8, 8, 16, 16, 32, 32]


def test_a_resized_head_decodes_with_the_grid_of_its_new_size() -> None:
    resized = resize_input(_head_like_model(), 384, 640)
    onnx.checker.check_model(resized)
    assert [d.dim_value for d in resized.graph.input[0].type.tensor_type.shape.dim][2:] == [384, 640]
    assert {p.key: p.value for p in resized.metadata_props}["imgsz"] == "[384, 640]"
    images = np.random.default_rng(0).random((2, 3, 384, 640), np.float32)
    output = _run(resized, images)
    assert output.shape == (2, 2, anchor_count(384, 640)) == (2, 2, 5040)
    # The same model built for 384x640 from scratch is the reference.
    np.testing.assert_allclose(output, _run(_head_like_model(384, 640), images), rtol=1e-6)


def test_sizes_off_the_stride_and_unknown_heads_are_refused() -> None:
    with pytest.raises(InputShapeError, match="multiples of 32"):
        resize_input(_head_like_model(), 360, 640)
    other = _head_like_model()
    for tensor in other.graph.initializer:
        if tensor.name == "anchors":  # a grid that is not the standard one: not recognised, not guessed at
            tensor.CopyFrom(numpy_helper.from_array(anchor_grid(640, 640)[0] + 1, "anchors"))
    with pytest.raises(InputShapeError, match="depends on the input size"):
        resize_input(other, 384, 640)


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        ([(720, 1280)], (384, 640)),
        ([(1080, 1920), (720, 1280)], (384, 640)),
        ([(480, 640)], (480, 640)),
        ([(576, 704)], (544, 640)),
        ([(720, 1280), (480, 640)], (480, 640)),  # the taller frame decides
        ([(1280, 720)], (640, 384)),  # portrait
        ([(720, 1280), (1280, 720)], (640, 640)),
        ([], (640, 640)),  # unknown: the model's own
    ],
)
def test_the_input_fits_the_frames(frames: list[tuple[int, int]], expected: tuple[int, int]) -> None:
    assert fit_input((640, 640), frames) == expected


def test_auto_keeps_the_size_of_a_model_it_cannot_resize_and_an_explicit_size_is_refused(tmp_path: Path) -> None:
    path = make_fixed_box_detector(tmp_path / "m.onnx", (16, 16, 48, 40))  # no YOLOv8 anchor grid in it
    assert resized_model_file(path, "auto", [(720, 1280)], tmp_path) == path
    detector = YoloDetector.from_settings(fixed_box_settings(path), [(720, 1280)])
    assert detector.detect([np.zeros((720, 1280, 3), np.uint8)])[0].boxes.shape[1] == 4
    with pytest.raises(ModelLoadError, match=r"input_size \(384, 640\)"):
        YoloDetector.from_settings(fixed_box_settings(path, input_size=(384, 640)))


def test_an_input_size_must_be_a_multiple_of_the_stride() -> None:
    with pytest.raises(ValueError, match="multiples of 32"):
        DetectorSettings(model=Path("m.onnx"), input_size=(360, 640))


@pytest.mark.shared
@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_a_real_export_finds_the_same_vehicles_at_384x640(runtime: str) -> None:
    model = shared_path("models/yolov8n_640_dynbatch_dequant_fp32.onnx")
    capture = cv2.VideoCapture(str(shared_path("videos/anugoyal_traffic.mp4")))
    frames: list[NDArray[np.uint8]] = []
    for _ in range(40):
        ok, frame = capture.read()
        assert ok
        frames.append(np.asarray(frame, np.uint8))
    frames = frames[::8]  # five frames a second and a half apart
    capture.release()
    settings = DetectorSettings.model_validate({"model": model, "runtime": runtime, "precision": "fp32"})
    square = YoloDetector.from_settings(settings.model_copy(update={"input_size": "model"}))
    rect = YoloDetector.from_settings(settings, [frames[0].shape[:2]])
    assert (square.input_size, rect.input_size) == ((640, 640), (384, 640))
    matched = total = 0
    for found_square, found_rect in zip(square.detect(frames), rect.detect(frames), strict=True):
        total += len(found_square)
        matched += matched_boxes(found_square, found_rect)  # same class, IoU >= 0.8: the bench's agreement
    assert total >= 20
    print(f"{runtime}: {matched} of {total} boxes of the square input found at 384x640")
    assert matched / total >= 0.9, f"{matched} of {total} boxes of the square input found at 384x640"


@pytest.mark.shared
def test_a_yolo11_export_keeps_its_size_its_attention_block_is_tied_to_it(tmp_path: Path) -> None:
    model = shared_path("models/yolo11n_int8_640_dynbatch.onnx")
    assert resized_model_file(model, "auto", [(720, 1280)], tmp_path) == model
    with pytest.raises(InputShapeError, match="tied to its input size"):
        resized_model_file(model, (384, 640), [], tmp_path)
