"""The settings every model-loading section shares: ``runtime`` (which inference engine runs the model),
``providers`` (ONNX Runtime execution providers, by short name) and ``precision`` (OpenVINO's inference precision).

Settings only: config loading imports this module, so it must not import ONNX Runtime or OpenVINO
(``detectors.runtime`` and ``detectors.engines`` do the resolving).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

__all__ = [
    "DEFAULT_PROVIDERS",
    "PROVIDER_ALIASES",
    "Precision",
    "PrecisionName",
    "Providers",
    "Runtime",
    "RuntimeName",
    "check_provider_names",
]

RuntimeName = Literal["auto", "onnxruntime", "openvino"]
"""``auto`` is resolved when the model opens (`detectors.engines.selection.choose_runtime`)."""
PrecisionName = Literal["auto", "fp32", "bf16", "fp16"]

# Short names accepted in configuration, mapped to ONNX Runtime's provider names.
PROVIDER_ALIASES: dict[str, str] = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
DEFAULT_PROVIDERS: tuple[str, ...] = ("tensorrt", "cuda", "cpu")


def check_provider_names(providers: tuple[str, ...]) -> tuple[str, ...]:
    """Rejects names that are neither a short alias nor a full ONNX Runtime provider name (a typo would
    otherwise silently fall back to the CPU)."""
    for name in providers:
        if name.lower() not in PROVIDER_ALIASES and not name.endswith("ExecutionProvider"):
            raise ValueError(f"unknown provider {name!r}: use {', '.join(PROVIDER_ALIASES)} or a full ORT name")
    return providers


Providers = Annotated[
    tuple[str, ...],
    Field(
        min_length=1,
        description="ONNX Runtime providers to try in order: tensorrt, cuda, cpu (or full provider names).",
    ),
    AfterValidator(check_provider_names),
]
"""The ``providers`` setting of every model-loading section."""


Runtime = Annotated[
    RuntimeName,
    Field(
        description=(
            "Inference engine: onnxruntime (CUDA/TensorRT/CPU by `providers`), openvino (the CPU; needs the "
            "openvino package), or auto: ONNX Runtime when one of `providers` other than cpu is usable here (a "
            "GPU), else OpenVINO when it is installed (the YOLOv8n detector measured 2-3x ONNX Runtime's speed on "
            "a CPU), else ONNX Runtime on the CPU. The log says which one runs each model, and at which precision."
        )
    ),
]
"""The ``runtime`` setting of every model-loading section."""

Precision = Annotated[
    PrecisionName,
    Field(
        description=(
            "OpenVINO only: the precision it computes in. auto: OpenVINO's choice for this CPU (bf16 where the CPU "
            "has AMX or AVX-512 BF16, else fp32); fp32 is exact but slower. ONNX Runtime runs the file's own "
            "precision."
        )
    ),
]
"""The ``precision`` setting of every model-loading section."""
