"""Tiny classifier ONNX files whose answer is the crop's dominant colour, for deterministic tests.

The graph is ``GlobalAveragePool → Flatten → MatMul → Softmax``: the mean of each channel, times ``gain``, is the
logit of the label tied to that colour, so a red patch is "red" with probability ≈ 1. The model carries the same
metadata keys as the real classifiers in ``shared/models`` (or a sidecar YAML with them), so the whole loading path
is exercised.

Example:
    >>> path = make_color_classifier(tmp_path / "color.onnx")  # doctest: +SKIP
    >>> bank = ClassifierBank.from_settings(ClassifierSettings(models=[{"model": path}]))  # doctest: +SKIP
    >>> bank.classify_images([solid_bgr("red")])[0].top(1)["color"][0].label  # doctest: +SKIP
    'red'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx
import yaml
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

# Pure colours in OpenCV's BGR order; the synthetic heads' labels are tied to red, green, blue in this order.
COLORS_BGR: dict[str, tuple[int, int, int]] = {"red": (0, 0, 255), "green": (0, 255, 0), "blue": (255, 0, 0)}
COLOR_LABELS = ("red", "green", "blue")
TYPE_LABELS = ("car", "bus", "truck")
OPSET = 17
IR_VERSION = 8  # old enough for any ONNX Runtime the project supports


def solid_bgr(color: str | tuple[int, int, int], height: int = 64, width: int = 64) -> NDArray[np.uint8]:
    """A BGR uint8 image of one colour: a name from ``COLORS_BGR`` or a ``(b, g, r)`` triple."""
    bgr = COLORS_BGR[color] if isinstance(color, str) else color
    image = np.empty((height, width, 3), np.uint8)
    image[:] = bgr
    return image


def _head_weights(n_labels: int, color_order: str, gain: float) -> NDArray[np.float32]:
    """``(3, n_labels)``: label j is scored by the j-th of red, green, blue, wherever the model's order puts it."""
    weights = np.zeros((3, n_labels), np.float32)
    for j in range(min(n_labels, 3)):
        channel = j if color_order == "RGB" else 2 - j
        weights[channel, j] = gain
    return weights


def make_color_classifier(
    path: Path,
    *,
    labels: Sequence[str] = COLOR_LABELS,
    task: str = "color",
    input_size: tuple[int, int] = (32, 32),
    color_order: Literal["RGB", "BGR"] = "RGB",
    layout: Literal["NCHW", "NHWC"] = "NCHW",
    batch: int | None = None,
    multi_output: bool = False,
    type_labels: Sequence[str] = TYPE_LABELS,
    embedding: bool = False,
    logits: bool = False,
    normalization: Literal["scale", "std"] = "scale",
    metadata_in: Literal["onnx", "sidecar"] = "onnx",
    metadata_overrides: Mapping[str, Any] | None = None,
    gain: float = 10.0,
    float16_input: bool = False,
) -> Path:
    """Writes a classifier ONNX file that answers with the crop's dominant colour, and returns its path.

    Args:
        path: where to write the ``.onnx`` file (a sidecar goes next to it as ``.yaml``).
        labels: labels of the colour head; label j is scored by the j-th of red, green, blue (extra labels score 0).
        task: the metadata ``task`` (the head's name for one-output models).
        input_size: ``(height, width)`` of the model input.
        color_order: channel order the model expects (its weights follow it, so answers do not change).
        layout: ``NCHW`` or ``NHWC`` input.
        batch: a static batch size, or None for a symbolic ``batch`` dimension.
        multi_output: two labelled outputs, ``color`` and ``type`` (car for red, bus for green, truck for blue),
            like ``omz_vehicle_attributes``; the task becomes ``vehicle_attributes``.
        type_labels: labels of the ``type`` output.
        embedding: also output ``embedding`` (the channel means, no labels), like the spectrico models.
        logits: leave out the Softmax, as many exports do.
        normalization: describe the 0..1 input scaling as ``scale`` (1/255) or as ``std`` (255).
        metadata_in: put the manifest keys in the ONNX metadata, or in a sidecar YAML (none in the ONNX file).
        metadata_overrides: keys replacing the generated ones; a None value removes the key (e.g. ``labels``).
        gain: logit per unit of channel mean; 10 gives ≈ 0.9999 for a pure colour.
        float16_input: take a float16 input (cast to float32 inside), like half-precision exports.
    """
    h, w = input_size
    dims: list[int | str] = [batch if batch is not None else "batch"]
    dims += [3, h, w] if layout == "NCHW" else [h, w, 3]
    nodes = []
    first = "input"
    if float16_input:
        nodes.append(helper.make_node("Cast", [first], ["input_f32"], to=TensorProto.FLOAT))
        first = "input_f32"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", [first], ["nchw"], perm=[0, 3, 1, 2]))
        first = "nchw"
    nodes += [
        helper.make_node("GlobalAveragePool", [first], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["means"], axis=1),
    ]
    heads = {"color": list(labels), "type": list(type_labels)} if multi_output else {"probs": list(labels)}
    initializers = []
    outputs = []
    batch_dim: int | str = dims[0]
    for output, head_labels in heads.items():
        weights = numpy_helper.from_array(_head_weights(len(head_labels), color_order, gain), f"{output}_w")
        initializers.append(weights)
        if logits:
            nodes.append(helper.make_node("MatMul", ["means", weights.name], [output]))
        else:
            nodes.append(helper.make_node("MatMul", ["means", weights.name], [f"{output}_logits"]))
            nodes.append(helper.make_node("Softmax", [f"{output}_logits"], [output], axis=1))
        outputs.append(helper.make_tensor_value_info(output, TensorProto.FLOAT, [batch_dim, len(head_labels)]))
    if embedding:
        nodes.append(helper.make_node("Identity", ["means"], ["embedding"]))
        outputs.append(helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [batch_dim, 3]))
    graph = helper.make_graph(
        nodes,
        "synthetic_color_classifier",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT16 if float16_input else TensorProto.FLOAT, dims)],
        outputs,
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vehiclewatch-tests")
    model.ir_version = IR_VERSION

    meta: dict[str, Any] = {
        "task": "vehicle_attributes" if multi_output else task,
        "labels": heads if multi_output else list(labels),
        "input_size": f"{h}x{w}",
        "mean": [0, 0, 0],
        "color_order": color_order,
        "resize": "stretch",
        "input_layout": layout,
    }
    if normalization == "scale":
        meta["scale"] = 1 / 255
    else:
        meta["std"] = [255, 255, 255]
    for key, value in (metadata_overrides or {}).items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    if metadata_in == "onnx":
        helper.set_model_props(model, {key: _metadata_text(value) for key, value in meta.items()})
    else:
        path.with_suffix(".yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


def _metadata_text(value: Any) -> str:
    """Metadata values as the real models write them: JSON for labels, ``a,b,c`` for triples."""
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        if all(isinstance(v, int | float) for v in value):
            return ",".join(str(v) for v in value)
        return json.dumps(list(value))
    return str(value)


class RunCounter:
    """Wraps an ONNX Runtime session's ``run`` and records the batch size of every call.

    Example:
        >>> counter = RunCounter.install(classifier.session, monkeypatch)  # doctest: +SKIP
        >>> classifier.classify(crops); counter.batches  # doctest: +SKIP
        [32, 8]
    """

    def __init__(self, run: Any) -> None:
        self._run = run
        self.batches: list[int] = []

    @classmethod
    def install(cls, session: Any, monkeypatch: Any) -> RunCounter:
        """Replaces ``session.run`` for the test (``monkeypatch`` is pytest's fixture) and returns the counter."""
        counter = cls(session.run)
        monkeypatch.setattr(session, "run", counter)
        return counter

    def __call__(self, output_names: Any, feed: Mapping[str, Any], *args: Any, **kwargs: Any) -> Any:
        self.batches.append(int(next(iter(feed.values())).shape[0]))
        return self._run(output_names, feed, *args, **kwargs)

    @property
    def calls(self) -> int:
        return len(self.batches)
