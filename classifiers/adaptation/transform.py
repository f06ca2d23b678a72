"""What one adapted head does to a crop's probabilities: numpy only, so the service applies it cheaply.

Every method works on the original model's probability vector ``p`` through its log, ``x = log max(p, FLOOR)``:

* ``base``: ``p`` unchanged (only the abstention threshold is re-fitted);
* ``prior``: a per-camera temperature and per-label log-bias, ``softmax(x * scale + bias)``;
* ``head``: the same plus a learnt mixing of the labels the camera's operator named,
  ``z = x * scale + bias; z[idx] += delta @ x[idx]`` (identity at ``delta = 0``);
* ``memory``: the camera's confirmed vehicles as keys in log-probability space; a crop near them borrows their
  labels, blended with ``p`` by how similar it is: ``(1 - w) p + w q``, ``w = S / (S + strength)``, where ``S`` is
  the summed Gaussian similarity to the keys and ``q`` the similarity-weighted share of each key's label.

Then the head abstains on a crop whose top adapted probability is under ``threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Method = Literal["base", "prior", "memory", "head"]
METHODS: tuple[Method, ...] = ("base", "prior", "memory", "head")
"""Every method, simplest first (a tie in the selection goes to the simpler)."""

FLOOR = 1e-6
"""Probability floor before the log: a label the model rules out still has a finite feature."""
MEMORY_FLOOR = 1e-3
"""Coarser floor for the memory's distances, so the many near-zero labels' noise does not dominate them."""

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


def log_features(probs: NDArray[np.floating], floor: float = FLOOR) -> F64:
    """``log(max(p, floor))`` as float64, the features every method reads."""
    return np.log(np.clip(np.asarray(probs, np.float64), floor, 1.0))


def softmax(z: F64) -> F64:
    """Row-wise softmax, stable for any logits."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    out: F64 = e / e.sum(axis=1, keepdims=True)
    return out


def normalise(p: F64) -> F64:
    """Rows scaled to sum to 1."""
    out: F64 = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
    return out


def recall(p: F64, sim: F64, key_labels: NDArray[np.int64], strength: float) -> F64:
    """``p`` blended with the keys' labels by the similarities ``sim`` (n, m) to the keys."""
    total = sim.sum(axis=1, keepdims=True)
    q = np.zeros_like(p)
    np.add.at(q.T, key_labels, sim.T)  # q[:, label of key j] += sim[:, j]
    q /= np.maximum(total, 1e-300)
    w = total / (total + strength)
    out: F64 = (1.0 - w) * p + w * q
    return out


def _empty_f32(*shape: int) -> F32:
    return np.zeros(shape, np.float32)


@dataclass(frozen=True, eq=False)
class HeadAdaptation:
    """One head's adaptation: its method's parameters and its re-fitted abstention threshold.

    Attributes:
        head: the bank head name (``make``, ``color``, ``type`` ...).
        labels: the labels of the head it was fitted on (in the model's order).
        method: one of ``METHODS``.
        threshold: abstain on a crop whose top adapted probability is below this (0: never).
        scale: ``prior``/``head``: the inverse temperature on the log-probabilities.
        bias: ``prior``/``head``: per-label log-bias, shape (L,) (empty: none).
        index: ``head``: the labels the mixing acts on, shape (k,).
        delta: ``head``: the mixing, shape (k, k): ``z[index] += delta @ x[index]``.
        keys: ``memory``: the confirmed views' ``log_features(p, MEMORY_FLOOR)``, shape (m, L).
        key_labels: ``memory``: each key's label index, shape (m,).
        bandwidth: ``memory``: the Gaussian kernel's width, in the keys' distance units.
        strength: ``memory``: summed similarity at which memory and model weigh the same.
    """

    head: str
    labels: tuple[str, ...]
    method: Method
    threshold: float = 0.0
    scale: float = 1.0
    bias: F32 = field(default_factory=lambda: _empty_f32(0))
    index: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    delta: F32 = field(default_factory=lambda: _empty_f32(0, 0))
    keys: F32 = field(default_factory=lambda: _empty_f32(0, 0))
    key_labels: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    bandwidth: float = 1.0
    strength: float = 1.0

    def __post_init__(self) -> None:
        n = len(self.labels)
        k = len(self.index)
        if self.method not in METHODS:
            raise ValueError(f"head {self.head!r}: unknown method {self.method!r}")
        if self.bias.shape not in ((0,), (n,)):
            raise ValueError(f"head {self.head!r}: bias must have shape ({n},), got {self.bias.shape}")
        if self.delta.shape != (k, k) or (k and (self.index.min() < 0 or self.index.max() >= n)):
            raise ValueError(f"head {self.head!r}: mixing of shape {self.delta.shape} over {k} labels is invalid")
        if self.keys.shape[0] != self.key_labels.shape[0] or (len(self.keys) and self.keys.shape[1] != n):
            raise ValueError(f"head {self.head!r}: memory keys {self.keys.shape} do not match {n} labels")
        if len(self.key_labels) and (self.key_labels.min() < 0 or self.key_labels.max() >= n):
            raise ValueError(f"head {self.head!r}: a memory key's label is out of range")
        if not (0.0 <= self.threshold <= 1.0) or not self.bandwidth > 0 or not self.strength > 0:
            raise ValueError(f"head {self.head!r}: threshold, bandwidth or strength out of range")

    def adapt(self, probs: NDArray[np.floating]) -> F64:
        """The adapted probabilities of ``probs`` (n, L); rows sum to 1."""
        p = np.asarray(probs, np.float64)
        if p.ndim != 2 or p.shape[1] != len(self.labels):
            raise ValueError(f"head {self.head!r}: probs must have shape (n, {len(self.labels)}), got {p.shape}")
        if self.method == "base" or not len(p):
            return normalise(p)
        if self.method == "memory":
            return self._recall(p)
        x = log_features(p)
        z = x * self.scale
        if len(self.bias):
            z = z + self.bias
        if len(self.index):
            z[:, self.index] += x[:, self.index] @ self.delta.astype(np.float64).T
        return softmax(z)

    def _recall(self, p: F64) -> F64:
        """Blends ``p`` with the labels of the keys near it, by summed similarity."""
        if not len(self.keys):
            return normalise(p)
        x = log_features(p, MEMORY_FLOOR)
        keys = self.keys.astype(np.float64)
        d2 = (x * x).sum(1)[:, None] - 2.0 * x @ keys.T + (keys * keys).sum(1)[None, :]
        sim = np.exp(-np.maximum(d2, 0.0) / (2.0 * self.bandwidth**2))
        return recall(normalise(p), sim, self.key_labels, self.strength)

    def apply(self, probs: NDArray[np.floating]) -> tuple[F32, NDArray[np.bool_]]:
        """(adapted probabilities as float32, abstain mask): the head abstains where the top is under threshold."""
        adapted = self.adapt(probs)
        abstain = adapted.max(axis=1) < self.threshold if len(adapted) else np.zeros(0, bool)
        return adapted.astype(np.float32), np.asarray(abstain, bool)
