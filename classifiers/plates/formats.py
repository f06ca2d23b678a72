"""Plate formats: regular expressions per region that re-rank reads and fix look-alike characters where needed.

A format (like Frigate's ``format``) is a whole-plate regular expression over upper-case letters and digits. A read
that fits a format is kept as it is. A read that fits none is re-read through the look-alike pairs (O/0, I/1, B/8,
S/5, Z/2, G/6, D/0, Q/0, A/4, T/7): each character may be swapped for its look-alike, and the most probable variant
that fits a format wins, its probability taken from the recogniser's own scores of the swapped characters. So a
confusion is only fixed where the format demands it, never because one glyph is "usually" the other.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from classifiers.plates.types import ALPHABET

LOOK_ALIKES: Mapping[str, str] = {
    "O": "0",
    "0": "O",
    "D": "0",
    "Q": "0",
    "I": "1",
    "1": "I",
    "B": "8",
    "8": "B",
    "S": "5",
    "5": "S",
    "Z": "2",
    "2": "Z",
    "G": "6",
    "6": "G",
    "A": "4",
    "4": "A",
    "T": "7",
    "7": "T",
}
"""Each character's most common look-alike on plates (letter ↔ digit)."""


_MIN_SWAP_PROBABILITY = 0.01
_MAX_SWAPS = 4  # at most 2^4 variants tried per read: enough for real reads, bounded for garbage


@dataclass(frozen=True, slots=True)
class PlateFormats:
    """Compiled plate formats: region → regular expressions (whole-plate match)."""

    patterns: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def compile(cls, formats: Mapping[str, Sequence[str]]) -> PlateFormats:
        """Raises ValueError naming the region of an invalid regular expression."""
        compiled: list[tuple[str, re.Pattern[str]]] = []
        for region, expressions in formats.items():
            for expression in expressions:
                try:
                    compiled.append((region, re.compile(f"(?:{expression})\\Z")))
                except re.error as exc:
                    raise ValueError(f"plate format {expression!r} of region {region!r}: {exc}") from None
        return cls(tuple(compiled))

    def region_of(self, text: str) -> str | None:
        """The first region whose format ``text`` fits, or None."""
        for region, pattern in self.patterns:
            if pattern.match(text):
                return region
        return None

    def fix(
        self, text: str, confidences: Sequence[float], alternatives: Sequence[Sequence[float]]
    ) -> tuple[str, tuple[float, ...], str | None]:
        """The read re-ranked by the formats: ``(text, character confidences, region)``.

        A fitting read is returned unchanged. Otherwise the most probable variant that fits a format: look-alikes
        swapped (see the module doc), or failing that one character dropped (an emblem or a bolt between the
        halves of a plate read as a character; the dropped character's doubt, 1 − its confidence, is the
        variant's probability factor). Failing that, the read unchanged with region None. Without
        ``alternatives`` (one probability row per character over `ALPHABET`) a swapped character keeps the
        original's confidence halved.
        """
        region = self.region_of(text)
        if region is not None or not self.patterns:
            return text, tuple(confidences), region
        best = self._swapped(text, list(confidences), list(alternatives), 1.0)
        # A read that fits once look-alikes are swapped keeps all its characters.
        for drop in range(len(text) if best is None and len(text) >= 3 else 0):
            keep = [i for i in range(len(text)) if i != drop]
            found = self._swapped(
                "".join(text[i] for i in keep),
                [confidences[i] for i in keep],
                [alternatives[i] for i in keep] if alternatives else [],
                1.0 - confidences[drop],
            )
            if found is not None and (best is None or found[0] > best[0]):
                best = found
        if best is None:
            return text, tuple(confidences), None
        _, fixed, fixed_confs, fits = best
        return fixed, fixed_confs, fits

    def _swapped(
        self, text: str, confidences: list[float], alternatives: list[Sequence[float]], prior: float
    ) -> tuple[float, str, tuple[float, ...], str] | None:
        """The most probable look-alike variant of ``text`` (itself included) that fits a format, or None."""
        swappable = [i for i, ch in enumerate(text) if ch in LOOK_ALIKES]
        if alternatives:
            # Only characters whose look-alike the recogniser saw can swap; the likeliest swaps are tried first,
            # so a doubtful character late in the read is not crowded out by sure ones before it.
            seen = [
                i for i in swappable if alternatives[i][ALPHABET.index(LOOK_ALIKES[text[i]])] >= _MIN_SWAP_PROBABILITY
            ]
            seen.sort(key=lambda i: -alternatives[i][ALPHABET.index(LOOK_ALIKES[text[i]])])
            swappable = sorted(seen[:_MAX_SWAPS])
        else:
            swappable = swappable[:_MAX_SWAPS]
        best: tuple[float, str, tuple[float, ...], str] | None = None
        for mask in itertools.product((False, True), repeat=len(swappable)):
            chars = list(text)
            confs = list(confidences)
            for index, swap in zip(swappable, mask, strict=True):
                if swap:
                    chars[index] = LOOK_ALIKES[text[index]]
                    confs[index] = (
                        alternatives[index][ALPHABET.index(chars[index])] if alternatives else confidences[index] / 2.0
                    )
            if any(swap and confs[i] < _MIN_SWAP_PROBABILITY for i, swap in zip(swappable, mask, strict=True)):
                continue  # the recogniser saw no trace of the look-alike: the format cannot make it up
            candidate = "".join(chars)
            fits = self.region_of(candidate)
            if fits is None:
                continue
            probability = prior * math.prod(confs)
            if best is None or probability > best[0]:
                best = (probability, candidate, tuple(confs), fits)
        return best
