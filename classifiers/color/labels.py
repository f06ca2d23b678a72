"""The recogniser's colour labels, and how member models' labels map onto them.

The labels are colours of the shared vocabulary (:mod:`classifiers.color.vocabulary`), so the watchlist matcher
compares them with entries without a table of its own: a member model's label is read through the vocabulary
(``gray`` → ``grey``, ``golden`` → ``gold``, ``violet`` → ``purple``) and a colour the recogniser has no label
for is folded into the one it reads as (``bordeaux``, ``maroon`` → ``red``, dark). Colours it neither has nor
folds (``pink``) are dropped; colours a member lacks are filled in by abstention (:data:`NEIGHBOURS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from classifiers.color.vocabulary import color_name, resolve_color

COLOR_LABELS: tuple[str, ...] = (
    "black",
    "white",
    "grey",
    "silver",
    "blue",
    "red",
    "green",
    "yellow",
    "orange",
    "brown",
    "beige",
    "gold",
    "purple",
)
"""The colours the recogniser scores, in output order (fitted pools depend on it): every vocabulary colour but
maroon, which it folds into dark red (:data:`~classifiers.color.vocabulary.FOLDED_INTO`), and pink, which no member
model knows."""

INDEX: dict[str, int] = {label: i for i, label in enumerate(COLOR_LABELS)}

ACHROMATIC: tuple[str, ...] = ("black", "grey", "silver", "white")
"""From darkest to lightest: the colours told apart by lightness alone."""


def base_color(label: str) -> tuple[str, str | None] | None:
    """(recogniser label, implied shade) of a member model's label, or None when the recogniser has no such colour.

    Example:
        >>> base_color("Bordeaux"), base_color("gray"), base_color("pink")
        (('red', 'dark'), ('grey', None), None)
    """
    found = color_name(label)
    return None if found is None else resolve_color(found[0], found[1], INDEX)


NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "silver": ("white", "grey"),
    "grey": ("silver", "black"),
    "brown": ("red", "black"),
    "beige": ("white", "yellow"),
    "gold": ("yellow", "beige"),
    "orange": ("red", "yellow"),
    "purple": ("blue", "red"),
}
"""For a colour a member model lacks, the colours it most likely calls it instead (its label for silver paint is
white or grey). The member then *abstains* between the missing colour and those: the missing colour gets the
largest of their probabilities, so a model without ``silver`` neither votes for nor against silver when it says
white."""


@dataclass(frozen=True)
class LabelMap:
    """A member model's labels mapped onto :data:`COLOR_LABELS`.

    Attributes:
        source: the member's labels, in its output order.
        matrix: ``(len(source), len(COLOR_LABELS))``: row i is where label i's probability goes.
        missing: vocabulary colours the member has no label for; each takes the largest probability of its
            :data:`NEIGHBOURS` the member has (or the floor when it has none).
    """

    source: tuple[str, ...]
    matrix: NDArray[np.float32]
    missing: tuple[str, ...]

    def apply(self, probs: NDArray[np.float32], floor: float = 1e-3) -> NDArray[np.float32]:
        """``(N, len(source))`` member probabilities → ``(N, len(COLOR_LABELS))`` probabilities.

        Missing colours abstain (see :data:`NEIGHBOURS`); every entry is at least ``floor`` before the rows are
        normalised again, so one member's zero cannot veto a colour in a log-linear pool.
        """
        if probs.ndim != 2 or probs.shape[1] != len(self.source):
            raise ValueError(f"probs must have shape (N, {len(self.source)}), got {probs.shape}")
        out = probs.astype(np.float32) @ self.matrix
        for name in self.missing:
            present = [INDEX[n] for n in NEIGHBOURS.get(name, ()) if n not in self.missing]
            if present:
                out[:, INDEX[name]] = out[:, present].max(axis=1)
        out = np.maximum(out, floor)
        normalised: NDArray[np.float32] = (out / out.sum(axis=1, keepdims=True)).astype(np.float32)
        return normalised


def label_map(source: Sequence[str]) -> LabelMap:
    """Maps a member's labels onto the vocabulary; labels outside it (``pink``) are dropped.

    Raises:
        ValueError: none of the labels is a known colour.

    Example:
        >>> lm = label_map(["white", "gray", "red"])
        >>> lm.missing[:3]
        ('black', 'silver', 'blue')
    """
    matrix = np.zeros((len(source), len(COLOR_LABELS)), np.float32)
    for i, label in enumerate(source):
        found = base_color(label)
        if found is not None:
            matrix[i, INDEX[found[0]]] = 1.0
    if not matrix.any():
        raise ValueError(f"none of the labels {list(source)[:6]} is a colour the recogniser knows")
    covered = matrix.max(axis=0) >= 1.0
    missing = tuple(label for label, hit in zip(COLOR_LABELS, covered, strict=True) if not hit)
    return LabelMap(tuple(source), matrix, missing)
