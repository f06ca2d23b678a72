"""ONNX Runtime as an `InferenceEngine`: the CUDA, TensorRT and CPU providers, exactly as sessions ran before."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from detectors.engines.base import DYNAMIC, ConcreteRuntime, EngineOptions, TensorSpec
from detectors.engines.precision import file_precision
from detectors.runtime import create_session

__all__ = ["OrtEngine", "SessionLike"]

# ONNX Runtime's element type names → numpy's.
_DTYPES: dict[str, str] = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(bfloat16)": "bfloat16",
    "tensor(uint8)": "uint8",
    "tensor(int8)": "int8",
    "tensor(uint16)": "uint16",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
    "tensor(string)": "str",
}
_CPU = "CPUExecutionProvider"


class SessionLike(Protocol):
    """The part of ``onnxruntime.InferenceSession`` the engine uses (tests wrap a session to count calls)."""

    def run(self, output_names: list[str] | None, input_feed: dict[str, Any]) -> list[Any]: ...

    def get_inputs(self) -> list[Any]: ...

    def get_outputs(self) -> list[Any]: ...

    def get_modelmeta(self) -> Any: ...


def _spec(node: Any) -> TensorSpec:
    shape = None if node.shape is None else tuple(d if isinstance(d, int) else (d or DYNAMIC) for d in node.shape)
    return TensorSpec(node.name, shape, _DTYPES.get(node.type, node.type))


class OrtEngine:
    """A model on an ONNX Runtime session; ``run`` is the session's (thread-safe).

    Args:
        session: an ``onnxruntime.InferenceSession`` (see `open`), or any object with its API.
        precision: the file's precision (`detectors.engines.precision.file_precision`); None: from the input type.
    """

    runtime_name: ConcreteRuntime = "onnxruntime"

    def __init__(self, session: SessionLike, precision: str | None = None) -> None:
        self.session = session
        get_providers = getattr(session, "get_providers", None)
        self._device: str = get_providers()[0] if get_providers is not None else _CPU
        self._inputs = tuple(_spec(node) for node in session.get_inputs())
        self._outputs = tuple(_spec(node) for node in session.get_outputs())
        self._metadata: dict[str, str] = dict(session.get_modelmeta().custom_metadata_map)
        if precision is None:
            precision = "fp16" if any(spec.dtype == "float16" for spec in self._inputs) else "fp32"
        self._precision = precision

    @classmethod
    def open(cls, path: Path, options: EngineOptions, *, what: str = "model") -> OrtEngine:
        """Opens ``path`` with ``options.providers`` (the first one this machine can run) and ``options.threads``.

        Raises:
            ModelLoadError: the file is missing or ONNX Runtime cannot load it.
        """
        session = create_session(path, options.providers, intra_op_threads=options.threads, what=what)
        return cls(session, file_precision(path))

    @property
    def device(self) -> str:
        return self._device

    @property
    def precision(self) -> str:
        return self._precision

    @property
    def accelerator(self) -> bool:
        return self._device != _CPU

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return self._inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return self._outputs

    @property
    def metadata(self) -> Mapping[str, str]:
        return self._metadata

    def run(self, output_names: Sequence[str] | None, feeds: Mapping[str, NDArray[Any]]) -> list[NDArray[Any]]:
        names = list(output_names) if output_names is not None else None
        return [np.asarray(out) for out in self.session.run(names, dict(feeds))]
