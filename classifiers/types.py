"""What a classifier says about one crop: a full probability vector per head."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class LabelScore:
    """One label of a head with its probability: the project's one label type inside the service.

    Everything that passes single labels around uses it (a head's top-k, a match's per-field breakdown, which adds
    a weight to it); only the alert message turns it into its wire shape (``watchlists.alerts.LabelProb``).
    """

    label: str
    prob: float


@dataclass(frozen=True, slots=True)
class HeadScores:
    """One head's probabilities over its labels (all of them, so matching can use more than the top-1).

    Example:
        >>> h = HeadScores("color", ("red", "blue"), np.array([0.25, 0.75], np.float32))
        >>> h.top(1)[0].label
        'blue'
    """

    head: str
    labels: tuple[str, ...]
    probs: NDArray[np.float32]

    def __post_init__(self) -> None:
        if self.probs.shape != (len(self.labels),):
            raise ValueError(f"head {self.head!r}: probs must have shape ({len(self.labels)},), got {self.probs.shape}")

    def top(self, k: int) -> list[LabelScore]:
        """The ``k`` most probable labels, most probable first (ties in label order)."""
        order = np.argsort(-self.probs, kind="stable")[:k]
        return [LabelScore(self.labels[i], float(self.probs[i])) for i in order]

    def mass(self, accept: Callable[[str], bool]) -> float:
        """Total probability of the labels ``accept`` says yes to."""
        return float(sum(float(p) for label, p in zip(self.labels, self.probs, strict=True) if accept(label)))


@dataclass(frozen=True, slots=True)
class Classification:
    """Every head's scores for one crop, keyed by head name (``make``, ``color``, ``type`` ...)."""

    heads: Mapping[str, HeadScores]

    def top(self, k: int) -> dict[str, list[LabelScore]]:
        """Each head's ``k`` most probable labels."""
        return {name: scores.top(k) for name, scores in self.heads.items()}
