"""Running any classifier ONNX over a labelled set: label matching, batched inference, a prediction table.

Dataset labels are matched to the model's labels ignoring case and repeated spaces (``Silver`` = ``silver``), or
through explicit aliases (``grey`` → ``gray``). Rows whose label the model does not know are counted and reported,
not evaluated.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm  # type: ignore[import-untyped]

from classifiers.evaluation.metrics import PredictionTable
from classifiers.manifest import ClassifierManifest
from classifiers.onnx_classifier import OnnxClassifier
from classifiers.preprocess import prepare_batch
from classifiers.registry import open_classifier as open_plugin
from classifiers.settings import ClassifierModelSettings
from classifiers.training.dataset import LabelledSet
from classifiers.training.embed import read_image
from classifiers.training.errors import TrainingError
from detectors.engines.base import InferenceEngine


class EvaluationError(TrainingError):
    """The model and the labelled set cannot be evaluated together (no shared labels, unknown output)."""


def normalise_label(label: str) -> str:
    return " ".join(label.split()).casefold()


@dataclass(frozen=True)
class Classifier:
    """A classifier under test: its session, one chosen output and that output's labels.

    Attributes:
        label_attributes: per-label attributes from the ``label_attributes`` metadata (e.g. ``make``), in label
            order; empty when the model has none.
        score_images: for a classifier that is not one ONNX session (a colour recogniser file): BGR images →
            ``(N, labels)`` probabilities; ``session`` and ``manifest`` are then None.
    """

    path: Path
    session: InferenceEngine | None
    manifest: ClassifierManifest | None
    output: str
    labels: tuple[str, ...]
    task: str
    label_attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    score_images: Callable[[Sequence[NDArray[np.uint8]]], NDArray[np.float64]] | None = None


def _attributes(meta: Mapping[str, str], n_labels: int) -> dict[str, tuple[str, ...]]:
    try:
        raw = json.loads(meta.get("label_attributes", "{}"))
    except json.JSONDecodeError:
        return {}
    if not isinstance(raw, dict):
        return {}
    return {str(k): tuple(str(x) for x in v) for k, v in raw.items() if isinstance(v, list) and len(v) == n_labels}


def open_classifier(
    path: Path,
    *,
    output: str | None = None,
    dataset_labels: Sequence[str] = (),
    providers: Sequence[str] = ("cpu",),
    threads: int = 0,
) -> Classifier:
    """Opens a classifier ONNX model as the service does (`classifiers.registry.open_classifier`, type ``onnx``)
    and picks the output to evaluate.

    Args:
        path: the ONNX model (labels and preprocessing from its metadata or sidecar YAML).
        output: the output to evaluate; default: the only labelled one, else the one sharing the most labels with
            ``dataset_labels`` (e.g. ``color`` of a colour+type model for a colour set).
        dataset_labels: the labels of the set to evaluate on, used to pick the output.

    Raises:
        ModelLoadError: the file is missing/corrupt or its metadata is invalid.
        EvaluationError: ``output`` is not one of the model's labelled outputs.
    """
    settings = ClassifierModelSettings(model=path, providers=tuple(providers), intra_op_threads=threads)
    model = open_plugin(settings, crop_margin=0.0)
    if not isinstance(model, OnnxClassifier):  # only if a test or plugin replaced the onnx type
        raise EvaluationError(f"model {path.name} did not open as an ONNX classifier")
    session, manifest = model.session, model.manifest
    meta = session.metadata
    if output is not None and output not in manifest.heads:
        raise EvaluationError(f"model {path.name} has no labelled output {output!r} (has: {', '.join(manifest.heads)})")
    if output is None:
        wanted = {normalise_label(x) for x in dataset_labels}
        output = max(manifest.heads, key=lambda o: sum(normalise_label(x) in wanted for x in manifest.heads[o]))
    labels = manifest.heads[output]
    attributes = _attributes(meta, len(labels)) if len(manifest.heads) == 1 else {}
    return Classifier(path, session, manifest, output, labels, manifest.head_name(output), attributes)


def match_labels(
    dataset_labels: Sequence[str], model_labels: Sequence[str], aliases: Mapping[str, str] | None = None
) -> dict[str, int | None]:
    """Maps each dataset label to a model label index (None when the model has no such label).

    ``aliases`` maps dataset labels to model labels; both sides are matched ignoring case and repeated spaces.
    """
    index: dict[str, int] = {}
    for i, label in enumerate(model_labels):
        index.setdefault(normalise_label(label), i)
    alias = {normalise_label(k): normalise_label(v) for k, v in (aliases or {}).items()}
    out: dict[str, int | None] = {}
    for label in dataset_labels:
        key = normalise_label(label)
        out[label] = index.get(alias.get(key, key))
    return out


def _as_probs(raw: NDArray[np.float64]) -> tuple[NDArray[np.float64], bool]:
    """The model's scores as probabilities; scores that are not (negative, or rows not summing to 1) are logits
    and get a softmax."""
    if len(raw) == 0 or (raw.min() >= 0 and np.allclose(raw.sum(axis=1), 1.0, atol=1e-3)):
        return raw, False
    shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True), True


def predict_probs(
    classifier: Classifier, paths: Sequence[Path], *, batch_size: int = 32, progress: bool = False
) -> tuple[NDArray[np.float64], bool]:
    """Probabilities ``(N, labels)`` of the chosen output for image files, and whether a softmax was applied."""
    session, manifest = classifier.session, classifier.manifest
    chunks: list[NDArray[np.float64]] = []
    with tqdm(total=len(paths), desc=f"classifying ({classifier.path.name})", unit="img", disable=not progress) as bar:
        for start in range(0, len(paths), batch_size):
            images = [read_image(p) for p in paths[start : start + batch_size]]
            if classifier.score_images is not None:
                chunks.append(np.asarray(classifier.score_images(images), np.float64))
            else:
                # An ONNX classifier (no score_images) always has both.
                assert session is not None
                assert manifest is not None
                batch = prepare_batch(images, manifest)
                name = session.inputs[0].name
                chunks.append(np.asarray(session.run([classifier.output], {name: batch})[0], np.float64))
            bar.update(len(images))
    raw = np.concatenate(chunks) if chunks else np.zeros((0, len(classifier.labels)), np.float64)
    return _as_probs(raw)


@dataclass(frozen=True)
class Predictions:
    """A model's predictions on the rows of a set whose label it knows.

    Attributes:
        table: the prediction table (true indices into the model's labels).
        rows: for each table row, its index in the set.
        unknown: dataset labels the model does not have, with their image counts.
        from_logits: the model's output was not a probability vector and was put through a softmax.
    """

    table: PredictionTable
    rows: tuple[int, ...]
    unknown: Mapping[str, int]
    from_logits: bool


def predict_set(
    classifier: Classifier,
    data: LabelledSet,
    *,
    aliases: Mapping[str, str] | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> Predictions:
    """Runs ``classifier`` on every image of ``data`` whose label it knows.

    Raises:
        EvaluationError: the model knows none of the set's labels.
    """
    mapping = match_labels(data.labels, classifier.labels, aliases)
    if all(v is None for v in mapping.values()):
        raise EvaluationError(
            f"model {classifier.path.name} knows none of the labels in {data.source.name} "
            f"({', '.join(data.labels[:5])}{' ...' if len(data.labels) > 5 else ''}); map them with --map"
        )
    rows = [i for i, item in enumerate(data.items) if mapping[item.label] is not None]
    unknown = Counter(item.label for item in data.items if mapping[item.label] is None)
    probs, from_logits = predict_probs(
        classifier, [data.items[i].path for i in rows], batch_size=batch_size, progress=progress
    )
    true = np.asarray([mapping[data.items[i].label] for i in rows], np.int64)
    return Predictions(
        PredictionTable(classifier.labels, true, probs), tuple(rows), dict(sorted(unknown.items())), from_logits
    )
