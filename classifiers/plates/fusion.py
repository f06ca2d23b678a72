"""Per-track plate fusion: reads from several views aligned and voted character by character.

Each read votes with weight ``quality`` (the crop's quality weight) × its whole-text confidence × its
character's probability row over the alphabet: a read unsure between O and 0 splits its vote, and a read sure of
all its characters counts more than one that is not (on simulated tracks this beat unweighted votes, 0.667 vs
0.633 exact). The plate's length is the one with the most weight; reads of that length vote position by position;
reads one or two characters longer or shorter (a character lost or a border read as ``I``) are aligned to that
consensus by edit distance and vote where they align. A fused character's confidence is its share of the votes at
its position (the weighted mean of the views' probabilities for it): views that disagree lower it; views that
agree keep it at their mean, not above it (the views of one track are not independent: the same dirt and the
same angle fool them alike).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from classifiers.plates.types import ALPHABET, PlateReading

_MAX_LENGTH_GAP = 2  # reads further off the consensus length are left out (another text read as the plate)


def _rows(reading: PlateReading) -> NDArray[np.float64]:
    """One probability row over the alphabet per character (one-hot × confidence without alternatives)."""
    if reading.alternatives and len(reading.alternatives) == len(reading.text):
        rows = np.asarray(reading.alternatives, np.float64)
        # Format fixes may have swapped a character: its row then votes for the fixed character.
        for i, ch in enumerate(reading.text):
            k = ALPHABET.index(ch)
            if rows[i].argmax() != k:
                rows[i] = 0.0
                rows[i, k] = reading.char_confidences[i]
        return rows
    rows = np.zeros((len(reading.text), len(ALPHABET)))
    for i, (ch, conf) in enumerate(zip(reading.text, reading.char_confidences, strict=True)):
        rows[i, ALPHABET.index(ch)] = conf
    return rows


def align(a: str, b: str) -> list[tuple[int | None, int | None]]:
    """A minimal edit-distance alignment of ``a`` and ``b``: pairs of indices (None where one side has a gap)."""
    n, m = len(a), len(b)
    cost = np.zeros((n + 1, m + 1), np.int32)
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i, j] = min(cost[i - 1, j] + 1, cost[i, j - 1] + 1, cost[i - 1, j - 1] + (a[i - 1] != b[j - 1]))
    pairs: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i, j] == cost[i - 1, j - 1] + (a[i - 1] != b[j - 1]):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i > 0 and cost[i, j] == cost[i - 1, j] + 1:
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    return pairs[::-1]


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance."""
    return sum(1 for x, y in align(a, b) if x is None or y is None or a[x] != b[y])


@dataclass(slots=True)
class PlateFusion:
    """The reads of one track and their fusion (`fused`)."""

    reads: list[tuple[PlateReading, float]] = field(default_factory=list)
    max_reads: int = 16

    def add(self, reading: PlateReading, quality: float = 1.0) -> None:
        """Adds a read weighted by its crop's quality (in (0, 1]); the oldest read goes beyond ``max_reads``."""
        self.reads.append((reading, max(quality, 1e-3)))
        if len(self.reads) > self.max_reads:
            # Keep the most useful reads: drop the one with the least weight × confidence.
            worst = min(range(len(self.reads)), key=lambda i: self.reads[i][1] * self.reads[i][0].confidence)
            del self.reads[worst]

    def fused(self) -> PlateReading | None:
        """The fused plate, or None before any read."""
        if not self.reads:
            return None
        if len(self.reads) == 1:
            return self.reads[0][0]
        length_weight: dict[int, float] = defaultdict(float)
        for reading, weight in self.reads:
            length_weight[len(reading.text)] += weight * reading.confidence ** (1 / len(reading.text))
        length = max(length_weight, key=lambda k: (length_weight[k], k))
        votes = np.zeros((length, len(ALPHABET)))
        mass = np.zeros(length)  # the weight of the reads voting at each position
        for reading, quality in self.reads:
            if len(reading.text) == length:
                weight = quality * reading.confidence  # a read sure of all its characters counts more
                votes += weight * _rows(reading)
                mass += weight
        consensus = "".join(ALPHABET[int(k)] for k in votes.argmax(axis=1))
        for reading, quality in self.reads:
            if len(reading.text) == length or abs(len(reading.text) - length) > _MAX_LENGTH_GAP:
                continue
            weight = quality * reading.confidence
            rows = _rows(reading)
            for mine, theirs in align(reading.text, consensus):
                if mine is not None and theirs is not None:
                    votes[theirs] += weight * rows[mine]
                    mass[theirs] += weight
        totals = np.maximum(mass, 1e-9)
        best = votes.argmax(axis=1)
        text = "".join(ALPHABET[int(k)] for k in best)
        confidences = tuple(float(min(votes[i, k] / totals[i], 1.0)) for i, k in enumerate(best))
        # The box and format of the best read of the fused text (else the best read of that length).
        same = [r for r, _ in self.reads if r.text == text] or [r for r, _ in self.reads if len(r.text) == length]
        anchor = max(same, key=lambda r: r.confidence)
        shares = votes / totals[:, None]
        alternatives = tuple(tuple(float(p) for p in row) for row in shares)
        return PlateReading(text, confidences, anchor.box, anchor.format, alternatives)
