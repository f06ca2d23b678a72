"""The ``providers`` setting of every model-loading section: ONNX Runtime execution providers, by short name.

Settings only: config loading imports this module, so it must not import ONNX Runtime (``detectors.runtime`` does
the resolving).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

__all__ = ["DEFAULT_PROVIDERS", "PROVIDER_ALIASES", "Providers", "check_provider_names"]

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
