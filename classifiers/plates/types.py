"""What a plate reader returns for one vehicle crop: text, per-character confidences and the plate's box."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""The characters a plate read may hold (recognition is restricted to them)."""


@dataclass(frozen=True, slots=True)
class PlateReading:
    """One plate read.

    Attributes:
        text: upper-case letters and digits, no separators.
        char_confidences: the reader's probability of each character of ``text``, in order.
        box: ``x1, y1, x2, y2`` of the text on the plate, in pixels of the image that was read.
        format: the plate format (region) the text fits, or None when it fits none.
        alternatives: per character, the probability of every character of `ALPHABET` (for fusion and format
            fixes); empty when not kept.
    """

    text: str
    char_confidences: tuple[float, ...]
    box: tuple[float, float, float, float]
    format: str | None = None
    alternatives: tuple[tuple[float, ...], ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.text or not all(ch in ALPHABET for ch in self.text):
            raise ValueError(f"plate text {self.text!r} must be upper-case letters and digits")
        if len(self.char_confidences) != len(self.text):
            raise ValueError("one confidence per character is needed")
        if any(not 0.0 <= c <= 1.0 for c in self.char_confidences):
            raise ValueError("character confidences must be in [0, 1]")

    @property
    def confidence(self) -> float:
        """Probability that the whole text is right: the product of the character confidences."""
        return math.prod(self.char_confidences)

    @property
    def min_confidence(self) -> float:
        """The least sure character's confidence."""
        return min(self.char_confidences)
