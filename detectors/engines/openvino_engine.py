"""OpenVINO as an `InferenceEngine`, on the CPU: static batch shapes, a performance hint, parallel requests.

Why these choices (measured on a 2-core AVX-512/AMX CPU with `vehiclewatch bench --runtimes` and
`benchmarks/classifier_batch.py --runtime`): OpenVINO runs the YOLOv8n
fp32 file about 3x as fast as ONNX Runtime (72 against 24 frames/s on a quiet machine), mostly by computing in bf16
where the CPU has it (fp32 on OpenVINO: 29); a static input shape is faster than a dynamic one, so a dynamic batch
dimension is compiled as a fixed size (1 by default) and larger inputs run as chunks of it; and two inference
requests running at once (the THROUGHPUT hint, one CPU stream each) beat one request using every core: 1.1-1.5x
for the detector (two frames of a batch in parallel), 1.4x for the small crop classifiers.

One compiled model per engine; inference requests are not thread-safe, so each call borrows a set of them from a
pool (created on demand, returned afterwards): several threads can call ``run`` at once, each on its own requests.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov
from numpy.typing import NDArray

from detectors.engines.base import DYNAMIC, ConcreteRuntime, EngineOptions, TensorSpec
from detectors.engines.precision import file_precision
from detectors.runtime import ModelLoadError, first_line

__all__ = ["DEVICE", "OpenVinoEngine", "compiled_precision"]

DEVICE = "CPU"
_TO_OPENVINO = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}
_FROM_OPENVINO = {value: key for key, value in _TO_OPENVINO.items()}


@functools.cache
def _core() -> Any:
    """One OpenVINO core per process (it is thread-safe, and holds the device plugins)."""
    return ov.Core()


def _spec(port: Any) -> TensorSpec:
    partial = port.get_partial_shape()
    shape: tuple[int | str, ...] | None = None
    if partial.rank.is_static:
        shape = tuple(dim.get_length() if dim.is_static else DYNAMIC for dim in partial)
    try:
        dtype = str(np.dtype(port.get_element_type().to_dtype()).name)
    except (TypeError, RuntimeError):  # element types numpy lacks (bf16, u4 ...)
        dtype = port.get_element_type().get_type_name()
    return TensorSpec(port.get_any_name(), shape, dtype)


def _metadata(model: Any) -> dict[str, str]:
    """The ONNX file's ``metadata_props``: OpenVINO's ONNX reader keeps them under the ``framework`` rt_info."""
    info = model.get_rt_info()
    if "framework" not in info:
        return {}
    framework = info["framework"]
    items = framework if isinstance(framework, dict) else framework.astype(dict)
    return {str(key): value if isinstance(value, str) else str(value.astype(str)) for key, value in items.items()}


def compiled_precision(compiled: Any) -> str:
    """The inference precision a compiled model uses, as ``fp32`` / ``bf16`` / ``fp16``."""
    chosen = compiled.get_property("INFERENCE_PRECISION_HINT")
    name = str(chosen.get_type_name()) if hasattr(chosen, "get_type_name") else str(chosen)
    return _FROM_OPENVINO.get(name, name)


class _RequestPool:
    """Sets of inference requests of one compiled model, lent to one call at a time."""

    def __init__(self, compiled: Any, size: int) -> None:
        self._compiled = compiled
        self._size = size
        self._free: list[list[Any]] = []
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator[list[Any]]:
        with self._lock:
            requests = self._free.pop() if self._free else None
        if requests is None:
            requests = [self._compiled.create_infer_request() for _ in range(self._size)]
        try:
            yield requests
        finally:
            with self._lock:
                self._free.append(requests)


class OpenVinoEngine:
    """A model compiled by OpenVINO for the CPU (see the module doc for the choices).

    ``inputs`` and ``outputs`` describe the file as it is (a dynamic batch stays dynamic there, as the model code
    expects); ``run`` takes any batch that is a multiple of the compiled one.
    """

    runtime_name: ConcreteRuntime = "openvino"

    def __init__(self, path: Path, options: EngineOptions, *, what: str = "model") -> None:
        core = _core()
        try:
            model = core.read_model(str(path))
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses with pages of text
            raise ModelLoadError(f"cannot load {what} {path.name}: {first_line(exc)}") from exc
        self._metadata = _metadata(model)
        self._inputs = tuple(_spec(port) for port in model.inputs)
        self._outputs = tuple(_spec(port) for port in model.outputs)
        self._chunk = self._fix_batch(model, options.batch)
        self._requests = max(1, options.requests)
        config = {"PERFORMANCE_HINT": "THROUGHPUT" if self._requests > 1 else "LATENCY"}
        if self._requests > 1:
            config["PERFORMANCE_HINT_NUM_REQUESTS"] = str(self._requests)
        if options.precision != "auto":
            config["INFERENCE_PRECISION_HINT"] = _TO_OPENVINO[options.precision]
        if options.threads > 0:
            config["INFERENCE_NUM_THREADS"] = str(options.threads)
        try:
            self._compiled = core.compile_model(model, DEVICE, config)
        except Exception as exc:
            raise ModelLoadError(f"cannot compile {what} {path.name} for OpenVINO: {first_line(exc)}") from exc
        self._output_index = {name: i for i, port in enumerate(self._compiled.outputs) for name in port.get_names()}
        computed = compiled_precision(self._compiled)
        own = file_precision(path)
        self._precision = f"int8 ({computed} elsewhere)" if own == "int8" else computed
        self._pool = _RequestPool(self._compiled, self._requests)

    def _fix_batch(self, model: Any, batch: int | None) -> int | None:
        """Reshapes a dynamic batch dimension to ``batch`` when every other dimension is static; returns the
        compiled batch size (None: whatever size each call brings)."""
        shapes = [port.get_partial_shape() for port in model.inputs]
        if any(shape.rank.is_dynamic or len(shape) == 0 for shape in shapes):
            return None
        if all(shape[0].is_static for shape in shapes):
            return int(shapes[0][0].get_length())
        if batch is None or not all(dim.is_static for shape in shapes for dim in list(shape)[1:]):
            return None
        model.reshape(
            {
                port.get_any_name(): [batch, *(d.get_length() for d in list(port.get_partial_shape())[1:])]
                for port in model.inputs
            }
        )
        return batch

    @property
    def device(self) -> str:
        return DEVICE

    @property
    def precision(self) -> str:
        return self._precision

    @property
    def accelerator(self) -> bool:
        return False

    @property
    def requests(self) -> int:
        """Inference requests one call runs in parallel."""
        return self._requests

    @property
    def compiled_batch(self) -> int | None:
        """The batch size each request runs (None: dynamic)."""
        return self._chunk

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
        """Runs ``feeds`` as chunks of the compiled batch, up to ``requests`` of them at once."""
        if output_names is None:
            indices = list(range(len(self._outputs)))
        else:
            try:
                indices = [self._output_index[name] for name in output_names]
            except KeyError as exc:
                raise ValueError(f"the model has no output {exc.args[0]!r}") from exc
        arrays = {name: np.ascontiguousarray(array) for name, array in feeds.items()}
        rows = {array.shape[0] if array.ndim else 1 for array in arrays.values()}
        if len(rows) != 1:
            raise ValueError(f"inputs disagree on the batch size: {sorted(rows)}")
        (total,) = rows
        chunk = self._chunk or total
        if chunk < 1 or total % chunk:
            raise ValueError(f"a batch of {total} is not a multiple of the compiled batch {chunk}")
        parts = [
            {name: array[start : start + chunk] for name, array in arrays.items()} for start in range(0, total, chunk)
        ]
        with self._pool.borrow() as requests:
            results = self._infer(requests, parts, indices)
        if len(results) == 1:
            return results[0]
        return [np.concatenate([result[k] for result in results]) for k in range(len(indices))]

    @staticmethod
    def _outputs_of(request: Any, indices: Sequence[int]) -> list[NDArray[Any]]:
        return [np.array(request.get_output_tensor(i).data, copy=True) for i in indices]

    def _infer(
        self, requests: list[Any], parts: list[dict[str, NDArray[Any]]], indices: Sequence[int]
    ) -> list[list[NDArray[Any]]]:
        if len(parts) == 1 or len(requests) == 1:
            results = []
            for part in parts:
                requests[0].infer(part, share_inputs=True)
                results.append(self._outputs_of(requests[0], indices))
            return results
        done: list[list[NDArray[Any]] | None] = [None] * len(parts)
        holding: list[int | None] = [None] * len(requests)  # the part each request is running
        try:
            for i, part in enumerate(parts):
                slot = i % len(requests)
                previous = holding[slot]
                if previous is not None:
                    requests[slot].wait()
                    holding[slot] = None
                    done[previous] = self._outputs_of(requests[slot], indices)
                requests[slot].start_async(part, share_inputs=True)
                holding[slot] = i
            for slot, part_index in enumerate(holding):
                if part_index is not None:
                    requests[slot].wait()
                    holding[slot] = None
                    done[part_index] = self._outputs_of(requests[slot], indices)
        finally:
            # A failure leaves no request running on inputs that are about to be freed, nor in the pool.
            for slot, part_index in enumerate(holding):
                if part_index is not None:
                    with contextlib.suppress(Exception):  # the first error is the one that propagates
                        requests[slot].wait()
        return [result for result in done if result is not None]
