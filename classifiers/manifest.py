"""How a classifier ONNX file describes itself: labels and preprocessing from metadata or a sidecar YAML.

The keys (``task``, ``labels``, ``input_size``, ``mean``, ``std`` or ``scale``, ``color_order``, ``resize``,
``input_layout``) are defined in ``shared/models/README.md``. A sidecar ``<model>.yaml`` next to the ONNX file
overrides the embedded metadata key by key, for models whose export cannot carry metadata.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from detectors.runtime import ModelLoadError

MANIFEST_KEYS = ("task", "labels", "input_size", "mean", "std", "scale", "color_order", "resize", "input_layout")


class ClassifierManifest(BaseModel):
    """A classifier's contract: its heads with their labels, and how to turn a crop into its input."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str = Field(description="make | make_model | color | type | vehicle_attributes | ...")
    heads: dict[str, tuple[str, ...]] = Field(description="output name -> labels, in output order")
    input_height: int = Field(gt=0)
    input_width: int = Field(gt=0)
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    color_order: Literal["RGB", "BGR"] = "RGB"
    resize: Literal["stretch"] = "stretch"
    input_layout: Literal["NCHW", "NHWC"] = "NCHW"

    @field_validator("heads")
    @classmethod
    def _heads_have_labels(cls, heads: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        if not heads:
            raise ValueError("no labels: the model names no output with labels")
        for output, labels in heads.items():
            if not labels:
                raise ValueError(f"output {output!r} has an empty label list")
        return heads

    def head_name(self, output: str) -> str:
        """The name the rest of the system uses for an output: the task for one-output models
        (``make``, ``color``), the output's own name when a model has several (``color``, ``type``)."""
        return self.task if len(self.heads) == 1 else output


def _floats3(raw: Any, key: str) -> tuple[float, float, float]:
    parts = [float(x) for x in raw] if isinstance(raw, list | tuple) else [float(x) for x in str(raw).split(",")]
    if len(parts) == 1:
        parts = parts * 3
    if len(parts) != 3:
        raise ValueError(f"{key} must have 1 or 3 numbers, got {raw!r}")
    return (parts[0], parts[1], parts[2])


def _size(raw: Any) -> tuple[int, int]:
    parts = list(raw) if isinstance(raw, list | tuple) else str(raw).lower().split("x")
    try:
        if len(parts) != 2:
            raise ValueError
        return int(parts[0]), int(parts[1])
    except (TypeError, ValueError):
        raise ValueError(f"input_size must be HxW (e.g. 224x224), got {raw!r}") from None


def _labels(raw: Any, outputs: list[str]) -> dict[str, tuple[str, ...]]:
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        raise ValueError(f"labels must be a JSON list or object, got {raw[:40]!r}") from None
    if isinstance(value, list):
        if len(outputs) < 1:
            raise ValueError("labels given but the model has no output")
        return {outputs[0]: tuple(str(x) for x in value)}
    if isinstance(value, dict):
        unknown = [k for k in value if k not in outputs]
        if unknown:
            raise ValueError(f"labels name outputs the model does not have: {unknown} (outputs: {outputs})")
        return {str(k): tuple(str(x) for x in v) for k, v in value.items()}
    raise ValueError(f"labels must be a JSON list or object, got {type(value).__name__}")


def parse_manifest(meta: dict[str, Any], outputs: list[str], source: str) -> ClassifierManifest:
    """Builds a manifest from metadata key/values (strings from ONNX, or YAML values from a sidecar)."""
    try:
        if "labels" not in meta:
            raise ValueError("no 'labels' in its metadata or sidecar YAML")
        if "input_size" not in meta:
            raise ValueError("no 'input_size' in its metadata or sidecar YAML")
        h, w = _size(meta["input_size"])
        mean = _floats3(meta.get("mean", 0), "mean")
        if "std" in meta:
            std = _floats3(meta["std"], "std")
        elif "scale" in meta:
            scale = float(meta["scale"])
            if scale == 0:
                raise ValueError("scale must not be 0")
            std = (1 / scale, 1 / scale, 1 / scale)
        else:
            std = (1.0, 1.0, 1.0)
        return ClassifierManifest(
            task=str(meta.get("task", "classes")),
            heads=_labels(meta["labels"], outputs),
            input_height=h,
            input_width=w,
            mean=mean,
            std=std,
            color_order=str(meta.get("color_order", "RGB")).upper(),
            resize=str(meta.get("resize", "stretch")).lower(),
            input_layout=str(meta.get("input_layout", "NCHW")).upper(),
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ModelLoadError(f"classifier {source}: {where}: {err['msg']}") from exc
    except (ValueError, TypeError) as exc:
        raise ModelLoadError(f"classifier {source}: {exc}") from exc


def sidecar_path(model_path: Path) -> Path:
    return model_path.with_suffix(".yaml")


def load_manifest(model_path: Path, metadata: dict[str, str], outputs: list[str]) -> ClassifierManifest:
    """The manifest of ``model_path``: its ONNX metadata, overridden key by key by a sidecar YAML if present."""
    meta: dict[str, Any] = {k: v for k, v in metadata.items() if k in MANIFEST_KEYS}
    sidecar = sidecar_path(model_path)
    if sidecar.is_file():
        try:
            extra = yaml.safe_load(sidecar.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ModelLoadError(f"classifier {model_path.name}: sidecar {sidecar.name} is not valid YAML") from exc
        if not isinstance(extra, dict):
            raise ModelLoadError(f"classifier {model_path.name}: sidecar {sidecar.name} must be a mapping")
        unknown = sorted(set(extra) - set(MANIFEST_KEYS))
        if unknown:
            raise ModelLoadError(f"classifier {model_path.name}: sidecar {sidecar.name} has unknown key {unknown[0]!r}")
        meta.update(extra)
    return parse_manifest(meta, outputs, model_path.name)
