"""A YOLOv8 ONNX export re-sized to another input size: rectangular inference without re-exporting.

A 16:9 camera frame letterboxed into the square 640x640 input that Ultralytics exports is 44 % grey padding, and
the network pays for every padded pixel. Fed as 384x640 instead (the frame's own shape, to the stride), the same
weights see the same pixels at the same scale for 60 % of the work; Ultralytics' own PyTorch predictor does this
("rect" letterbox), but its exported models are fixed to one size.

The convolutions do not care about the input size; what ties an export to it is its decoding head, which holds
the anchor grid (``[1, 2, N]`` centres), the per-anchor strides (``[1, N]``) and reshape targets with the anchor
count N = sum over strides of (H/s)(W/s) baked in as constants. :func:`resize_input` recomputes the grid for the
new size, lets the reshapes infer N, and declares the new input and output shapes. Anything it does not recognise
is refused (:class:`InputShapeError`), never guessed: the detector then keeps the model's own size.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import numpy_helper

log = logging.getLogger(__name__)

STRIDES = (8, 16, 32)
"""YOLOv8 detection strides (P3, P4, P5)."""


class InputShapeError(ValueError):
    """The model cannot be given another input size (not a recognised YOLO export, or a size it cannot take)."""


def anchor_count(height: int, width: int) -> int:
    """Anchors of a YOLOv8 head for an input of ``height`` x ``width`` (8400 for 640x640)."""
    return sum((height // s) * (width // s) for s in STRIDES)


def anchor_grid(height: int, width: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The head's anchor centres ``[1, 2, N]`` (x row, y row; cell centres in grid units) and strides ``[1, N]``,
    in the export's order: stride 8's cells row by row, then 16's, then 32's."""
    points: list[NDArray[np.float32]] = []
    strides: list[NDArray[np.float32]] = []
    for stride in STRIDES:
        rows, cols = height // stride, width // stride
        ys, xs = np.meshgrid(np.arange(rows, dtype=np.float32), np.arange(cols, dtype=np.float32), indexing="ij")
        points.append(np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5]))
        strides.append(np.full(rows * cols, stride, np.float32))
    return np.concatenate(points, axis=1)[None], np.concatenate(strides)[None]


def _input_hw(model: onnx.ModelProto) -> tuple[int, int]:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 4 or not dims[2].dim_value or not dims[3].dim_value:
        raise InputShapeError("the input is not a fixed-size [batch, 3, H, W] image")
    return dims[2].dim_value, dims[3].dim_value


def resize_input(model: onnx.ModelProto, height: int, width: int) -> onnx.ModelProto:
    """A copy of a YOLOv8 ONNX export (detection head, boxes decoded in the graph) taking
    ``[batch, 3, height, width]`` images.

    Raises:
        InputShapeError: the size is not a multiple of the largest stride, or the graph's head is not the one
            this recognises (its anchor constants do not match the grid of its declared input size).
    """
    if height <= 0 or width <= 0 or height % STRIDES[-1] or width % STRIDES[-1]:
        raise InputShapeError(f"input {height}x{width} must be positive multiples of {STRIDES[-1]}")
    old_h, old_w = _input_hw(model)
    if (old_h, old_w) == (height, width):
        return model
    old_n, new_n = anchor_count(old_h, old_w), anchor_count(height, width)
    old_points, old_strides = anchor_grid(old_h, old_w)
    new_points, new_strides = anchor_grid(height, width)
    resized = onnx.ModelProto()
    resized.CopyFrom(model)
    found = {"points": 0, "strides": 0, "reshape": 0}
    for tensor in resized.graph.initializer:
        is_shape_vector = len(tensor.dims) == 1 and tensor.data_type == onnx.TensorProto.INT64 and tensor.dims[0] <= 8
        if old_n not in tensor.dims and not is_shape_vector:
            continue
        value = numpy_helper.to_array(tensor)
        if old_n not in tensor.dims and old_n not in value:
            continue
        if value.shape == old_points.shape and np.allclose(value, old_points):
            replacement, kind = new_points.astype(value.dtype), "points"
        elif value.shape == old_strides.shape and np.allclose(value, old_strides):
            replacement, kind = new_strides.astype(value.dtype), "strides"
        elif value.ndim == 1 and value.dtype == np.int64 and list(value).count(old_n) == 1 and -1 not in value:
            replacement, kind = np.where(value == old_n, -1, value).astype(np.int64), "reshape"  # N inferred
        else:
            raise InputShapeError(f"constant {tensor.name!r} {list(tensor.dims)} depends on the input size")
        tensor.CopyFrom(numpy_helper.from_array(replacement, tensor.name))
        found[kind] += 1
    if not found["points"] or not found["strides"]:
        raise InputShapeError("no YOLOv8 anchor grid found in the graph (only such exports can be resized)")
    dims = resized.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_value, dims[3].dim_value = height, width
    for output in resized.graph.output:
        for dim in output.type.tensor_type.shape.dim:
            if dim.dim_value == old_n:
                dim.dim_value = new_n
    del resized.graph.value_info[:]  # shapes inferred for the old size; the runtimes infer them again
    _set_imgsz(resized, height, width)
    # Other size-bound constants (YOLO11's attention block reshapes to its 20x20 grid) make shapes clash: refuse
    # here, in one line, rather than fail in the runtime.
    try:
        onnx.shape_inference.infer_shapes(resized, check_type=True, strict_mode=True, data_prop=True)
    except Exception as exc:  # onnx raises several private error types
        reason = str(exc).strip().splitlines()[-1][:160] if str(exc).strip() else type(exc).__name__
        raise InputShapeError(f"other parts of the graph are tied to its input size ({reason})") from None
    return resized


def _set_imgsz(model: onnx.ModelProto, height: int, width: int) -> None:
    for prop in model.metadata_props:
        if prop.key == "imgsz":
            prop.value = f"[{height}, {width}]"


def _up_to_stride(pixels: float) -> int:
    stride = STRIDES[-1]
    return int(-(-round(pixels) // stride) * stride)


def fit_input(model_hw: tuple[int, int], frame_sizes: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The smallest input (multiples of the largest stride) that holds every frame size at the scale the model's
    own input would give it: (384, 640) for 16:9 frames and a 640x640 export, (480, 640) for 4:3, the model's
    size for a mix of landscape and portrait frames, or when no frame size is known.

    Example:
        >>> fit_input((640, 640), [(720, 1280), (1080, 1920)])
        (384, 640)
    """
    model_h, model_w = model_hw
    height = width = 0
    for frame_h, frame_w in frame_sizes:
        if frame_h <= 0 or frame_w <= 0:
            continue
        ratio = min(model_h / frame_h, model_w / frame_w)  # the letterbox scale of the model's own input
        height = max(height, _up_to_stride(frame_h * ratio))
        width = max(width, _up_to_stride(frame_w * ratio))
    if not height:
        return model_hw
    return min(height, model_h), min(width, model_w)


def _model_hw(model: onnx.ModelProto) -> tuple[int, int] | None:
    try:
        return _input_hw(model)
    except InputShapeError:
        return None


def resized_model_file(
    path: Path, input_size: str | tuple[int, int], frame_sizes: Sequence[tuple[int, int]], directory: Path
) -> Path:
    """The detector file to open for ``input_size`` (a `DetectorSettings.input_size`): ``path`` itself when the
    model keeps its own size, else a re-sized copy written to ``directory``.

    Raises:
        InputShapeError: an explicit ``[h, w]`` the model cannot take.
    """
    if input_size == "model":
        return path
    try:
        model = onnx.load(str(path))
    except Exception:  # unreadable here: opening it on the runtime says why, in the detector's own words
        return path
    model_hw = _model_hw(model)
    if model_hw is None:
        if isinstance(input_size, tuple):
            raise InputShapeError("its input size is not fixed in the file, so it cannot be re-sized")
        return path
    target = input_size if isinstance(input_size, tuple) else fit_input(model_hw, frame_sizes)
    if target == model_hw:
        return path
    try:
        resized = resize_input(model, *target)
    except InputShapeError as exc:
        if isinstance(input_size, tuple):
            raise
        log.info("detector %s keeps its input size %dx%d: %s", path.name, model_hw[1], model_hw[0], exc)
        return path
    out = directory / f"{path.stem}_{target[0]}x{target[1]}.onnx"
    onnx.save(resized, str(out))
    return out
