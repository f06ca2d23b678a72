"""Validation of `DetectorSettings` (class names are checked against the model in test_yolo)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pydantic
import pytest

from detectors.settings import DetectorSettings


def test_defaults() -> None:
    settings = DetectorSettings(model=Path("m.onnx"))
    assert settings.type == "yolo"
    assert settings.providers == ("tensorrt", "cuda", "cpu")
    assert settings.confidence == 0.35
    assert settings.iou == 0.45
    assert settings.classes == ("car", "bus", "truck", "motorcycle")
    assert settings.min_box_size == 16
    assert settings.max_batch == 1
    assert settings.max_wait_ms == 5.0
    assert settings.intra_op_threads == 0
    assert settings.runtime == "auto"
    assert settings.precision == "auto"
    assert settings.infer_requests == 1


def test_every_field_is_described() -> None:
    assert all(field.description for field in DetectorSettings.model_fields.values())


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"classes": ["car"], "providers": ["cpu"]}, None),
        ({"classes": ["car", "bus"], "providers": ["CUDAExecutionProvider", "cpu"]}, None),
        ({"confidence": 0.0, "iou": 1.0, "min_box_size": 0, "max_wait_ms": 0}, None),
        ({"confidence": 1.5}, "confidence\n  Input should be less than or equal to 1"),
        ({"confidence": -0.1}, "confidence\n  Input should be greater than or equal to 0"),
        ({"iou": 2}, "iou\n  Input should be less than or equal to 1"),
        ({"classes": []}, "classes\n  Tuple should have at least 1 item"),
        ({"classes": ["car", "car"]}, "classes lists a name twice: ['car', 'car']"),
        ({"classes": ["car", " "]}, "classes has an empty name"),
        ({"providers": ["gpu"]}, "unknown provider 'gpu': use tensorrt, cuda, cpu or a full ORT name"),
        ({"providers": []}, "providers\n  Tuple should have at least 1 item"),
        ({"min_box_size": -1}, "min_box_size\n  Input should be greater than or equal to 0"),
        ({"max_batch": 0}, "max_batch\n  Input should be greater than or equal to 1"),
        ({"max_wait_ms": -1}, "max_wait_ms\n  Input should be greater than or equal to 0"),
        ({"intra_op_threads": -2}, "intra_op_threads\n  Input should be greater than or equal to 0"),
        ({"runtime": "openvino", "precision": "fp32", "infer_requests": 2}, None),
        ({"runtime": "onnxruntime", "precision": "bf16"}, None),
        ({"runtime": "tensorrt"}, "runtime\n  Input should be 'auto', 'onnxruntime' or 'openvino'"),
        ({"precision": "int8"}, "precision\n  Input should be 'auto', 'fp32', 'bf16' or 'fp16'"),
        ({"infer_requests": 0}, "infer_requests\n  Input should be greater than or equal to 1"),
        ({"nms": 0.5}, "nms\n  Extra inputs are not permitted"),
        ({"type": "yolo"}, None),
        ({"type": "ssd"}, "type\n  Input should be 'yolo'"),
    ],
)
def test_validation(fields: dict[str, Any], error: str | None) -> None:
    if error is None:
        settings = DetectorSettings(model=Path("m.onnx"), **fields)
        for key, value in fields.items():
            assert getattr(settings, key) == (tuple(value) if isinstance(value, list) else value)
        return
    with pytest.raises(pydantic.ValidationError, match=re.escape(error)):
        DetectorSettings(model=Path("m.onnx"), **fields)


def test_frozen() -> None:
    settings = DetectorSettings(model=Path("m.onnx"))
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        settings.confidence = 0.9  # type: ignore[misc]


def test_from_yaml_like_dict() -> None:
    settings = DetectorSettings.model_validate(
        {"model": "models/yolo.onnx", "classes": ["car", "truck"], "max_batch": 4, "providers": ["cpu"]}
    )
    assert settings.model == Path("models/yolo.onnx")
    assert settings.classes == ("car", "truck")
