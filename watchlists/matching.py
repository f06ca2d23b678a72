"""Scores a vehicle's classification (and plate read, if any) against every watchlist entry.

Which head judges which field (head names as :meth:`ClassifierManifest.head_name` gives them):

======================  =====================================================================================
field                   head
======================  =====================================================================================
``make``                ``make``; or ``make_model`` (summed over the make's models) when no ``make`` head is
                        loaded, or when the entry also asks for something only ``make_model`` judges (see
                        "joint" below)
``model``, ``year``     ``make_model``: labels ``"Honda CR-V 2014"`` (make found by the longest known make at
                        the start, year = a trailing 4-digit number) or ``"Honda|CR-V|2014"``
``color``               ``color``, with partial credit for the colours cameras confuse
                        (:mod:`watchlists.colors`)
``body_type``           ``type`` (or ``body_type``); on a coarse head that only knows car / bus / truck / van,
                        sedan, suv, hatchback, coupe, convertible, wagon and pickup count as ``car`` and minivan
                        as ``van`` (see :data:`watchlists.aliases.BODY_TYPE_FALLBACK`). Without such a head,
                        ``make_model`` judges it when its labels name body types ("Silverado 1500 Crew Cab" is a
                        pickup, "Camry Sedan" a sedan).
``plate``               a plate read given to :meth:`Matcher.match` (:class:`watchlists.plates.PlateRead`);
                        without one the plate is not judged
======================  =====================================================================================

Scores. A field's score is the probability mass its head gives to the labels matching the entry's value, not just
whether the top-1 label matches: a grey car that the colour head calls 45 % grey and 40 % silver scores 0.45 for
grey plus partial credit for silver, and an entry for ``make: Honda`` on a make+model head gets the sum over every
Honda model. An entry's score is the product over the heads it uses of the mass of the labels matching *all* its
fields on that head (its *factors*, listed in :attr:`Match.factors`). The product, because an entry is an AND of
independent attributes, judged by independent heads: "red" and "Honda" must both hold, and if each is 70 % likely,
both are about 49 % likely, so one weak attribute cannot hide behind a strong one. Fields on the *same* head are not
independent (a make+model label carries make, model and year at once), so they are scored jointly: ``make: Honda,
model: Civic, year_min: 2012`` takes the mass of the Honda Civic labels from 2012 on, never P(Honda) × P(Civic).
:attr:`Match.field_scores` lists each field's own mass, and :attr:`Match.breakdown` the labels behind it.

Uncertain fields (``uncertain: [make]``, from "possibly a Honda") are scored and shown but left out of the product:
the description does not insist on them. A plate with a read multiplies the score by the probability that the
plate fits (:mod:`watchlists.plates`); an entry whose only certain field is its plate matches only with a read.

The score estimates "the probability that this vehicle is what the entry describes"; it is compared with the
entry's ``threshold`` or the matcher's default, 0.5 ("more likely than not"). An entry with three attributes, each
80 % likely, scores 0.51 — a higher default would make multi-attribute entries rarely fire. Entries past their
``expires_at`` never match.

Speed: per set of heads, each entry's label weights are built once (:mod:`watchlists.match_plan`); a crop then
costs one ``probs @ weights`` matrix product per head for all entries together, one comparison of the expiry times,
and a regular expression per plate entry only when a plate read is given.

The parts: :mod:`watchlists.field_weights` (per-field label weights; colours in :mod:`watchlists.colors`, make+model
labels in :mod:`watchlists.make_model_labels`, plates in :mod:`watchlists.plates`), :mod:`watchlists.match_plan`
(the per-head-set plan), :mod:`watchlists.match_result` (:class:`Match` and its explanation types, re-exported
here), and this module's :class:`Matcher`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from classifiers.types import Classification, HeadScores
from watchlists.aliases import compact
from watchlists.colors import ColorTable
from watchlists.entry_model import PLATE_FIELD, Watchlist, WatchlistEntry
from watchlists.field_weights import SHADE_HEAD, ColorScoring, Weights
from watchlists.make_model_labels import parse_make_model_label
from watchlists.match_plan import FieldWeights, Plan, build_plan
from watchlists.match_result import (
    PLATE_READER,
    FieldScore,
    LabelContribution,
    Match,
    MatchSource,
    ScoreFactor,
    UnmatchableField,
)
from watchlists.plate_match import DEFAULT_TOLERANCE, judge_plate
from watchlists.plates import PlateRead
from watchlists.settings import DEFAULT_THRESHOLD

__all__ = [
    "DEFAULT_THRESHOLD",
    "PLATE_READER",
    "FieldScore",
    "LabelContribution",
    "Match",
    "MatchSource",
    "Matcher",
    "ScoreFactor",
    "UnmatchableField",
    "parse_make_model_label",
]

BREAKDOWN_LABELS = 3
"""Labels listed per field in a match's breakdown (the largest contributions)."""
_MAX_PLANS = 8


class Matcher:
    """Matches classifications against watchlist entries; immutable (reloading builds a new one).

    Example:
        >>> from classifiers.types import Classification, HeadScores
        >>> entry = WatchlistEntry(id="red", color="red")
        >>> colour = HeadScores("color", ("red", "blue"), np.array([0.8, 0.2], np.float32))
        >>> [m.entry.id for m in Matcher([entry]).match(Classification({"color": colour}))]
        ['red']
    """

    revision: ClassVar[int] = 0
    """A Matcher never changes (a reload builds a new one): always revision 0."""

    def __init__(
        self,
        entries: Watchlist | Sequence[WatchlistEntry],
        default_threshold: float = DEFAULT_THRESHOLD,
        *,
        color_confusion: bool = True,
        color_table: ColorTable | None = None,
        judge_shade: bool = True,
        plate_tolerance: int = DEFAULT_TOLERANCE,
    ) -> None:
        """
        Args:
            entries: the watchlist (ids must be unique).
            default_threshold: score an entry without its own ``threshold`` needs, in (0, 1]. Lower catches
                vehicles the classifiers are unsure of, at the cost of more false alerts.
            color_confusion: give confusable colours partial credit (:mod:`watchlists.colors`); False counts only
                the colour's own labels (to measure what the table brings).
            color_table: a measured colour table (``watchlist.color_table``) replacing the hand-set rows of the
                colours it has.
            judge_shade: judge a dark/light entry shade on the ``color_shade`` head where it is present.
            plate_tolerance: edits a plate read (with per-character confidences) may differ from an entry's
                plate by and still fit it (:mod:`watchlists.plate_match`).
        """
        if not 0.0 < default_threshold <= 1.0:
            raise ValueError(f"default_threshold must be in (0, 1], got {default_threshold}")
        self.watchlist = entries if isinstance(entries, Watchlist) else Watchlist(tuple(entries))
        self.default_threshold = default_threshold
        self.plate_tolerance = plate_tolerance
        self.color_confusion = color_confusion
        self.colors = ColorScoring(color_confusion, color_table, judge_shade)
        self._known_makes = frozenset(compact(entry.make) for entry in self.watchlist if entry.make is not None)
        self._thresholds = np.array(
            [default_threshold if e.threshold is None else e.threshold for e in self.entries], dtype=np.float64
        )
        self._expires = np.array([e.expires_ts for e in self.entries], dtype=np.float64)
        self._index = {entry.id: index for index, entry in enumerate(self.entries)}
        # Plates: entries whose plate gates the match (with a compiled pattern), and those that only a plate gates.
        self._plates = tuple((index, e.plate) for index, e in enumerate(self.entries) if e.plate is not None)
        self._plate_gates = np.array([PLATE_FIELD in e.certain_fields() for e in self.entries], dtype=np.bool_)
        self._plate_only = np.array(
            [PLATE_FIELD in e.certain_fields() and len(e.certain_fields()) == 1 for e in self.entries], dtype=np.bool_
        )
        # One plan per set of head names (a pipeline that skips a model for some crops alternates between two).
        self._plans: dict[tuple[str, ...], Plan] = {}

    @property
    def entries(self) -> tuple[WatchlistEntry, ...]:
        return self.watchlist.entries

    def entry(self, entry_id: str) -> WatchlistEntry | None:
        """The entry with this id, or None."""
        index = self._index.get(entry_id)
        return None if index is None else self.entries[index]

    def is_active(self, entry_id: str, now: float) -> bool:
        """Whether the entry is in this watchlist and not expired at ``now`` (Unix seconds)."""
        index = self._index.get(entry_id)
        return index is not None and bool(self._expires[index] > now)

    def threshold(self, entry: WatchlistEntry) -> float:
        """The score ``entry`` needs."""
        return self.default_threshold if entry.threshold is None else entry.threshold

    def unmatchable_fields(self, heads: Mapping[str, Sequence[str]]) -> list[UnmatchableField]:
        """The entry fields that the given heads (head name → labels) cannot judge; log them at start.

        A *fatal* one means the entry never matches: a certain field needs a head that is not loaded, or its value
        is not among the head's labels (a make the make classifier does not know, a colour it lacks and whose
        neighbours' partial credit cannot reach the threshold). An entry whose only certain field is its plate is
        reported too: it matches only when a plate reader gives reads.
        """
        problems = list(self._plan_for({head: tuple(labels) for head, labels in heads.items()}).unmatchable)
        for index in np.flatnonzero(self._plate_only):
            entry = self.entries[int(index)]
            reason = f"plate {entry.plate!r} is its only certain field: it matches only with a plate reader"
            problems.append(UnmatchableField(entry.id, PLATE_FIELD, reason))
        return problems

    def scores(
        self, classification: Classification, plate: PlateRead | None = None, now: float | None = None
    ) -> NDArray[np.float64]:
        """Every entry's score, in entry order (0 for an entry that cannot match or has expired); vectorised."""
        return self._scores(classification, plate, now)[0]

    def match(
        self, classification: Classification, plate: PlateRead | None = None, now: float | None = None
    ) -> list[Match]:
        """Every entry whose score reaches its threshold, highest score first.

        Args:
            classification: the vehicle's (fused) classification.
            plate: a plate reader's read of the vehicle, if there is a plate reader.
            now: Unix seconds for the expiry check; default the current time.
        """
        scores, plan = self._scores(classification, plate, now)
        hits = np.flatnonzero((scores >= self._thresholds) & (scores > 0.0))
        matches = [self._match(int(index), float(scores[index]), plan, classification.heads, plate) for index in hits]
        matches.sort(key=lambda m: -m.score)
        return matches

    def _scores(
        self, classification: Classification, plate: PlateRead | None, now: float | None
    ) -> tuple[NDArray[np.float64], Plan]:
        heads = classification.heads
        plan = self._plan_for({name: scores.labels for name, scores in heads.items()})
        scores = plan.matchable.astype(np.float64)
        for group in plan.groups:
            scores[group.columns] *= heads[group.head].probs @ group.weights
        if plate is not None:
            for index, pattern in self._plates:
                if self._plate_gates[index]:
                    scores[index] *= judge_plate(plate, pattern, self.plate_tolerance).probability
        else:
            scores[self._plate_only] = 0.0
        scores[self._expires <= (time.time() if now is None else now)] = 0.0
        return scores, plan

    def _match(
        self, index: int, score: float, plan: Plan, heads: Mapping[str, HeadScores], plate: PlateRead | None
    ) -> Match:
        entry = self.entries[index]
        breakdown = [_field_score(entry, item, heads[item.head]) for item in plan.field_weights[index]]
        # A shade judged on the color_shade head is a factor of its own; the field score is the colour's mass.
        field_scores = {
            item.field: item.score for item in breakdown if item.score is not None and item.head != SHADE_HEAD
        }
        factors = [
            ScoreFactor(head, names, float(heads[head].probs @ _joint(plan.field_weights[index], head, names)))
            for head, names in plan.factor_heads[index]
        ]
        if entry.plate is not None:
            judged = _plate_score(entry, plate, self.plate_tolerance)
            breakdown.append(judged)
            if judged.score is not None:
                field_scores[PLATE_FIELD] = judged.score
                if not judged.uncertain:
                    factors.append(ScoreFactor(PLATE_READER, (PLATE_FIELD,), judged.score))
        position = {name: i for i, name in enumerate(entry.fields())}
        breakdown.sort(key=lambda item: position[item.field])
        return Match(entry, score, field_scores, float(self._thresholds[index]), tuple(factors), tuple(breakdown))

    def _plan_for(self, signature: dict[str, tuple[str, ...]]) -> Plan:
        names = tuple(sorted(signature))
        plan = self._plans.get(names)
        if plan is not None and all(
            plan.signature[head] is labels or plan.signature[head] == labels for head, labels in signature.items()
        ):
            return plan
        plan = self._build_plan(signature)
        if len(self._plans) >= _MAX_PLANS:
            self._plans.clear()
        self._plans[names] = plan  # one assignment: a concurrent match() sees the old or the new plan, never half
        return plan

    def _build_plan(self, signature: dict[str, tuple[str, ...]]) -> Plan:
        return build_plan(
            self.entries,
            self._thresholds,
            signature,
            known_makes=self._known_makes,
            colors=self.colors,
        )


def _joint(weights: Sequence[FieldWeights], head: str, names: Sequence[str]) -> Weights:
    """The product of the named fields' label weights on ``head`` (fields on one head are judged jointly)."""
    joint: Weights = np.prod([w.weights for w in weights if w.field in names and w.head == head], axis=0)
    return joint


def _field_score(entry: WatchlistEntry, item: FieldWeights, head: HeadScores) -> FieldScore:
    """One field's own mass on its head, and the labels that contributed most."""
    contributions = head.probs * item.weights
    order = np.argsort(-contributions, kind="stable")[:BREAKDOWN_LABELS]
    labels = tuple(
        LabelContribution(head.labels[i], float(head.probs[i]), float(item.weights[i]))
        for i in order
        if contributions[i] > 0
    )
    value = float(contributions.sum())
    return FieldScore(item.field, entry.wanted(item.field), item.head, value, item.uncertain, labels)


def _plate_score(entry: WatchlistEntry, plate: PlateRead | None, tolerance: int) -> FieldScore:
    """The plate field: the probability that the read fits the entry's pattern, or not judged without a read."""
    assert entry.plate is not None  # only asked for entries with a plate
    uncertain = PLATE_FIELD in entry.uncertain
    wanted = entry.wanted(PLATE_FIELD)
    if plate is None:
        return FieldScore(PLATE_FIELD, wanted, None, None, uncertain, (), "not judged: no plate read")
    judged = judge_plate(plate, entry.plate, tolerance)
    return FieldScore(PLATE_FIELD, wanted, PLATE_READER, judged.probability, uncertain, (), judged.note)
