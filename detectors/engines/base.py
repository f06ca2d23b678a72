"""What model code needs from an inference runtime: the graph's inputs and outputs, its metadata, and ``run``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from detectors.providers import DEFAULT_PROVIDERS, PrecisionName, RuntimeName

__all__ = ["DYNAMIC", "ConcreteRuntime", "EngineOptions", "InferenceEngine", "RunsOnEngine", "TensorSpec"]

ConcreteRuntime = Literal["onnxruntime", "openvino"]
"""A runtime that actually runs a model (``auto`` resolved)."""

DYNAMIC = "?"
"""A dynamic dimension without a symbolic name (OpenVINO never keeps the names; ONNX Runtime does)."""


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One input or output of the model file, as the file declares it.

    Attributes:
        name: the tensor's name in the graph.
        shape: each dimension's size, or its symbolic name (e.g. ``"batch"``, or `DYNAMIC`) when it is dynamic;
            None when even the rank is unknown.
        dtype: numpy's name of the element type (``"float32"``, ``"float16"``, ``"uint8"`` ...).
    """

    name: str
    shape: tuple[int | str, ...] | None
    dtype: str

    def dims(self) -> list[int | str]:
        """The shape as a list, for messages (``[]`` when the rank is unknown)."""
        return list(self.shape) if self.shape is not None else []


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """How to open a model; each runtime uses the options that mean something to it.

    Attributes:
        runtime: ``onnxruntime``, ``openvino`` or ``auto`` (see `detectors.engines.selection.choose_runtime`).
        providers: ONNX Runtime providers in order of preference (ONNX Runtime; ``auto`` looks at them too).
        threads: threads one inference may use (ONNX Runtime intra-op threads, OpenVINO ``INFERENCE_NUM_THREADS``);
            0: the runtime's choice.
        precision: OpenVINO's inference precision (``auto``: its choice for the CPU).
        requests: OpenVINO inference requests run in parallel on the chunks of one call (one CPU stream each);
            1 runs them one after the other with every core on each (lowest latency).
        batch: OpenVINO: the static batch size a dynamic batch dimension is compiled with (a static shape runs
            faster on the CPU); larger inputs run as chunks of it, spread over ``requests``. None keeps it dynamic.
    """

    runtime: RuntimeName = "auto"
    providers: tuple[str, ...] = DEFAULT_PROVIDERS
    threads: int = 0
    precision: PrecisionName = "auto"
    requests: int = 1
    batch: int | None = None


@runtime_checkable
class InferenceEngine(Protocol):
    """One opened model on one runtime. ``run`` is safe to call from several threads at once."""

    @property
    def runtime_name(self) -> ConcreteRuntime:
        """``onnxruntime`` or ``openvino``."""
        ...

    @property
    def device(self) -> str:
        """What runs the model: the ONNX Runtime provider (``CUDAExecutionProvider`` ...) or OpenVINO's device."""
        ...

    @property
    def precision(self) -> str:
        """The precision it computes in: ``fp32``, ``fp16``, ``bf16``, or ``int8 (bf16 elsewhere)`` for a
        quantized file."""
        ...

    @property
    def accelerator(self) -> bool:
        """Whether a GPU runs it (accelerators set kernels up per input shape: warm the largest batch up front)."""
        ...

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        """The file's inputs, in order."""
        ...

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        """The file's outputs, in order."""
        ...

    @property
    def metadata(self) -> Mapping[str, str]:
        """The file's ``metadata_props``."""
        ...

    def run(self, output_names: Sequence[str] | None, feeds: Mapping[str, NDArray[Any]]) -> list[NDArray[Any]]:
        """One inference on ``feeds`` (input name → array, any batch size the model takes); returns the outputs
        named (all, in order, for None) as arrays the caller owns. The argument order is ONNX Runtime's."""
        ...


def numpy_dtype_name(dtype: Any) -> str:
    """numpy's name of a dtype-like value (``np.float32`` → ``"float32"``)."""
    return str(np.dtype(dtype).name)


class RunsOnEngine:
    """A model that runs on one `InferenceEngine` (set as ``_engine``): what runs it, for the log and ``bench``."""

    _engine: InferenceEngine

    @property
    def engine(self) -> InferenceEngine:
        """The model on its runtime."""
        return self._engine

    @property
    def runtime_name(self) -> str:
        """``onnxruntime`` or ``openvino``."""
        return self._engine.runtime_name

    @property
    def device(self) -> str:
        """The ONNX Runtime provider (``CPUExecutionProvider`` ...) or OpenVINO device (``CPU``) running it."""
        return self._engine.device

    @property
    def precision(self) -> str:
        """The precision it computes in (``fp32``, ``bf16`` ...; ``int8 (bf16 elsewhere)`` for a quantized file)."""
        return self._engine.precision
