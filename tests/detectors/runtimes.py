"""Both inference runtimes as a test parameter, so each behaviour is checked on ONNX Runtime and on OpenVINO.

OpenVINO is asked for fp32 here: on CPUs with bf16 it would otherwise compute in bf16 (its choice), and the tests
that compare scores exactly are about the model code, not about bf16 rounding (that has tests of its own).
"""

from __future__ import annotations

from typing import Any

import pytest

from detectors.engines.base import DYNAMIC
from detectors.engines.selection import openvino_available

OPENVINO_MISSING = "the openvino package does not import here (pip install openvino)"

RUNTIMES = [
    pytest.param("onnxruntime", id="onnxruntime"),
    pytest.param(
        "openvino", id="openvino", marks=pytest.mark.skipif(not openvino_available(), reason=OPENVINO_MISSING)
    ),
]


def exact(runtime: str) -> dict[str, Any]:
    """Settings fields that run ``runtime`` in fp32."""
    return {"runtime": runtime, "precision": "fp32"}


def dynamic_name(runtime: str, name: str = "batch") -> str:
    """How ``runtime`` names a dynamic dimension that the file calls ``name``: ONNX Runtime keeps the name,
    OpenVINO does not."""
    return name if runtime == "onnxruntime" else DYNAMIC
