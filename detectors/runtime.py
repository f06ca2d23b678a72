"""ONNX Runtime sessions: provider choice in a configured order, with clear errors for bad files."""

from __future__ import annotations

import ctypes
import functools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import onnxruntime as ort

from detectors.providers import DEFAULT_PROVIDERS, PROVIDER_ALIASES

log = logging.getLogger(__name__)


class ModelLoadError(ValueError):
    """A model file is missing, corrupt, or not what the caller expects."""


# Shared libraries a provider needs at run time. onnxruntime-gpu lists its GPU providers even on a machine
# without a GPU; asking for them there makes ORT print a page of errors before falling back.
_PROVIDER_LIBRARIES: dict[str, tuple[str, ...]] = {
    "CUDAExecutionProvider": ("libcuda.so.1",),
    "TensorrtExecutionProvider": ("libcuda.so.1", "libnvinfer.so.10"),
}


@functools.cache
def _loadable(library: str) -> bool:
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


def resolve_providers(wanted: Sequence[str]) -> list[str]:
    """Returns the wanted providers that this ONNX Runtime build has and this machine can run, in order."""
    available = set(ort.get_available_providers())
    chosen: list[str] = []
    for name in wanted:
        full = PROVIDER_ALIASES.get(name.lower(), name)
        if full not in available or full in chosen:
            continue
        missing = [lib for lib in _PROVIDER_LIBRARIES.get(full, ()) if not _loadable(lib)]
        if missing:
            log.debug("skipping %s: %s not loadable", full, ", ".join(missing))
            continue
        chosen.append(full)
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


def create_session(
    path: Path,
    providers: Sequence[str] = DEFAULT_PROVIDERS,
    *,
    intra_op_threads: int = 0,
    what: str = "model",
) -> ort.InferenceSession:
    """Opens an ONNX model, trying ``providers`` in order, without logging the choice (`open_session` does; the
    inference engines log one line of their own)."""
    if not path.is_file():
        raise ModelLoadError(f"{what} file not found: {path}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # ORT's warnings about unused initialisers are noise to operators
    chosen = resolve_providers(providers)
    provider_options: list[dict[str, Any]] = []
    for name in chosen:
        if name == "TensorrtExecutionProvider":
            # Engines take minutes to build; cache them next to the model's name.
            provider_options.append(
                {
                    "trt_engine_cache_enable": True,
                    "trt_engine_cache_path": str(Path.home() / ".cache" / "vehiclewatch" / "trt"),
                }
            )
        else:
            provider_options.append({})
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=chosen, provider_options=provider_options
        )
    except Exception as exc:  # ORT raises several private exception types for bad files
        raise ModelLoadError(f"cannot load {what} {path.name}: {first_line(exc)}") from exc


def open_session(
    path: Path,
    providers: Sequence[str] = DEFAULT_PROVIDERS,
    *,
    intra_op_threads: int = 0,
    what: str = "model",
) -> ort.InferenceSession:
    """Opens an ONNX model, trying ``providers`` in order, and logs which one runs it."""
    session = create_session(path, providers, intra_op_threads=intra_op_threads, what=what)
    log.info(
        "%s %s runs on %s (asked for %s)",
        what,
        path.name,
        session.get_providers()[0],
        ", ".join(resolve_providers(providers)),
    )
    return session


def first_line(exc: BaseException) -> str:
    """An exception's first line, or its type's name when it has no message: runtimes raise pages of text."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def metadata(session: ort.InferenceSession) -> dict[str, str]:
    """The model's ``metadata_props`` as a plain dict."""
    return dict(session.get_modelmeta().custom_metadata_map)
