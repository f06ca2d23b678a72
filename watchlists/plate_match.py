"""How well a plate read fits an entry's plate pattern, with an edit-distance tolerance and character confidences.

A read with per-character confidences (from the plate reader) is aligned to the pattern (``?`` takes any one
character, ``*`` any run) with the fewest edits. The probability that the vehicle's plate fits is:

* each read character aligned to a pattern character it equals: its confidence (the read is right there);
* each one aligned to a different pattern character (a substitution): ``(1 − confidence) / 2`` (the read is
  wrong there, and the pattern's character is one of the few look-alikes it could have been);
* each read character the pattern has no place for, or pattern character the read lacks: ``(1 − confidence) / 2``
  (mean confidence for a missing one);
* characters under a wildcard do not count.

More than ``tolerance`` edits: the plate does not fit (probability 0). A read with only an overall confidence
(no per-character ones) keeps the simple rule of :meth:`watchlists.plates.PlateRead.score`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from watchlists.plates import PlateRead, plate_regex

DEFAULT_TOLERANCE = 1
"""Edits (substituted, missing or extra characters) a read may differ from a pattern by and still fit it."""

_WRONG_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class PlateJudgement:
    """A read judged against a pattern: the probability that the plate fits, the edits, and a note saying how."""

    probability: float
    edits: int | None  # None: a read without character confidences, judged by fit alone
    note: str


def _alignment(read: str, pattern: str) -> tuple[int, list[tuple[str, int | None]]]:
    """The fewest edits aligning ``read`` to ``pattern``, and the path's steps.

    Steps: ``("match", i)``, ``("sub", i)``, ``("extra", i)`` (read character i unplaced), ``("missing", None)``
    (a pattern character the read lacks), ``("wild", i)`` (read character i under a wildcard).
    """
    n, m = len(read), len(pattern)
    inf = n + m + 1
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0
    for i in range(n + 1):
        for j in range(m + 1):
            if i == 0 and j == 0:
                continue
            best = inf
            p = pattern[j - 1] if j else ""
            if j and p == "*":
                best = min(best, cost[i][j - 1])  # the run is empty
                if i:
                    best = min(best, cost[i - 1][j])  # the run takes read[i-1]
            if i and j and p != "*":
                best = min(best, cost[i - 1][j - 1] + (0 if p == "?" or p == read[i - 1] else 1))
            if i:
                best = min(best, cost[i - 1][j] + 1)  # an extra read character
            if j and p != "*":
                best = min(best, cost[i][j - 1] + 1)  # a pattern character missing from the read
            cost[i][j] = best
    steps: list[tuple[str, int | None]] = []
    i, j = n, m
    while i or j:
        p = pattern[j - 1] if j else ""
        here = cost[i][j]
        if j and p == "*" and cost[i][j - 1] == here:
            j -= 1
        elif j and p == "*" and i and cost[i - 1][j] == here:
            steps.append(("wild", i - 1))
            i -= 1
        elif i and j and p != "*" and cost[i - 1][j - 1] + (0 if p == "?" or p == read[i - 1] else 1) == here:
            kind = "wild" if p == "?" else "match" if p == read[i - 1] else "sub"
            steps.append((kind, i - 1))
            i, j = i - 1, j - 1
        elif i and cost[i - 1][j] + 1 == here:
            steps.append(("extra", i - 1))
            i -= 1
        else:
            steps.append(("missing", None))
            j -= 1
    return cost[n][m], steps[::-1]


def judge_plate(read: PlateRead, pattern: str, tolerance: int = DEFAULT_TOLERANCE) -> PlateJudgement:
    """The probability that the vehicle's plate fits the normalised ``pattern`` (see the module doc)."""
    if not read.char_confidences:
        fits = bool(plate_regex(pattern).match(read.text))
        verdict = "fits" if fits else "does not fit"
        return PlateJudgement(
            read.score(plate_regex(pattern)),
            None,
            f"read {read.text} (confidence {read.confidence:.2f}) {verdict}",
        )
    edits, steps = _alignment(read.text, pattern)
    confs = read.char_confidences
    if edits > tolerance:
        return PlateJudgement(0.0, edits, f"read {read.text} is {edits} edits from {pattern} (tolerance {tolerance})")
    mean = sum(confs) / len(confs)
    factors: list[float] = []
    for kind, i in steps:
        if kind == "match" and i is not None:
            factors.append(confs[i])
        elif kind in ("sub", "extra") and i is not None:
            factors.append((1.0 - confs[i]) * _WRONG_SHARE)
        elif kind == "missing":
            factors.append((1.0 - mean) * _WRONG_SHARE)
    probability = math.prod(factors) if factors else 1.0
    how = "fits" if edits == 0 else f"fits within {edits} edit{'s' if edits > 1 else ''}"
    return PlateJudgement(probability, edits, f"read {read.text} (confidence {read.confidence:.2f}) {how}")
