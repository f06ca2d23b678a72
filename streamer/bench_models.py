"""What the benchmarks say about each model: the runtime, precision and device it ran on.

HOOK (runtime description): a detector or classifier that tells its own runtime is taken at its word: properties
``runtime_name`` ("onnxruntime", "openvino"), ``precision`` ("int8", "fp32", "bf16" ...) and ``device``
("CPUExecutionProvider", "CPU" ...), on the model itself or on its ``engine`` (`detectors.engines`). Models that do
not (every plugin before the OpenVINO runtime) ran on ONNX Runtime: the provider is read from their public
``session`` when they have one, else it is the first of their configured providers this machine can run, and the
precision is read from the file's graph (integer operators: int8; float16 weights: fp16; else fp32).

PLUG-IN POINT (runtimes): `bench --runtimes` opens every candidate through the detector plugin, naming the
runtime and precision in the detector settings' ``runtime`` and ``precision`` keys (`streamer.bench_runtimes._open`).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamer.service.wiring import Service

_INTEGER_OPS = frozenset({"ConvInteger", "MatMulInteger", "QLinearConv", "QLinearMatMul", "DynamicQuantizeLinear"})


@dataclass(frozen=True, slots=True)
class ModelRuntime:
    """Which runtime, precision and device one model ran on."""

    role: str
    """``detector``, or the classifier's head names."""
    model: str
    runtime: str
    precision: str
    device: str

    def render(self) -> str:
        return f"{self.role:<16} {self.model}: {self.runtime} {self.precision} on {self.device}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@functools.cache
def file_precision(path: Path) -> str:
    """``int8`` when the ONNX file's graph holds integer (quantized) operators, ``fp16`` when it has float16
    weights, else ``fp32``; ``unknown`` without the ``onnx`` package (the tools and dev extras) or for an
    unreadable file."""
    try:
        onnx: Any = importlib.import_module("onnx")
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # no onnx package, or a file it cannot parse: the figure is only a label
        return "unknown"
    ops = {node.op_type for node in model.graph.node}
    if ops & _INTEGER_OPS:
        return "int8"
    if any(tensor.data_type == onnx.TensorProto.FLOAT16 for tensor in model.graph.initializer):
        return "fp16"
    return "fp32"


def describe_model(model: object, role: str, path: Path, providers: Sequence[str]) -> ModelRuntime:
    """``model``'s runtime, precision and device (see the module's HOOK)."""
    engine = getattr(model, "engine", None)  # the inference engine behind the model (detectors.engines), if shown
    teller = model if getattr(model, "runtime_name", None) is not None else engine
    runtime = getattr(teller, "runtime_name", None)
    precision = getattr(teller, "precision", None)
    device = getattr(teller, "device", None)
    session = getattr(model, "session", None)
    if device is None and session is not None and hasattr(session, "get_providers"):
        device = session.get_providers()[0]
    if device is None:
        from detectors.runtime import resolve_providers

        device = resolve_providers(providers)[0]
    if precision is None:
        precision = file_precision(path)
    return ModelRuntime(role, path.name, str(runtime or "onnxruntime"), str(precision), str(device))


def describe_models(service: Service) -> list[ModelRuntime]:
    """The detector and every classifier of a started (or stopped) service, as they ran."""
    settings = service.settings
    out: list[ModelRuntime] = []
    if service.pipeline is None:
        return out
    detector_settings = settings.detector
    out.append(
        describe_model(
            service.pipeline.detector, "detector", detector_settings.model, getattr(detector_settings, "providers", ())
        )
    )
    bank = getattr(service.pipeline.recognizer, "classifier", None)
    classifiers: Sequence[object] = getattr(bank, "classifiers", ())
    for classifier, model_settings in zip(classifiers, settings.classifiers.models, strict=False):
        heads = getattr(classifier, "heads", {})
        role = "+".join(heads) if heads else "classifier"
        out.append(describe_model(classifier, role, model_settings.model, getattr(model_settings, "providers", ())))
    recognizer = settings.classifiers.color_recognizer
    if recognizer is not None:
        runtime = str(getattr(recognizer, "runtime", "onnxruntime"))  # its members open on it, each in its precision
        out.append(ModelRuntime("color", recognizer.file.name, runtime, "members' own", "colour recogniser members"))
    return out


def openvino_available() -> bool:
    """Whether the ``openvino`` package is installed."""
    return importlib.util.find_spec("openvino") is not None
