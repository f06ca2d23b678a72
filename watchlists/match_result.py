"""What the matcher answers: a match, its score's factors and per-field explanation, and fields it cannot judge.

These types are what the recognize stage, alerts and the CLI consume; they live apart from the :class:`Matcher`
so that consumers (and the alert schema) depend on the answer, not on how it is computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from classifiers.types import Classification, LabelScore
from watchlists.entry_model import WatchlistEntry
from watchlists.plates import PlateRead
from watchlists.settings import DEFAULT_THRESHOLD

PLATE_READER = "plate_reader"
"""The name a plate read goes by in breakdowns and factors (it is not a classifier head)."""


@dataclass(frozen=True, slots=True)
class LabelContribution(LabelScore):
    """A classifier label (:class:`~classifiers.types.LabelScore`) with the weight it counts with for a field: its
    part in the field score is ``prob × weight`` (weight < 1: a confusable colour's partial credit)."""

    weight: float


@dataclass(frozen=True, slots=True)
class FieldScore:
    """Why one field of an entry scored what it did.

    Attributes:
        field: ``make``, ``model``, ``color``, ``body_type``, ``year`` or ``plate``.
        wanted: what the entry asks for, as an operator reads it (``"dark blue"``, ``"2015-2017"``).
        head: the classifier head that judged it (``plate_reader`` for the plate), or None when not judged.
        score: the field's own probability mass (or plate probability); None when not judged.
        uncertain: the entry marks the field uncertain: shown, not part of the score.
        labels: the labels that contributed most, largest first.
        note: how it was judged, when that needs saying (a plate read, "no plate read", a joint head).
    """

    field: str
    wanted: str
    head: str | None
    score: float | None
    uncertain: bool = False
    labels: tuple[LabelContribution, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class ScoreFactor:
    """One factor of a match score: the joint mass one head gives to the entry's certain fields on it."""

    head: str
    fields: tuple[str, ...]
    score: float


@dataclass(frozen=True)
class Match:
    """An entry the vehicle matches.

    Attributes:
        entry: the watchlist entry.
        score: estimated probability that the vehicle is what the entry describes: the product of ``factors``.
        field_scores: each field the entry sets (judged) → the probability mass its head gives to labels matching
            that field alone.
        threshold: the threshold the score reached (the entry's own or the default).
        factors: the factors whose product is ``score``.
        breakdown: per field, the head, the score and the labels behind it.
    """

    entry: WatchlistEntry
    score: float
    field_scores: dict[str, float]
    threshold: float = DEFAULT_THRESHOLD
    factors: tuple[ScoreFactor, ...] = ()
    breakdown: tuple[FieldScore, ...] = field(default=())


class MatchSource(Protocol):
    """What the recognize stage matches with: a :class:`watchlists.matching.Matcher`, or a live one whose entries
    are reloaded (:class:`watchlists.live.LiveMatcher`)."""

    @property
    def revision(self) -> int:
        """Changes whenever the entries change, so results matched earlier can be matched again."""
        ...

    def match(self, classification: Classification, plate: PlateRead | None = None) -> list[Match]:
        """Every entry whose score reaches its threshold, highest score first (``plate``: the vehicle's plate
        read, when a plate reader runs)."""
        ...


@dataclass(frozen=True, slots=True)
class UnmatchableField:
    """A field of an entry that none of the loaded heads can judge.

    ``fatal``: the entry cannot match while it stands (a certain field); otherwise the field is uncertain and the
    entry matches on the others.
    """

    entry_id: str
    field: str
    reason: str
    fatal: bool = True

    def __str__(self) -> str:
        if self.fatal:
            return f"watchlist entry {self.entry_id!r} can never match: {self.reason}"
        return f"watchlist entry {self.entry_id!r}: uncertain field is not judged: {self.reason}"
