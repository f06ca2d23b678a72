"""Licence plates in watchlist entries: full or partial plates with ``?`` and ``*`` wildcards.

A plate pattern is stored normalised: upper case, letters and digits only (spaces, hyphens and dots that plates
are written with are dropped), plus the wildcards ``?`` (exactly one character) and ``*`` (any run, also empty).
``"7xk-12?"`` → ``"7XK12?"``; a partial plate seen somewhere on the plate is ``"*7XK*"``.

Matching needs a plate reader: :class:`PlateRead` is its text and confidence. The plate field's score is the
probability that the vehicle's plate fits the pattern, taking the reader's confidence as the probability that its
text is right: ``confidence`` when the text fits, ``1 - confidence`` when it does not (the read may be wrong, and
then the plate may fit). Without a read, the plate is not judged and the other fields decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_PLATE_LENGTH = 16
_DROPPED = re.compile(r"[\s.\-·]+")
_VALID = re.compile(r"^[A-Z0-9?*]+$")


class PlateError(ValueError):
    """A plate pattern or plate read that cannot be used; the message says why."""


def normalize_plate(text: str) -> str:
    """Upper case without separators; wildcards kept and runs of ``*`` merged (``"ab-12 **"`` → ``"AB12*"``)."""
    return re.sub(r"\*+", "*", _DROPPED.sub("", text.upper()))


def validate_plate_pattern(text: str) -> str:
    """The normalised pattern, or :class:`PlateError` saying what is wrong with it."""
    pattern = normalize_plate(text)
    if not pattern:
        raise PlateError("is empty")
    if not _VALID.match(pattern):
        bad = sorted({ch for ch in pattern if not (ch.isascii() and (ch.isalnum() or ch in "?*"))})
        raise PlateError(f"may hold letters, digits, '?' and '*' only, not {''.join(bad)!r}")
    if not any(ch.isalnum() for ch in pattern):
        raise PlateError("needs at least one letter or digit besides the wildcards")
    if len(pattern) > MAX_PLATE_LENGTH:
        raise PlateError(f"is longer than {MAX_PLATE_LENGTH} characters")
    return pattern


def plate_regex(pattern: str) -> re.Pattern[str]:
    """The compiled regular expression of a normalised pattern (whole-plate match)."""
    body = "".join("." if ch == "?" else ".*" if ch == "*" else re.escape(ch) for ch in pattern)
    return re.compile(f"^{body}$")


def is_partial(pattern: str) -> bool:
    """Whether the pattern has wildcards (a partial plate)."""
    return "?" in pattern or "*" in pattern


@dataclass(frozen=True, slots=True)
class PlateRead:
    """A plate reader's result for one vehicle.

    Attributes:
        text: the plate as read (normalised on creation).
        confidence: the reader's probability that ``text`` is right, in [0, 1].
        char_confidences: per character of ``text``, the reader's probability that it is right; empty when the
            reader gives none (then a near miss is not forgiven; see :mod:`watchlists.plate_match`).
    """

    text: str
    confidence: float
    char_confidences: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        text = normalize_plate(self.text)
        if not text or not text.isalnum() or not text.isascii():
            raise PlateError(f"plate read {self.text!r} must be letters and digits")
        if not 0.0 <= self.confidence <= 1.0:
            raise PlateError(f"plate read confidence must be in [0, 1], got {self.confidence}")
        object.__setattr__(self, "text", text)
        if self.char_confidences and (
            len(self.char_confidences) != len(text) or not all(0.0 <= c <= 1.0 for c in self.char_confidences)
        ):
            raise PlateError("plate read needs one confidence in [0, 1] per character, or none")

    def score(self, pattern: re.Pattern[str]) -> float:
        """Probability that the vehicle's plate fits ``pattern`` (see the module doc)."""
        return self.confidence if pattern.match(self.text) else 1.0 - self.confidence
