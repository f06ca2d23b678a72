"""Tiny synthetic YOLO detector models (built with ``onnx.helper``) for deterministic tests.

Each model ignores its input (unless gated, see below) and outputs a constant raw YOLO tensor broadcast to the
batch, so a test knows exactly which boxes the decoder must find. Typical use from another package's tests:

    >>> path = make_fixed_box_detector(tmp_path / "car.onnx", (16, 16, 48, 40))  # doctest: +SKIP
    >>> detector = YoloDetector.from_settings(fixed_box_settings(path))  # doctest: +SKIP
    >>> detector.detect([frame])[0].class_names  # doctest: +SKIP
    ('car',)

Where the box lands in a frame: `expected_box(box_in_input, frame.shape[:2], imgsz)`.

With ``gate_by_brightness=True`` the scores are multiplied by the input's mean value (0..1): a black frame
gives no detection, a white one the full score, which lets a pipeline test switch detections per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from detectors.decoding import detect_layout
from detectors.letterbox import Letterbox
from detectors.settings import DetectorSettings
from detectors.types import Detections

SyntheticLayout = Literal["v8", "v5", "end2end"]

SYNTHETIC_NAMES: tuple[str, ...] = ("person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck")
"""COCO's first eight classes: same ids as COCO for car (2), motorcycle (3), bus (5) and truck (7)."""

OPSET = 17


def default_metadata(names: Sequence[str], imgsz: int, *, end2end: bool | None = None) -> dict[str, str]:
    """Ultralytics-style metadata: ``names`` as a Python dict literal, ``imgsz``, ``stride``, ``task``."""
    meta = {
        "names": repr(dict(enumerate(names))),
        "imgsz": repr([imgsz, imgsz]),
        "stride": "32",
        "task": "detect",
    }
    if end2end is not None:
        meta["end2end"] = str(end2end)
    return meta


def encode_output(
    layout: SyntheticLayout,
    boxes_xyxy: Sequence[Sequence[float]] | NDArray[np.float32],
    class_ids: Sequence[int],
    scores: Sequence[float],
    num_classes: int,
    num_anchors: int | None = None,
) -> NDArray[np.float32]:
    """One image's raw output holding the given boxes (input pixels) in ``layout``; other anchors score 0.

    For ``v5`` the objectness is the score and the class probability 1, so the decoded score is ``score``.

    Args:
        layout: ``v8`` -> ``(4 + C, N)``, ``v5`` -> ``(N, 5 + C)``, ``end2end`` -> ``(N, 6)``.
        boxes_xyxy: ``(K, 4)`` boxes in model-input pixels.
        class_ids: ``K`` class ids.
        scores: ``K`` scores.
        num_classes: C.
        num_anchors: N (default ``K + 20``, which keeps small shapes unambiguous).
    """
    boxes = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4)
    count = boxes.shape[0]
    if len(class_ids) != count or len(scores) != count:
        raise ValueError(f"{count} boxes need {count} class ids and scores, got {len(class_ids)} and {len(scores)}")
    anchors = count + 20 if num_anchors is None else num_anchors
    if anchors < count:
        raise ValueError(f"num_anchors {anchors} is less than the {count} boxes")
    centre = np.concatenate(((boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]), axis=1)
    rows = np.arange(count)
    ids = np.asarray(class_ids, np.int64)
    if layout == "v8":
        out = np.zeros((4 + num_classes, anchors), np.float32)
        out[:4, :count] = centre.T
        out[4 + ids, rows] = scores
    elif layout == "v5":
        out = np.zeros((anchors, 5 + num_classes), np.float32)
        out[:count, :4] = centre
        out[:count, 4] = scores
        out[rows, 5 + ids] = 1.0
    else:
        out = np.zeros((anchors, 6), np.float32)
        out[:count, :4] = boxes
        out[:count, 4] = scores
        out[:count, 5] = ids
    return out


def score_mask(layout: SyntheticLayout, shape: tuple[int, ...]) -> NDArray[np.float32]:
    """1 where ``layout``'s raw output holds a score (class scores, objectness, end-to-end score), else 0."""
    mask = np.zeros(shape, np.float32)
    if layout == "v8":
        mask[4:, :] = 1.0
    else:
        mask[:, 4] = 1.0
    return mask


def make_constant_output_onnx(
    path: Path,
    raw_output: NDArray[np.float32],
    *,
    imgsz: int = 64,
    dynamic_batch: bool = True,
    metadata: dict[str, str] | None = None,
    gate_mask: NDArray[np.float32] | None = None,
    input_shape: Sequence[int | str] | None = None,
    input_type: int = TensorProto.FLOAT,
) -> Path:
    """An ONNX model whose output is ``raw_output`` broadcast to the batch, with no checks on its shape.

    Use it for malformed models (wrong ranks, odd inputs); `make_yolo_onnx` for valid ones.

    Args:
        path: where to write the model.
        raw_output: one image's output (any rank).
        imgsz: square input size.
        dynamic_batch: a symbolic ``batch`` dimension, else a static 1.
        metadata: ``metadata_props`` (none when None).
        gate_mask: same shape as ``raw_output``; where 1, the value is multiplied by the input's mean.
        input_shape: the declared input shape (default ``[batch|1, 3, imgsz, imgsz]``).
        input_type: the input's element type (float unless testing a rejected type).
    """
    raw = np.asarray(raw_output, np.float32)[None]
    batch: int | str = "batch" if dynamic_batch else 1
    shape = list(input_shape) if input_shape is not None else [batch, 3, imgsz, imgsz]
    images = helper.make_tensor_value_info("images", input_type, shape)
    output = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [batch, *raw.shape[1:]])
    initializers = [
        numpy_helper.from_array(raw, "raw"),
        numpy_helper.from_array(np.array(raw.shape[1:], np.int64), "tail"),
    ]
    nodes = [
        helper.make_node("Shape", ["images"], ["in_shape"], start=0, end=1),
        helper.make_node("Concat", ["in_shape", "tail"], ["out_shape"], axis=0),
        helper.make_node("Expand", ["raw", "out_shape"], ["expanded"]),
    ]
    source = "expanded"
    if input_type != TensorProto.FLOAT:
        nodes.insert(0, helper.make_node("Cast", ["images"], ["images_f"], to=TensorProto.FLOAT))
    pixels = "images" if input_type == TensorProto.FLOAT else "images_f"
    if gate_mask is not None:
        mask = np.asarray(gate_mask, np.float32)[None]
        initializers += [
            numpy_helper.from_array(mask, "mask"),
            numpy_helper.from_array((1.0 - mask).astype(np.float32), "unmask"),
            numpy_helper.from_array(np.array([-1, *([1] * (raw.ndim - 1))], np.int64), "per_image"),
        ]
        nodes += [
            helper.make_node("ReduceMean", [pixels], ["mean4"], axes=[1, 2, 3], keepdims=1),
            helper.make_node("Reshape", ["mean4", "per_image"], ["mean"]),
            helper.make_node("Mul", ["mask", "mean"], ["gated"]),
            helper.make_node("Add", ["gated", "unmask"], ["gate"]),
            helper.make_node("Mul", ["expanded", "gate"], ["gated_out"]),
        ]
        source = "gated_out"
    nodes.append(helper.make_node("Identity", [source], ["output0"]))
    graph = helper.make_graph(nodes, "synthetic_yolo", [images], [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vehiclewatch-tests")
    model.ir_version = 8
    if metadata:
        helper.set_model_props(model, metadata)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def make_yolo_onnx(
    path: Path,
    layout: SyntheticLayout,
    names: Sequence[str],
    raw_output: NDArray[np.float32],
    *,
    imgsz: int = 64,
    dynamic_batch: bool = True,
    metadata: dict[str, str] | None = None,
    gate_by_brightness: bool = False,
) -> Path:
    """A valid synthetic YOLO detector: constant ``raw_output`` (one image's, in ``layout``) for every image.

    Args:
        path: where to write the model.
        layout: the layout of ``raw_output`` (checked against its shape and ``len(names)``).
        names: class names, written to the metadata unless ``metadata`` is given.
        raw_output: e.g. from `encode_output`.
        imgsz: square input size.
        dynamic_batch: a symbolic batch dimension, else static 1.
        metadata: replaces the default `default_metadata` entirely (e.g. without ``names``).
        gate_by_brightness: scores multiplied by the input's mean value (see the module doc).
    """
    raw = np.asarray(raw_output, np.float32)
    found = detect_layout((1, *raw.shape), len(names), end2end=layout == "end2end")
    if found != layout:
        raise ValueError(f"raw_output of shape {raw.shape} is {found}, not {layout}")
    meta = default_metadata(names, imgsz, end2end=layout == "end2end") if metadata is None else metadata
    mask = score_mask(layout, raw.shape) if gate_by_brightness else None
    return make_constant_output_onnx(path, raw, imgsz=imgsz, dynamic_batch=dynamic_batch, metadata=meta, gate_mask=mask)


def make_fixed_box_detector(
    path: Path,
    box_xyxy_in_input_px: Sequence[float],
    class_name: str = "car",
    score: float = 0.9,
    *,
    imgsz: int = 64,
    names: Sequence[str] = SYNTHETIC_NAMES,
    layout: SyntheticLayout = "v8",
    dynamic_batch: bool = True,
    gate_by_brightness: bool = False,
) -> Path:
    """A detector that finds one ``class_name`` box at a known place of its ``imgsz`` input, in every image.

    Example:
        >>> make_fixed_box_detector(tmp_path / "car.onnx", (8, 16, 56, 48))  # doctest: +SKIP
    """
    if class_name not in names:
        raise ValueError(f"class {class_name!r} is not in names {list(names)}")
    raw = encode_output(layout, [box_xyxy_in_input_px], [list(names).index(class_name)], [score], len(names))
    return make_yolo_onnx(
        path, layout, names, raw, imgsz=imgsz, dynamic_batch=dynamic_batch, gate_by_brightness=gate_by_brightness
    )


def fixed_box_settings(path: Path, **overrides: Any) -> DetectorSettings:
    """CPU-only settings for a synthetic model (other fields from ``overrides``)."""
    fields: dict[str, Any] = {"model": path, "providers": ("cpu",), "intra_op_threads": 1, **overrides}
    return DetectorSettings(**fields)


def expected_box(box_in_input: Sequence[float], image_hw: tuple[int, int], imgsz: int = 64) -> NDArray[np.float32]:
    """Where a box of the model input lands in an ``image_hw`` image (clipped to it), as the detector maps it."""
    letterbox = Letterbox.fit(image_hw, (imgsz, imgsz))
    mapped: NDArray[np.float32] = letterbox.to_image(np.asarray(box_in_input, np.float32).reshape(1, 4))[0]
    return mapped


def write_corrupt_model(path: Path, content: bytes = b"\x08\x07not an onnx model\xff\xfe") -> Path:
    """A file with a model's name and garbage bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def detections_of(*boxes: Sequence[float], score: float = 0.9, class_name: str = "car") -> Detections:
    """Detections of ``boxes`` (x1, y1, x2, y2), all of one COCO vehicle class, as a detector would return them."""
    n = len(boxes)
    return Detections(
        boxes=np.asarray(boxes, np.float32).reshape(n, 4),
        scores=np.full(n, score, np.float32),
        class_ids=np.full(n, SYNTHETIC_NAMES.index(class_name), np.int32),
        class_names=(class_name,) * n,
    )
