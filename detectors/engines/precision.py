"""The precision a model file itself is in: integer (quantized) operators, float16 weights, or float32.

ONNX Runtime computes in the file's own precision, so this is what it reports; OpenVINO reports its inference
precision, and the file's int8 beside it. Reading the graph properly needs the ``onnx`` package, which a serving
machine lacks: integer operators are found by their ``op_type`` bytes instead (exact, since the protobuf field
tag and length prefix the name), and float16 weights only when ``onnx`` is installed.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

__all__ = ["INTEGER_OPS", "file_precision"]

INTEGER_OPS: tuple[str, ...] = (
    "ConvInteger",
    "MatMulInteger",
    "QLinearConv",
    "QLinearMatMul",
    "DynamicQuantizeLinear",
    "QuantizeLinear",
)
"""Operators that make a graph (partly) integer: dynamic or static quantization."""

_OP_TYPE_TAG = 0x22  # NodeProto.op_type: field 4, length-delimited


def _op_type_bytes(name: str) -> bytes:
    return bytes([_OP_TYPE_TAG, len(name)]) + name.encode()


_INTEGER_PATTERNS = tuple(_op_type_bytes(op) for op in INTEGER_OPS)


def file_precision(path: Path) -> str:
    """``int8`` when the graph holds integer operators, ``fp16`` when its weights are float16 (known only with the
    ``onnx`` package installed), else ``fp32``."""
    data = path.read_bytes()
    if any(pattern in data for pattern in _INTEGER_PATTERNS):
        return "int8"
    return "fp16" if _float16_weights(path) else "fp32"


def _float16_weights(path: Path) -> bool:
    try:
        onnx: Any = importlib.import_module("onnx")
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # no onnx package (serving install) or a file it cannot parse: the label stays fp32
        return False
    return any(tensor.data_type == onnx.TensorProto.FLOAT16 for tensor in model.graph.initializer)
