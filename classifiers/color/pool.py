"""The recogniser's combination rule: a weighted log-linear pool of its members, fitted with few parameters.

Each member (a classifier, the paint statistic) gives probabilities over :data:`COLOR_LABELS`. The pool is

    P(colour) ∝ exp( Σₘ wₘ · log pₘ(colour) + b(colour) )

with one weight per member and one bias per colour: ``1 + members + colours`` numbers in all. Few parameters is
the point: the calibration data (real camera crops) is small and every camera differs, so a flexible combiner
(a logistic regression on the members' full outputs, or on embeddings) learns one camera's look and fails on the
next; cross-validated by camera, this pool does not (see docs/color.md).

Fitting minimises the (sample-weighted) log-loss with an L2 penalty on the biases, by L-BFGS (scipy). Biases of
colours without calibration examples stay 0 (their only evidence would be "never seen", which says nothing about
other cameras).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class PoolParams:
    """Member weights and per-colour biases of a fitted pool."""

    weights: tuple[float, ...]
    biases: tuple[float, ...]


def pool_log_probs(members: Sequence[NDArray[np.floating]], params: PoolParams) -> FloatArray:
    """Pooled log-probabilities ``(N, colours)`` from the members' ``(N, colours)`` log-probabilities.

    Raises:
        ValueError: the member count or the array shapes do not fit the parameters.
    """
    if len(members) != len(params.weights):
        raise ValueError(f"pool has {len(params.weights)} member weights, got {len(members)} members")
    shape = members[0].shape
    if len(shape) != 2 or shape[1] != len(params.biases) or any(m.shape != shape for m in members):
        raise ValueError(f"members must all be (N, {len(params.biases)}) arrays, got {[m.shape for m in members]}")
    z = np.asarray(params.biases, np.float64)[None, :] + sum(
        (w * np.asarray(m, np.float64) for w, m in zip(params.weights, members, strict=True)),
        start=np.zeros(shape, np.float64),
    )
    z -= z.max(axis=1, keepdims=True)
    out: FloatArray = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return out


def fit_pool(
    members: Sequence[NDArray[np.floating]],
    targets: NDArray[np.integer],
    *,
    sample_weight: NDArray[np.floating] | None = None,
    bias_penalty: float = 0.01,
    reference: int = 0,
) -> PoolParams:
    """Fits member weights and colour biases by penalised maximum likelihood.

    Args:
        members: each member's ``(N, colours)`` log-probabilities.
        targets: ``(N,)`` true colour index; rows with a negative target are ignored (unsure labels).
        sample_weight: ``(N,)`` weight of each row (default 1), e.g. to balance two data sets.
        bias_penalty: L2 penalty on the biases, per unit of mean log-loss; it pulls colours the data knows
            little about back to 0.
        reference: the colour whose bias is fixed at 0 (biases only matter relative to each other).

    Raises:
        ValueError: no usable rows, or mismatched shapes.
    """
    # Imported here: serving only applies a fitted pool, and needs no scipy.
    from scipy.optimize import minimize  # type: ignore[import-untyped]

    n, k = members[0].shape
    y = np.asarray(targets, np.int64)
    if y.shape != (n,):
        raise ValueError(f"targets must have shape ({n},), got {y.shape}")
    use = y >= 0
    if not use.any():
        raise ValueError("no rows with a known colour to fit the pool on")
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    stack = np.stack([np.asarray(m, np.float64)[use] for m in members])  # (M, n, k)
    yy, ww = y[use], w[use]
    # Colours without a single example keep bias 0, and so does the reference.
    free = np.zeros(k, bool)
    free[np.unique(yy[ww > 0])] = True
    free[reference] = False
    m_count = len(members)

    def unpack(theta: FloatArray) -> tuple[FloatArray, FloatArray]:
        biases = np.zeros(k)
        biases[free] = theta[m_count:]
        return theta[:m_count], biases

    def loss(theta: FloatArray) -> tuple[float, FloatArray]:
        weights, biases = unpack(theta)
        z = np.tensordot(weights, stack, axes=1) + biases
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        total = ww.sum()
        nll = -float((ww * np.log(p[np.arange(len(yy)), yy] + 1e-300)).sum() / total)
        # d loss / d z = (p − onehot) · w / total
        grad_z = p.copy()
        grad_z[np.arange(len(yy)), yy] -= 1.0
        grad_z *= (ww / total)[:, None]
        grad_w = np.einsum("mnk,nk->m", stack, grad_z)
        grad_b = grad_z.sum(axis=0) + 2.0 * bias_penalty * biases
        return nll + bias_penalty * float((biases**2).sum()), np.concatenate([grad_w, grad_b[free]])

    start = np.concatenate([np.ones(m_count), np.zeros(int(free.sum()))])
    result = minimize(loss, start, jac=True, method="L-BFGS-B")
    weights, biases = unpack(np.asarray(result.x, np.float64))
    return PoolParams(tuple(float(x) for x in weights), tuple(float(x) for x in biases))


def grouped_cross_val(
    members: Sequence[NDArray[np.floating]],
    targets: NDArray[np.integer],
    groups: Sequence[str],
    *,
    extra: tuple[Sequence[NDArray[np.floating]], NDArray[np.integer], float] | None = None,
    bias_penalty: float = 0.01,
) -> tuple[FloatArray, dict[str, PoolParams]]:
    """Leave-one-group-out predictions: each group (a camera, a clip) is scored by a pool fitted without it.

    Args:
        members: each member's ``(N, colours)`` log-probabilities.
        targets: ``(N,)`` colour indices (negative: not used for fitting).
        groups: ``(N,)`` group of each row; no group's rows ever help fit the pool that scores them.
        extra: another labelled set always in the training side: ``(members, targets, row weight)``.
        bias_penalty: as ``fit_pool``.

    Returns:
        ``(N, colours)`` held-out probabilities, and the parameters fitted for each held-out group.
    """
    group_array = np.asarray(groups)
    probs = np.zeros(members[0].shape, np.float64)
    fitted: dict[str, PoolParams] = {}
    y = np.asarray(targets, np.int64)
    for group in dict.fromkeys(group_array.tolist()):
        held = group_array == group
        train_y = np.where(held, -1, y)
        if extra is None:
            params = fit_pool(members, train_y, bias_penalty=bias_penalty)
        else:
            extra_members, extra_y, extra_weight = extra
            params = fit_pool(
                [np.concatenate([a, b]) for a, b in zip(members, extra_members, strict=True)],
                np.concatenate([train_y, np.asarray(extra_y, np.int64)]),
                sample_weight=np.concatenate([np.ones(len(y)), np.full(len(extra_y), extra_weight)]),
                bias_penalty=bias_penalty,
            )
        fitted[str(group)] = params
        probs[held] = np.exp(pool_log_probs([m[held] for m in members], params))
    return probs, fitted
