"""Which runtime runs a model (``runtime: auto`` resolved here), and opening its engine with one log line.

``auto``: a GPU is ONNX Runtime's strength (CUDA, TensorRT), the CPU OpenVINO's (2-3x ONNX Runtime's speed for the
YOLOv8n detector on the CPUs measured, ``vehiclewatch bench --runtimes`` and ``../shared/models/README.md``). So ONNX
Runtime when one of the configured providers other than the CPU is usable on this machine, else OpenVINO when its
package imports, else ONNX Runtime on the CPU.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from pathlib import Path

from detectors.engines.base import ConcreteRuntime, EngineOptions, InferenceEngine
from detectors.providers import RuntimeName
from detectors.runtime import ModelLoadError, resolve_providers

__all__ = ["choose_runtime", "open_engine", "openvino_available"]

log = logging.getLogger(__name__)

_CPU_PROVIDER = "CPUExecutionProvider"


def openvino_available() -> bool:
    """Whether the ``openvino`` package imports (installed, and its native libraries load)."""
    try:
        importlib.import_module("openvino")
    except (ImportError, OSError):
        return False
    return True


def choose_runtime(runtime: RuntimeName, providers: Sequence[str]) -> tuple[ConcreteRuntime, str]:
    """The runtime that will run a model, and why (for the log).

    Args:
        runtime: the setting: ``onnxruntime`` and ``openvino`` are taken as they are; ``auto`` is resolved as the
            module doc says.
        providers: the configured ONNX Runtime providers (``auto`` keeps ONNX Runtime when one of them other
            than the CPU is usable here).

    Raises:
        ModelLoadError: ``openvino`` is asked for and its package does not import.
    """
    if runtime == "onnxruntime":
        return "onnxruntime", "configured"
    if runtime == "openvino":
        if not openvino_available():
            raise ModelLoadError("runtime openvino needs the openvino package: pip install openvino")
        return "openvino", "configured"
    accelerators = [name for name in resolve_providers(providers) if name != _CPU_PROVIDER]
    if accelerators:
        return "onnxruntime", f"auto: {accelerators[0]} is usable"
    if openvino_available():
        return "openvino", "auto: no GPU provider usable, openvino installed"
    return "onnxruntime", "auto: no GPU provider usable, openvino not installed"


def open_engine(path: Path, options: EngineOptions, *, what: str = "model") -> InferenceEngine:
    """Opens ``path`` on the runtime ``options.runtime`` resolves to, and logs the runtime, device and precision.

    Args:
        path: the ONNX file.
        options: runtime, providers, threads, and OpenVINO's precision, requests and batch.
        what: ``detector``, ``classifier`` ...: names the model in the log and in errors.

    Raises:
        ModelLoadError: the file is missing or the runtime cannot load it, or the runtime asked for is missing.
    """
    if not path.is_file():
        raise ModelLoadError(f"{what} file not found: {path}")
    runtime, reason = choose_runtime(options.runtime, options.providers)
    engine: InferenceEngine
    if runtime == "openvino":
        from detectors.engines.openvino_engine import OpenVinoEngine  # loads OpenVINO

        engine = OpenVinoEngine(path, options, what=what)
        extra = f", {engine.requests} parallel request{'s' if engine.requests > 1 else ''}"
    else:
        from detectors.engines.ort_engine import OrtEngine

        engine = OrtEngine.open(path, options, what=what)
        extra = f" (first usable of {', '.join(resolve_providers(options.providers))})"
    log.info(
        "%s %s runs on %s %s, precision %s%s [%s]",
        what,
        path.name,
        runtime,
        engine.device,
        engine.precision,
        extra,
        reason,
    )
    return engine
