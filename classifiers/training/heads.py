"""Classification heads on embeddings: scikit-learn candidates, chosen on validation, as plain layer lists.

A fitted head becomes a tuple of ``HeadOp`` layers (L2 normalisation, affine map, ReLU, softmax). The same list is
run in numpy (``apply_ops``) and written as ONNX nodes (``export.py``), so the exported graph computes exactly what
scikit-learn fitted; a ``StandardScaler`` is folded into the next affine layer and costs nothing at serving time.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar  # type: ignore[import-untyped]
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import Normalizer, StandardScaler
from tqdm import tqdm  # type: ignore[import-untyped]

from classifiers.training.errors import TrainingError

log = logging.getLogger(__name__)

HEAD_KINDS = ("prototype", "logreg", "mlp")


@dataclass(frozen=True)
class L2Normalize:
    """x / max(‖x‖₂, eps) along the feature axis."""

    eps: float = 1e-12


@dataclass(frozen=True)
class Affine:
    """x @ weight + bias, with ``weight`` ``(in, out)``."""

    weight: NDArray[np.float32]
    bias: NDArray[np.float32]


@dataclass(frozen=True)
class Relu:
    """max(x, 0)."""


@dataclass(frozen=True)
class Softmax:
    """Softmax along the class axis (the head's last layer)."""


HeadOp = L2Normalize | Affine | Relu | Softmax


def apply_ops(ops: Sequence[HeadOp], x: NDArray[np.float32]) -> NDArray[np.float32]:
    """Runs a head's layers on embeddings ``(N, dim)`` in numpy."""
    out = np.asarray(x, np.float32)
    for op in ops:
        if isinstance(op, L2Normalize):
            out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), op.eps)
        elif isinstance(op, Affine):
            out = out @ op.weight + op.bias
        elif isinstance(op, Relu):
            out = np.maximum(out, 0)
        else:
            shifted = np.exp(out - out.max(axis=1, keepdims=True))
            out = shifted / shifted.sum(axis=1, keepdims=True)
    return out.astype(np.float32)


class PrototypeClassifier:
    """Nearest class mean under cosine similarity: probabilities are softmax(temperature × cosine).

    The temperature only calibrates confidences (it never changes the ranking); it is fit by minimising the
    training log-loss with scipy's bounded scalar search.
    """

    def __init__(self) -> None:
        self.classes_: NDArray[np.int64] = np.zeros(0, np.int64)
        self.centroids_: NDArray[np.float32] = np.zeros((0, 0), np.float32)
        self.temperature_ = 1.0

    def fit(self, x: NDArray[np.float32], y: NDArray[np.int64]) -> PrototypeClassifier:
        self.classes_ = np.unique(y)
        unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        centroids = np.stack([unit[y == c].mean(axis=0) for c in self.classes_])
        self.centroids_ = (centroids / np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)).astype(
            np.float32
        )
        cosine = unit @ self.centroids_.T
        rows = np.searchsorted(self.classes_, y)

        def nll(t: float) -> float:
            z = t * cosine
            z = z - z.max(axis=1, keepdims=True)
            return float(-(z[np.arange(len(z)), rows] - np.log(np.exp(z).sum(axis=1))).mean())

        self.temperature_ = float(minimize_scalar(nll, bounds=(1.0, 200.0), method="bounded").x)
        return self

    def predict_proba(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        return apply_ops(self.ops(), x)

    def ops(self) -> tuple[HeadOp, ...]:
        weight = (self.centroids_.T * self.temperature_).astype(np.float32)
        return (L2Normalize(), Affine(weight, np.zeros(weight.shape[1], np.float32)), Softmax())


@dataclass(frozen=True)
class HeadCandidate:
    """One head to try: ``make`` builds a fresh unfitted estimator."""

    name: str
    kind: str
    make: Callable[[], Any]


def _logreg(c: float) -> Callable[[], Any]:
    def make() -> Any:
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=300, tol=1e-3))

    return make


def default_candidates(kinds: Sequence[str], seed: int) -> list[HeadCandidate]:
    """The candidates of the named kinds, simplest first (ties in validation go to the earlier one).

    - ``prototype``: cosine nearest class mean; no fitting beyond means, good with very few images per class.
    - ``logreg``: multinomial logistic regression on standardised embeddings, C ∈ {0.1, 1, 10}.
    - ``mlp``: one hidden ReLU layer (512) on standardised embeddings, Adam for 25 epochs, L2 1e-3; the slowest.
    """
    unknown = [k for k in kinds if k not in HEAD_KINDS]
    if unknown:
        raise TrainingError(f"unknown head kind {unknown[0]!r} (choose from {', '.join(HEAD_KINDS)})")
    out: list[HeadCandidate] = []
    if "prototype" in kinds:
        out.append(HeadCandidate("prototype(cosine)", "prototype", PrototypeClassifier))
    if "logreg" in kinds:
        out += [HeadCandidate(f"logreg(C={c:g})", "logreg", _logreg(c)) for c in (0.1, 1.0, 10.0)]
    if "mlp" in kinds:
        out.append(
            HeadCandidate(
                "mlp(512)",
                "mlp",
                lambda: make_pipeline(
                    StandardScaler(),
                    MLPClassifier(
                        hidden_layer_sizes=(512,),
                        alpha=1e-3,
                        batch_size="auto",
                        learning_rate_init=1e-3,
                        max_iter=25,
                        early_stopping=False,
                        random_state=seed,
                    ),
                ),
            )
        )
    if not out:
        raise TrainingError("no head candidates chosen")
    return out


def fit_estimator(candidate: HeadCandidate, x: NDArray[np.float32], y: NDArray[np.int64]) -> Any:
    """Fits a fresh estimator of ``candidate``; convergence warnings are logged, not raised (a capped number of
    iterations is a deliberate time budget, and validation judges the result)."""
    estimator = candidate.make()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        estimator.fit(x, y)
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            log.debug("%s: %s", candidate.name, warning.message)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return estimator


def _binary_as_softmax(weight: NDArray[np.float64], bias: NDArray[np.float64]) -> tuple[NDArray[Any], NDArray[Any]]:
    # scikit-learn's 2-class models output one logit z with P(class 1) = sigmoid(z) = softmax([0, z])[1].
    return np.concatenate([np.zeros_like(weight), weight], axis=1), np.concatenate([np.zeros_like(bias), bias])


def estimator_to_ops(estimator: Any) -> tuple[HeadOp, ...]:
    """The layers of a fitted head (``PrototypeClassifier``, or a pipeline of ``StandardScaler``/``Normalizer``
    then ``LogisticRegression``/``MLPClassifier``)."""
    if isinstance(estimator, PrototypeClassifier):
        return estimator.ops()
    steps = [s for _, s in estimator.steps] if isinstance(estimator, Pipeline) else [estimator]
    ops: list[HeadOp] = []
    # A pending standardisation x' = (x - mean) / scale, folded into the next affine layer.
    mean: NDArray[np.float64] | None = None
    scale: NDArray[np.float64] | None = None

    def affine(weight: NDArray[Any], bias: NDArray[Any]) -> Affine:
        nonlocal mean, scale
        w = np.asarray(weight, np.float64)
        b = np.asarray(bias, np.float64)
        if mean is not None and scale is not None:
            # ((x - mean) / scale) @ w + b == x @ (w / scale) + (b - mean @ (w / scale))
            w = w / scale[:, None]
            b = b - mean @ w
            mean = scale = None
        return Affine(w.astype(np.float32), b.astype(np.float32))

    for step in steps:
        if isinstance(step, StandardScaler):
            if mean is not None:
                raise TrainingError("two StandardScalers in a row are not supported")
            mean = np.asarray(step.mean_, np.float64) if step.with_mean else np.zeros(step.n_features_in_)
            scale = np.asarray(step.scale_, np.float64) if step.with_std else np.ones(step.n_features_in_)
        elif isinstance(step, Normalizer):
            if step.norm != "l2" or mean is not None:
                raise TrainingError("only an L2 Normalizer before any scaler is supported")
            ops.append(L2Normalize())
        elif isinstance(step, LogisticRegression):
            weight, bias = step.coef_.T, step.intercept_
            if weight.shape[1] == 1:
                weight, bias = _binary_as_softmax(weight, bias)
            ops += [affine(weight, bias), Softmax()]
        elif isinstance(step, MLPClassifier):
            if step.activation != "relu":
                raise TrainingError(f"MLP activation {step.activation!r} is not supported (use relu)")
            layers = list(zip(step.coefs_, step.intercepts_, strict=True))
            for weight, bias in layers[:-1]:
                ops += [affine(weight, bias), Relu()]
            weight, bias = layers[-1]
            if step.out_activation_ == "logistic":
                weight, bias = _binary_as_softmax(weight, bias)
            elif step.out_activation_ != "softmax":
                raise TrainingError(f"MLP output {step.out_activation_!r} is not supported")
            ops += [affine(weight, bias), Softmax()]
        else:
            raise TrainingError(f"cannot export head step {type(step).__name__}")
    if not ops or not isinstance(ops[-1], Softmax):
        raise TrainingError("a head must end with a classifier")
    return tuple(ops)


@dataclass(frozen=True)
class CandidateScore:
    """How one candidate did on the validation images (original views only)."""

    name: str
    kind: str
    top1: float
    top3: float
    log_loss: float
    fit_seconds: float


def score_probs(probs: NDArray[np.float32], y: NDArray[np.int64]) -> tuple[float, float, float]:
    """(top-1, top-3, mean log-loss) of class probabilities against true class indices."""
    order = np.argsort(-probs, axis=1, kind="stable")
    top1 = float(np.mean(order[:, 0] == y))
    top3 = float(np.mean((order[:, :3] == y[:, None]).any(axis=1)))
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, 1.0))))
    return top1, top3, loss


def select_head(
    candidates: Sequence[HeadCandidate],
    x_train: NDArray[np.float32],
    y_train: NDArray[np.int64],
    x_val: NDArray[np.float32],
    y_val: NDArray[np.int64],
    *,
    progress: bool = False,
) -> tuple[HeadCandidate, list[CandidateScore]]:
    """Fits every candidate on the training embeddings and picks the best validation top-1 (then log-loss).

    Returns:
        The chosen candidate and every candidate's scores, in trial order.
    """
    n_classes = int(y_train.max()) + 1
    scores: list[CandidateScore] = []
    for candidate in tqdm(candidates, desc="choosing head", unit="head", disable=not progress, leave=False):
        started = time.perf_counter()
        estimator = fit_estimator(candidate, x_train, y_train)
        seconds = time.perf_counter() - started
        ops = estimator_to_ops(estimator)
        probs = apply_ops(ops, x_val)
        if probs.shape[1] != n_classes:
            raise TrainingError(f"{candidate.name} learnt {probs.shape[1]} classes, expected {n_classes}")
        top1, top3, loss = score_probs(probs, y_val)
        scores.append(CandidateScore(candidate.name, candidate.kind, top1, top3, loss, seconds))
        log.info("head %s: val top-1 %.4f top-3 %.4f log-loss %.3f (%.1f s)", candidate.name, top1, top3, loss, seconds)
    best = max(range(len(scores)), key=lambda i: (scores[i].top1, -scores[i].log_loss, -i))
    return candidates[best], scores
