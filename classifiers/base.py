"""What the classifier bank needs from a crop classifier, whatever model or runtime is behind it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from classifiers.crops import ImageArray
from classifiers.types import HeadScores


@runtime_checkable
class CropClassifier(Protocol):
    """Scores BGR vehicle crops on one or more named heads (``make``, ``color`` …).

    Implementations open and warm up their models when constructed (see `classifiers.registry.open_classifier`).
    """

    @property
    def path(self) -> Path:
        """The file it was opened from (names it in messages)."""
        ...

    @property
    def heads(self) -> dict[str, tuple[str, ...]]:
        """Head name → its labels, for every head it produces."""
        ...

    def classify(self, crops: Sequence[ImageArray]) -> list[dict[str, HeadScores]]:
        """One ``{head: HeadScores}`` per BGR ``(h, w, 3)`` uint8 crop of any size, in input order; batched inside.

        Raises:
            ValueError: a crop is not a BGR uint8 image.
        """
        ...
