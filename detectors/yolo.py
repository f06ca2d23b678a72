"""Ultralytics YOLO detectors (v5, v8, YOLO11, end-to-end) exported to ONNX, run on any inference engine
(ONNX Runtime or OpenVINO, `detectors.engines`)."""

from __future__ import annotations

import ast
import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors.decoding import InputBoxes, Layout, OutputLayoutError, YoloDecoder, detect_layout
from detectors.engines.base import EngineOptions, InferenceEngine, RunsOnEngine
from detectors.engines.ort_engine import OrtEngine, SessionLike
from detectors.engines.selection import open_engine
from detectors.input_shape import InputShapeError, resized_model_file
from detectors.letterbox import Letterbox, letterbox_batch
from detectors.runtime import ModelLoadError, first_line
from detectors.settings import DetectorSettings
from detectors.types import Detections

log = logging.getLogger(__name__)

_INPUT_DTYPES: dict[str, type[np.floating[Any]]] = {"float32": np.float32, "float16": np.float16}


def parse_names(raw: str) -> tuple[str, ...]:
    """Class names from a model's ``names`` metadata.

    Accepts Ultralytics' Python dict literal (``{0: 'person', 1: 'bicycle'}``), a JSON object with string keys,
    or a JSON / Python list.

    Raises:
        ValueError: the text is neither, or the ids are not exactly ``0..N-1``.

    Example:
        >>> parse_names("{0: 'person', 1: 'car'}")
        ('person', 'car')
    """
    try:
        value = json.loads(raw)
    except ValueError:
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
            raise ValueError(f"names is neither a Python literal nor JSON: {raw[:60]!r}") from exc
    if isinstance(value, list | tuple):
        names = tuple(str(name) for name in value)
    elif isinstance(value, dict):
        try:
            by_id = {int(key): str(name) for key, name in value.items()}
        except (TypeError, ValueError) as exc:
            raise ValueError(f"names keys must be class ids, got {list(value)[:5]}") from exc
        if sorted(by_id) != list(range(len(by_id))):
            raise ValueError(f"names ids must be 0..{len(by_id) - 1}, got {sorted(by_id)[:10]}")
        names = tuple(by_id[i] for i in range(len(by_id)))
    else:
        raise ValueError(f"names must be a dict or a list, got {type(value).__name__}")
    if not names:
        raise ValueError("names is empty")
    return names


def parse_imgsz(raw: str) -> tuple[int, int]:
    """Input ``(height, width)`` from ``imgsz`` metadata: ``[640, 640]``, ``[384, 640]`` or ``640``."""
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ValueError(f"imgsz is not a size: {raw[:40]!r}") from exc
    sizes = [value] if isinstance(value, int) else list(value) if isinstance(value, list | tuple) else []
    if len(sizes) == 1:
        sizes = sizes * 2
    if len(sizes) != 2 or not all(isinstance(s, int) and s > 0 for s in sizes):
        raise ValueError(f"imgsz must be one or two positive integers, got {raw[:40]!r}")
    return sizes[0], sizes[1]


def _parse_bool(raw: str | None) -> bool | None:
    if raw is None:
        return None
    lowered = raw.strip().lower()
    return True if lowered in ("true", "1", "yes") else False if lowered in ("false", "0", "no") else None


class YoloDetector(RunsOnEngine):
    """A YOLO detector on one inference engine; implements `detectors.base.Detector`.

    Construction reads the model's contract (class names, input size, static or dynamic batch, output layout),
    checks the configured classes against it, and warms the model up. Every failure there is a
    `ModelLoadError` with one line naming the model.

    ``detect`` is safe to call from several threads (it keeps no state between calls, and the engines' ``run`` is
    thread-safe).

    Args:
        engine: the model on its runtime (see `from_settings`); an ONNX Runtime session (or an object with its
            API) is run as an `OrtEngine`.
        settings: the detector settings (``model`` is only used to name it in messages).
    """

    def __init__(self, engine: InferenceEngine | SessionLike, settings: DetectorSettings) -> None:
        self.settings = settings
        self._engine: InferenceEngine = engine if isinstance(engine, InferenceEngine) else OrtEngine(engine)
        self._label = f"detector {settings.model.name}"
        meta = dict(self._engine.metadata)
        self._names = self._read_names(meta)
        self._vehicle_ids = self._class_ids(settings.classes)
        self._names_array = np.array(self._names, dtype=object)
        self._read_input(self._engine, meta)
        self._read_output(self._engine)
        stride = meta.get("stride", "")
        self.stride: int | None = int(stride) if stride.isdigit() else None  # informational: imgsz is fixed
        self._decoder: YoloDecoder | None = None
        first = self._warm_output()
        try:
            layout = detect_layout(first.shape, len(self._names), _parse_bool(meta.get("end2end")))
        except OutputLayoutError as exc:
            raise ModelLoadError(f"{self._label}: {exc}") from exc
        self._decoder = YoloDecoder(
            layout, len(self._names), self._vehicle_ids, confidence=settings.confidence, iou=settings.iou
        )
        log.info(
            "%s: %s layout, input %dx%d, %s batch (max %d), keeps %s",
            self._label,
            layout,
            self.input_size[1],
            self.input_size[0],
            "dynamic" if self._dynamic else "static",
            self._max_batch,
            ", ".join(settings.classes),
        )

    @classmethod
    def from_settings(cls, settings: DetectorSettings, frame_sizes: Sequence[tuple[int, int]] = ()) -> YoloDetector:
        """Opens ``settings.model`` on the configured runtime (``auto``: see `detectors.engines.selection`),
        checks it and warms it up.

        With ``input_size: auto`` and the ``frame_sizes`` (height, width) of the cameras known, the model is
        re-sized to the smallest input that holds them (`detectors.input_shape`).

        On OpenVINO a dynamic batch dimension is compiled as batch 1 (a static shape runs faster on the CPU, and a
        partial batch never pays for padding): a batch of frames runs as that many inferences, up to
        ``infer_requests`` of them in parallel.

        Raises:
            ModelLoadError: missing or corrupt file, no class names, unknown configured class, unexpected input
                or output shape; runtime openvino without its package.
        """
        options = EngineOptions(
            runtime=settings.runtime,
            providers=settings.providers,
            threads=settings.intra_op_threads,
            precision=settings.precision,
            # With max_batch 1 extra requests would only idle and take cores from the one that runs.
            requests=min(settings.infer_requests, settings.max_batch),
            batch=1,
        )
        with tempfile.TemporaryDirectory(prefix="vehiclewatch-detector-") as directory:
            try:
                path = resized_model_file(settings.model, settings.input_size, frame_sizes, Path(directory))
            except InputShapeError as exc:
                raise ModelLoadError(
                    f"detector {settings.model.name}: input_size {settings.input_size}: {exc}"
                ) from None
            return cls(open_engine(path, options, what="detector"), settings)

    # -- what runs it ------------------------------------------------------------------------------------------------

    # -- the Detector protocol ---------------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """Every class name of the model, by class id."""
        return self._names

    @property
    def max_batch(self) -> int:
        """Images per session run: ``settings.max_batch`` for a dynamic model, its fixed batch otherwise."""
        return self._max_batch

    @property
    def dynamic_batch(self) -> bool:
        """Whether the model's batch dimension is dynamic."""
        return self._dynamic

    def detect(self, images: Sequence[NDArray[np.uint8]]) -> list[Detections]:
        """Finds the configured classes in BGR images; see `detectors.base.Detector.detect`."""
        results: list[Detections] = []
        for start in range(0, len(images), self._max_batch):
            chunk = images[start : start + self._max_batch]
            tensor, boxes = self.preprocess(chunk)
            results.extend(self.postprocess(self.infer(tensor), boxes))
        return results

    def warmup(self) -> None:
        """Runs one full batch of blank input through the model."""
        self._warm_output()

    # -- stages, public so that callers can time them ------------------------------------------------------------

    @property
    def input_size(self) -> tuple[int, int]:
        """The model input's ``(height, width)``."""
        return self._input_hw

    @property
    def layout(self) -> Layout:
        """The model's output layout."""
        return self._require_decoder().layout

    @property
    def vehicle_class_ids(self) -> tuple[int, ...]:
        """Model class ids of ``settings.classes``, sorted."""
        return tuple(int(i) for i in self._vehicle_ids)

    def preprocess(self, images: Sequence[NDArray[np.uint8]]) -> tuple[NDArray[np.floating[Any]], list[Letterbox]]:
        """Letterboxes at most ``max_batch`` images into the model's input tensor (padded for static batches)."""
        if len(images) > self._max_batch:
            raise ValueError(f"{len(images)} images given, but {self._label} takes at most {self._max_batch}")
        rows = self._max_batch if not self._dynamic else None
        return letterbox_batch(images, self._input_hw, batch_size=rows, dtype=self._input_dtype)

    def infer(self, tensor: NDArray[np.floating[Any]]) -> NDArray[np.floating[Any]]:
        """One engine run on a prepared tensor; returns the raw output."""
        output = self._engine.run([self._output_name], {self._input_name: tensor})[0]
        return np.asarray(output)

    def postprocess(self, output: NDArray[np.floating[Any]], letterboxes: Sequence[Letterbox]) -> list[Detections]:
        """Decodes raw output and maps each image's boxes back to its pixels, dropping boxes that are too small."""
        decoded = self._require_decoder().decode(output[: len(letterboxes)])
        return [self._to_detections(raw, box) for raw, box in zip(decoded, letterboxes, strict=True)]

    # -- internals -----------------------------------------------------------------------------------------------

    def _to_detections(self, raw: InputBoxes, letterbox: Letterbox) -> Detections:
        if raw.scores.size == 0:
            return Detections.empty()
        boxes = letterbox.to_image(raw.boxes)
        short_side = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        keep = (short_side >= self.settings.min_box_size) & (short_side > 0)
        class_ids = raw.class_ids[keep]
        return Detections(
            boxes=boxes[keep],
            scores=raw.scores[keep],
            class_ids=class_ids,
            class_names=tuple(self._names_array[class_ids].tolist()),
        )

    def _require_decoder(self) -> YoloDecoder:
        if self._decoder is None:  # only while __init__ runs the first warm-up
            raise RuntimeError(f"{self._label} is not constructed yet")
        return self._decoder

    def _read_names(self, meta: dict[str, str]) -> tuple[str, ...]:
        raw = meta.get("names")
        if raw is None:
            raise ModelLoadError(f"{self._label} has no class names in its metadata (key 'names')")
        try:
            return parse_names(raw)
        except ValueError as exc:
            raise ModelLoadError(f"{self._label} has unreadable class names in its metadata: {exc}") from exc

    def _class_ids(self, classes: Sequence[str]) -> NDArray[np.int32]:
        index = {name: i for i, name in enumerate(self._names)}
        unknown = [name for name in classes if name not in index]
        if unknown:
            raise ModelLoadError(
                f"{self._label} has no class {', '.join(repr(n) for n in unknown)} (from settings classes); "
                f"its classes are: {', '.join(self._names)}"
            )
        return np.array(sorted(index[name] for name in classes), np.int32)

    def _read_input(self, engine: InferenceEngine, meta: dict[str, str]) -> None:
        inputs = engine.inputs
        if len(inputs) != 1:
            raise ModelLoadError(f"{self._label} must have one input (images), has {len(inputs)}")
        spec = inputs[0]
        shape = spec.dims()
        if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 3):
            raise ModelLoadError(f"{self._label} input {spec.name!r} must be [batch, 3, height, width], got {shape}")
        if spec.dtype not in _INPUT_DTYPES:
            raise ModelLoadError(f"{self._label} input {spec.name!r} must be float or float16, got {spec.dtype}")
        static_hw = (shape[2], shape[3]) if isinstance(shape[2], int) and isinstance(shape[3], int) else None
        meta_hw: tuple[int, int] | None = None
        if "imgsz" in meta:
            try:
                meta_hw = parse_imgsz(meta["imgsz"])
            except ValueError as exc:
                raise ModelLoadError(f"{self._label} has unreadable metadata: {exc}") from exc
        if static_hw and meta_hw and static_hw != meta_hw:
            raise ModelLoadError(f"{self._label}: metadata imgsz {list(meta_hw)} differs from its input shape {shape}")
        input_hw = static_hw or meta_hw
        if input_hw is None:
            raise ModelLoadError(f"{self._label} has no input size: neither imgsz metadata nor a static input shape")
        self._input_name: str = spec.name
        self._input_hw: tuple[int, int] = input_hw
        self._input_dtype = _INPUT_DTYPES[spec.dtype]
        self._dynamic = not isinstance(shape[0], int) or shape[0] < 1
        if self._dynamic:
            self._max_batch = self.settings.max_batch
        else:
            self._max_batch = int(shape[0])
            if self.settings.max_batch != self._max_batch:
                log.info("%s has a static batch of %d; max_batch ignored", self._label, self._max_batch)

    def _read_output(self, engine: InferenceEngine) -> None:
        outputs = engine.outputs
        if not outputs:
            raise ModelLoadError(f"{self._label} has no output")
        spec = outputs[0]
        if spec.shape is not None and len(spec.shape) != 3:
            raise ModelLoadError(
                f"{self._label} output {spec.name!r} must have 3 dimensions (YOLO detections), got {spec.dims()}"
            )
        self._output_name: str = spec.name

    def _warm_output(self) -> NDArray[np.floating[Any]]:
        h, w = self._input_hw
        tensor = np.zeros((self._max_batch, 3, h, w), self._input_dtype)
        try:
            output = self.infer(tensor)
        except Exception as exc:  # the runtimes raise several private exception types
            raise ModelLoadError(f"{self._label} failed its warm-up run: {first_line(exc)}") from exc
        if output.ndim != 3 or output.shape[0] != self._max_batch:
            raise ModelLoadError(
                f"{self._label} output for a batch of {self._max_batch} has shape {list(output.shape)}, "
                f"expected [{self._max_batch}, ..., ...]"
            )
        if self._decoder is not None:
            try:
                self._decoder.check(output)
            except OutputLayoutError as exc:
                raise ModelLoadError(f"{self._label}: {exc}") from exc
        return output
