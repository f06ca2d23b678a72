"""One ONNX image classifier: its manifest, checked against the graph, and batched inference on BGR crops, on any
inference engine (ONNX Runtime or OpenVINO, `detectors.engines`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from classifiers.crops import ImageArray, check_image
from classifiers.manifest import ClassifierManifest, load_manifest
from classifiers.preprocess import prepare_batch
from classifiers.settings import ClassifierModelSettings
from classifiers.types import HeadScores
from detectors.engines.base import EngineOptions, InferenceEngine, RunsOnEngine, TensorSpec
from detectors.engines.selection import open_engine
from detectors.runtime import ModelLoadError, first_line

log = logging.getLogger(__name__)

# A row counts as a probability distribution when no entry is below -_PROB_TOL and it sums to 1 ± _PROB_TOL;
# loose enough for fp16 models, far tighter than raw logits ever land by chance.
_PROB_TOL = 1e-2
_INPUT_TYPES: dict[str, type[np.floating[Any]]] = {"float32": np.float32, "float16": np.float16}


@dataclass(frozen=True, slots=True)
class HeadSpec:
    """How one model output becomes one head.

    Attributes:
        output: the ONNX output name.
        head: the name the rest of the system uses (``make``, ``color`` ...).
        labels: one per output column.
        softmax: whether the output holds logits that must be turned into probabilities.
    """

    output: str
    head: str
    labels: tuple[str, ...]
    softmax: bool


def softmax(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """Row-wise softmax, stable for large logits."""
    shifted = x - x.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    out: NDArray[np.float32] = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


def is_distribution(rows: NDArray[np.float32]) -> bool:
    """Whether every row is already a probability vector (non-negative, summing to 1)."""
    return bool(np.all(rows >= -_PROB_TOL) and np.all(np.abs(rows.sum(axis=1) - 1.0) <= _PROB_TOL))


def _static_dim(dim: object) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


class OnnxClassifier(RunsOnEngine):
    """A classifier ONNX model with one or more labelled outputs, run on batches of BGR crops.

    The model opens at construction: its manifest (metadata, overridden by a sidecar YAML) is checked against the
    graph's input and outputs, and a warm-up batch runs so the first real frame does not pay for lazy setup.

    Outputs are expected to be probabilities. Many ONNX exports drop the final Softmax and return logits; the
    warm-up batch tells them apart (negative entries, or rows not summing to 1) and such heads get a softmax
    here, so every head's scores are probabilities that thresholds and ``HeadScores.mass`` can rely on.

    Example:
        >>> clf = OnnxClassifier(ClassifierModelSettings(model=color_onnx))  # doctest: +SKIP
        >>> clf.classify([crop_bgr])[0]["color"].top(1)  # doctest: +SKIP
        [LabelScore(label='red', prob=0.97)]
    """

    def __init__(self, settings: ClassifierModelSettings) -> None:
        self.settings = settings
        self.path = settings.model
        self.name = settings.model.stem
        options = EngineOptions(
            runtime=settings.runtime,
            providers=settings.providers,
            threads=settings.intra_op_threads,
            precision=settings.precision,
            requests=settings.infer_requests,
            batch=1,  # OpenVINO: one crop per inference, `infer_requests` of them at once (measured fastest)
        )
        self._engine = open_engine(settings.model, options, what="classifier")
        inputs = self._engine.inputs
        outputs = [o.name for o in self._engine.outputs]
        self.manifest: ClassifierManifest = load_manifest(settings.model, dict(self._engine.metadata), outputs)
        if len(inputs) != 1:
            raise self._error(f"must have one input, has {len(inputs)}: {[i.name for i in inputs]}")
        self._input_name: str = inputs[0].name
        self._input_dtype = self._check_input(inputs[0])
        static_batch = _static_dim(inputs[0].dims()[0])
        # A static batch dimension fixes the chunk size; short chunks are padded up to it.
        self.batch_size: int = static_batch if static_batch is not None else settings.max_batch
        self._pad_to_batch = static_batch is not None
        self._heads = self._select_heads()
        self._heads = self._warm_up()
        log.info(
            "classifier %s: heads %s, batch %d%s",
            self.name,
            ", ".join(f"{h.head} ({len(h.labels)} labels{', softmax' if h.softmax else ''})" for h in self._heads),
            self.batch_size,
            " (static)" if self._pad_to_batch else "",
        )

    @property
    def session(self) -> InferenceEngine:
        """The engine, under the name it had when it was always an ONNX Runtime session (its ``run`` takes the same
        arguments)."""
        return self._engine

    @property
    def heads(self) -> dict[str, tuple[str, ...]]:
        """Head name → labels, for the heads this classifier produces."""
        return {h.head: h.labels for h in self._heads}

    @property
    def head_specs(self) -> tuple[HeadSpec, ...]:
        return self._heads

    def _error(self, message: str) -> ModelLoadError:
        return ModelLoadError(f"classifier {self.path.name}: {message}")

    def _check_input(self, spec: TensorSpec) -> type[np.floating[Any]]:
        m = self.manifest
        shape, type_name = spec.dims(), spec.dtype
        if len(shape) != 4:
            raise self._error(f"input must be rank 4 ({m.input_layout}), got shape {list(shape)}")
        if m.input_layout == "NCHW":
            expected: tuple[int, int, int] = (3, m.input_height, m.input_width)
        else:
            expected = (m.input_height, m.input_width, 3)
        for dim, want in zip(shape[1:], expected, strict=True):
            if _static_dim(dim) is not None and dim != want:
                raise self._error(
                    f"input shape {list(shape)} does not match the manifest's {m.input_layout} "
                    f"{m.input_height}x{m.input_width} (expected [batch, {', '.join(map(str, expected))}])"
                )
        if type_name not in _INPUT_TYPES:
            raise self._error(f"input must be float32 or float16, got {type_name}")
        return _INPUT_TYPES[type_name]

    def _select_heads(self) -> tuple[HeadSpec, ...]:
        labelled = self.manifest.heads
        wanted = self.settings.heads
        if wanted is None:
            wanted = tuple(labelled)
        else:
            outputs = [o.name for o in self._engine.outputs]
            for output in wanted:
                if output not in outputs:
                    raise self._error(f"heads names output {output!r}, which the model lacks (outputs: {outputs})")
                if output not in labelled:
                    raise self._error(f"output {output!r} has no labels (labelled: {list(labelled)})")
        if self.settings.name is not None and len(wanted) != 1:
            raise self._error(
                f"name {self.settings.name!r} needs exactly one head, but the model uses {list(wanted)}; "
                "its heads are named after its outputs (choose one with 'heads')"
            )
        return tuple(
            HeadSpec(
                output=output,
                head=self.settings.name or self.manifest.head_name(output),
                labels=labelled[output],
                softmax=False,
            )
            for output in wanted
        )

    def _warm_up(self) -> tuple[HeadSpec, ...]:
        """Runs probe crops through the model; checks output widths and finds which heads hold logits."""
        h, w = self.manifest.input_height, self.manifest.input_width
        rng = np.random.default_rng(0)
        probes: list[ImageArray] = [
            np.zeros((h, w, 3), np.uint8),
            np.full((h, w, 3), 255, np.uint8),
            np.full((h, w, 3), 128, np.uint8),
            rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        ]
        probes = probes[: max(1, min(len(probes), self.batch_size))]
        try:
            raw = self._run(probes)
        except ModelLoadError:
            raise
        except Exception as exc:  # the runtimes raise private exception types
            raise self._error(f"warm-up inference failed: {first_line(exc)}") from exc
        if self._engine.accelerator and self.batch_size > len(probes):
            # Accelerators set up kernels per input shape: pay for the largest batch now, not on the first frame.
            self._run([probes[-1]] * self.batch_size)
        heads = []
        for spec, rows in zip(self._heads, raw, strict=True):
            logits = not is_distribution(rows)
            if logits:
                log.info(
                    "classifier %s: output %r gives logits, not probabilities; applying softmax", self.name, spec.output
                )
            heads.append(HeadSpec(spec.output, spec.head, spec.labels, softmax=logits))
        return tuple(heads)

    def _run(self, crops: Sequence[ImageArray]) -> list[NDArray[np.float32]]:
        """One engine run on at most ``batch_size`` crops; returns one ``(len(crops), labels)`` array per head."""
        n = len(crops)
        batch = prepare_batch(crops, self.manifest)
        if self._pad_to_batch and n < self.batch_size:
            pad = np.repeat(batch[-1:], self.batch_size - n, axis=0)
            batch = np.concatenate([batch, pad])
        if self._input_dtype is not np.float32:
            batch = batch.astype(self._input_dtype)
        results = self._engine.run([h.output for h in self._heads], {self._input_name: batch})
        arrays = []
        for spec, result in zip(self._heads, results, strict=True):
            array = np.asarray(result)
            width = int(np.prod(array.shape[1:])) if array.ndim >= 1 else 0
            if array.ndim < 2 or array.shape[0] != batch.shape[0] or width != len(spec.labels):
                raise self._error(
                    f"output {spec.output!r} has shape {list(array.shape)} for a batch of {batch.shape[0]}, "
                    f"expected [batch, {len(spec.labels)}] ({len(spec.labels)} labels)"
                )
            arrays.append(array.reshape(array.shape[0], width)[:n].astype(np.float32))
        return arrays

    def classify(self, crops: Sequence[ImageArray]) -> list[dict[str, HeadScores]]:
        """Scores every crop on every head, with one engine run per ``batch_size`` crops.

        Args:
            crops: BGR ``(h, w, 3)`` uint8 images of any size (resized as the manifest says).

        Returns:
            One ``{head name: HeadScores}`` per crop, in input order. Nothing runs for an empty input.

        Raises:
            ValueError: a crop is not a BGR uint8 image.
        """
        for i, crop in enumerate(crops):
            check_image(crop, f"crop {i}")
        per_head: list[list[NDArray[np.float32]]] = [[] for _ in self._heads]
        for start in range(0, len(crops), self.batch_size):
            for parts, rows in zip(per_head, self._run(crops[start : start + self.batch_size]), strict=True):
                parts.append(rows)
        if not crops:
            return []
        scores = []
        for spec, parts in zip(self._heads, per_head, strict=True):
            probs = np.concatenate(parts)
            if spec.softmax:
                probs = softmax(probs)
            probs.flags.writeable = False  # rows are shared by frozen HeadScores
            scores.append(probs)
        return [
            {
                spec.head: HeadScores(spec.head, spec.labels, probs[i])
                for spec, probs in zip(self._heads, scores, strict=True)
            }
            for i in range(len(crops))
        ]
