"""Fitting the candidate methods of ``transform`` on a camera's labelled views (needs scipy: the tools extra).

``prior`` and ``head`` minimise, over the training views,

    sum_vehicles CE(label)  +  DISTILL * sum_vehicles KL(original || adapted)  +  L2 pull of every parameter to
    the identity (scale 1, bias 0, mixing 0)

with each vehicle weighing 1 however many views it has, and the losses SUMMED (not averaged) over vehicles: with a
few labelled vehicles the pull wins and the head changes little; with many, the labels do. The distillation term
keeps the original outputs on every view, labelled for this field or not (views labelled "can't tell" or labelled
for other fields only are fitted to the original model alone), so the head does not forget what it knew.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from classifiers.adaptation.errors import AdaptationError
from classifiers.adaptation.metric import VehicleViews
from classifiers.adaptation.transform import (
    F64,
    MEMORY_FLOOR,
    HeadAdaptation,
    Method,
    log_features,
    normalise,
    recall,
)

DISTILL = 0.5
"""Weight of keeping the original outputs (per vehicle, against 1 for its label)."""
PULL_SCALE = 4.0
"""L2 pull of the log inverse temperature toward 0 (temperature 1)."""
PULL_BIAS = 1.0
"""L2 pull of each label's log-bias toward 0."""
PULL_MIX = 2.0
"""L2 pull of each mixing weight toward 0 (the head starts, and stays without evidence, at the identity)."""
FULL_STEPS = 200
"""Most L-BFGS iterations of a fit from the identity."""
FOLD_STEPS = 40
"""Most iterations of a leave-one-vehicle-out fit warm-started from the full fit."""
MEMORY_STRENGTH = 1.0
"""Summed similarity at which the memory and the model weigh the same (one near-identical confirmed view: half)."""


@dataclass(frozen=True)
class FieldData:
    """One field's views on one camera, with the original model's probabilities.

    Attributes:
        head: the bank head judging the field.
        labels: the head's labels.
        probs: the original probabilities, (n_views, L).
        views: which vehicle each view is, and each vehicle's truth.
    """

    head: str
    labels: tuple[str, ...]
    probs: F64
    views: VehicleViews

    @property
    def targets(self) -> NDArray[np.int64]:
        """Per view, its vehicle's label index, or -1 (no training target: unlabelled or can't tell)."""
        t = self.views.truth[self.views.view_vehicle]
        return np.where(t >= 0, t, -1).astype(np.int64)

    def vehicle_weights(self, mask: NDArray[np.bool_]) -> F64:
        """Per view, 1 / (its vehicle's views inside ``mask``): each vehicle weighs 1; 0 outside the mask."""
        counts = np.bincount(self.views.view_vehicle[mask], minlength=len(self.views.truth)).astype(np.float64)
        w = 1.0 / np.maximum(counts[self.views.view_vehicle], 1.0)
        return np.where(mask, w, 0.0)


def _minimize() -> Callable[..., Any]:
    try:
        from scipy.optimize import minimize  # type: ignore[import-untyped]
    except ImportError as exc:
        raise AdaptationError(
            f"adapting needs the tools extra: pip install 'vehiclewatch[tools]' ({exc.name} is missing)"
        ) from exc
    return minimize  # type: ignore[no-any-return]


MAX_MIXING = 40
"""Most labels the ``head`` method mixes (the most frequent first): its size grows with their square."""


def mixing_labels(data: FieldData, mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """The labels the ``head`` method mixes: on the views with a label, the labels the operator named and those the
    model said instead (its confusions on this camera), most frequent first, at most ``MAX_MIXING``."""
    labelled = mask & (data.targets >= 0)
    named = np.concatenate([data.targets[labelled], data.probs[labelled].argmax(axis=1)])
    if not len(named):
        return np.zeros(0, np.int64)
    values, counts = np.unique(named, return_counts=True)
    keep = values[np.argsort(-counts, kind="stable")[:MAX_MIXING]]
    return np.sort(keep).astype(np.int64)


def fit_affine(
    data: FieldData, mask: NDArray[np.bool_], *, mixing: bool, start: HeadAdaptation | None = None
) -> HeadAdaptation:
    """``prior`` (``mixing=False``) or ``head`` fitted on the views in ``mask`` (warm-started from ``start``)."""
    x = log_features(data.probs[mask])
    p0 = np.exp(x)
    p0 /= p0.sum(axis=1, keepdims=True)
    targets = data.targets[mask]
    weights = data.vehicle_weights(mask)[mask]
    ce_w = np.where(targets >= 0, weights, 0.0)
    kl_w = DISTILL * weights
    onehot = np.zeros_like(x)
    rows = np.flatnonzero(targets >= 0)
    onehot[rows, targets[rows]] = 1.0
    n_labels = x.shape[1]
    idx = mixing_labels(data, mask) if mixing else np.zeros(0, np.int64)
    k = len(idx)
    xi = x[:, idx]

    def unpack(theta: F64) -> tuple[float, F64, F64]:
        return float(theta[0]), theta[1 : 1 + n_labels], theta[1 + n_labels :].reshape(k, k)

    def loss(theta: F64) -> tuple[float, F64]:
        s, b, delta = unpack(theta)
        z = x * np.exp(s) + b
        if k:
            z[:, idx] += xi @ delta.T
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        total = e.sum(axis=1, keepdims=True)
        p = e / total
        logsum = np.log(total[:, 0])
        # Cross-entropy with the label and with the teacher (KL up to the teacher's constant entropy), from
        # log p = z - logsum without forming the whole log p.
        ce = -(ce_w[rows] * (z[rows, targets[rows]] - logsum[rows])).sum()
        kl = -(kl_w * ((p0 * z).sum(axis=1) - logsum)).sum()
        reg = PULL_SCALE * s * s + PULL_BIAS * (b @ b) + PULL_MIX * float((delta * delta).sum())
        g = ce_w[:, None] * (p - onehot) + kl_w[:, None] * (p - p0)
        grad_s = np.exp(s) * float((g * x).sum()) + 2 * PULL_SCALE * s
        grad_b = g.sum(axis=0) + 2 * PULL_BIAS * b
        grad_d = (g[:, idx].T @ xi + 2 * PULL_MIX * delta).ravel() if k else np.zeros(0)
        return float(ce + kl + reg), np.concatenate([[grad_s], grad_b, grad_d])

    theta0 = np.zeros(1 + n_labels + k * k)
    if start is not None and start.method in ("prior", "head"):
        theta0[0] = np.log(start.scale)
        if len(start.bias):
            theta0[1 : 1 + n_labels] = start.bias
        if k and len(start.index):
            # Carry the start's mixing over the labels both share.
            pos = {int(j): a for a, j in enumerate(start.index)}
            shared = [(a, pos[int(j)]) for a, j in enumerate(idx) if int(j) in pos]
            d = np.zeros((k, k))
            for a, sa in shared:
                for c, sc in shared:
                    d[a, c] = start.delta[sa, sc]
            theta0[1 + n_labels :] = d.ravel()
    # A fold starts from the full fit and differs from it by one vehicle: a few dozen steps reach it.
    steps = FOLD_STEPS if start is not None else FULL_STEPS
    result = _minimize()(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": steps, "gtol": 1e-5})
    s, b, delta = unpack(np.asarray(result.x, np.float64))
    return HeadAdaptation(
        head=data.head,
        labels=data.labels,
        method="head" if mixing else "prior",
        scale=float(np.exp(s)),
        bias=b.astype(np.float32),
        index=idx,
        delta=delta.astype(np.float32),
    )


def memory_keys(data: FieldData, mask: NDArray[np.bool_]) -> tuple[F64, NDArray[np.int64], NDArray[np.int64]]:
    """(keys, their labels, their vehicles): the views in ``mask`` with a definite label."""
    rows = np.flatnonzero(mask & (data.targets >= 0))
    return log_features(data.probs[rows], MEMORY_FLOOR), data.targets[rows], data.views.view_vehicle[rows]


def squared_distances(a: F64, b: F64) -> F64:
    d2 = (a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :]
    out: F64 = np.maximum(d2, 0.0)
    return out


def memory_bandwidth(keys: F64, vehicles: NDArray[np.int64]) -> float:
    """The median distance from each key to the nearest key of ANOTHER vehicle (1.0 with under two vehicles):
    a crop as close to a confirmed vehicle as vehicles usually are to each other gets similarity about 0.6."""
    if len(np.unique(vehicles)) < 2:
        return 1.0
    d2 = squared_distances(keys, keys)
    d2[vehicles[:, None] == vehicles[None, :]] = np.inf
    nearest = np.sqrt(d2.min(axis=1))
    width = float(np.median(nearest))
    return width if width > 1e-6 else 1.0


def fit_memory(data: FieldData, mask: NDArray[np.bool_]) -> HeadAdaptation:
    """``memory`` holding the labelled views in ``mask``."""
    keys, labels, vehicles = memory_keys(data, mask)
    return HeadAdaptation(
        head=data.head,
        labels=data.labels,
        method="memory",
        keys=keys.astype(np.float32),
        key_labels=labels,
        bandwidth=memory_bandwidth(keys, vehicles),
        strength=MEMORY_STRENGTH,
    )


def fit(
    method: Method, data: FieldData, mask: NDArray[np.bool_], start: HeadAdaptation | None = None
) -> HeadAdaptation:
    """``method`` fitted on the views in ``mask`` (threshold 0: fitted afterwards)."""
    if method == "base":
        return HeadAdaptation(head=data.head, labels=data.labels, method="base")
    if method == "memory":
        return fit_memory(data, mask)
    return fit_affine(data, mask, mixing=method == "head", start=start)


def memory_out_of_vehicle(data: FieldData, adaptation: HeadAdaptation) -> F64:
    """Every view's memory output with its own vehicle's keys left out (leave-one-vehicle-out in one pass)."""
    keys, labels, vehicles = memory_keys(data, np.ones(len(data.probs), bool))
    p = normalise(data.probs)
    if not len(keys):
        return p
    x = log_features(data.probs, MEMORY_FLOOR)
    sim = np.exp(-squared_distances(x, keys) / (2.0 * adaptation.bandwidth**2))
    sim[data.views.view_vehicle[:, None] == vehicles[None, :]] = 0.0
    return recall(p, sim, labels, adaptation.strength)
