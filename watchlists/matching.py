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

Speed: per set of heads, each entry's label weights are built once; a crop then costs one ``probs @ weights``
matrix product per head for all entries together, one comparison of the expiry times, and a regular expression
per plate entry only when a plate read is given.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np
from numpy.typing import NDArray

from classifiers.types import Classification, HeadScores
from watchlists.aliases import (
    BODY_TYPE_ALIASES,
    MULTIWORD_MAKES,
    body_type_fallback,
    body_type_key,
    color_key,
    compact,
    make_key,
    normalize,
)
from watchlists.colors import color_weights, confusion_row
from watchlists.entries import MAX_YEAR, MIN_YEAR, PLATE_FIELD, Watchlist, WatchlistEntry
from watchlists.plates import PlateRead, plate_regex

MAKE_HEAD = "make"
MAKE_MODEL_HEAD = "make_model"
COLOR_HEAD = "color"
BODY_TYPE_HEADS: tuple[str, ...] = ("type", "body_type")
PLATE_READER = "plate_reader"
"""The name a plate read goes by in breakdowns and factors (it is not a classifier head)."""
DEFAULT_THRESHOLD = 0.5
BREAKDOWN_LABELS = 3
"""Labels listed per field in a match's breakdown (the largest contributions)."""

_YEAR = re.compile(r"^\d{4}$")
_MAX_MAKE_WORDS = 4
_MAX_BODY_WORDS = 3
_MAX_PLANS = 8


@dataclass(frozen=True, slots=True)
class LabelContribution:
    """One label's part in a field score: ``prob × weight`` (weight < 1: a confusable colour's partial credit)."""

    label: str
    prob: float
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
    """What the recognize stage matches with: a :class:`Matcher`, or a live one whose entries are reloaded
    (:class:`watchlists.live.LiveMatcher`)."""

    @property
    def revision(self) -> int:
        """Changes whenever the entries change, so results matched earlier can be matched again."""
        ...

    def match(self, classification: Classification) -> list[Match]:
        """Every entry whose score reaches its threshold, highest score first."""
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


@dataclass(frozen=True, slots=True)
class MakeModelLabel:
    """A make+model label split into comparison keys."""

    make: str
    """:func:`make_key` of the make."""
    model: tuple[str, ...]
    """Normalised words of the model (may be empty)."""
    year: int | None


def parse_make_model_label(label: str, known_makes: frozenset[str] = frozenset()) -> MakeModelLabel:
    """Splits ``"Land Rover Range Rover SUV 2012"`` or ``"Land Rover|Range Rover SUV|2012"`` into make, model, year.

    Args:
        label: the label; with ``|`` the parts are explicit, otherwise words.
        known_makes: :func:`compact` forms of multi-word makes besides :data:`MULTIWORD_MAKES` (e.g. the
            watchlist's makes); the longest one the label starts with is its make, else its first word is.
    """
    if "|" in label:
        parts = [part.strip() for part in label.split("|")]
        year_part = parts[2] if len(parts) > 2 else ""
        year = int(year_part) if _YEAR.match(year_part) else None
        model = tuple(normalize(parts[1]).split()) if len(parts) > 1 else ()
        return MakeModelLabel(make_key(parts[0]), model, year)
    words = normalize(label).split()
    year = None
    if len(words) > 1 and _YEAR.match(words[-1]) and MIN_YEAR <= int(words[-1]) <= MAX_YEAR:
        year = int(words.pop())
    makes = _MULTIWORD_MAKE_KEYS | known_makes
    for count in range(min(_MAX_MAKE_WORDS, len(words)), 1, -1):
        if "".join(words[:count]) in makes:
            return MakeModelLabel(make_key("".join(words[:count])), tuple(words[count:]), year)
    return MakeModelLabel(make_key(words[0]) if words else "", tuple(words[1:]), year)


_MULTIWORD_MAKE_KEYS = frozenset(compact(make) for make in MULTIWORD_MAKES)
BODY_WORDS: frozenset[str] = frozenset(
    compact(name) for canonical, aliases in BODY_TYPE_ALIASES.items() for name in (canonical, *aliases)
) | frozenset({"coupe"})


def body_type_of_model(model: Sequence[str]) -> str:
    """The body type a make+model label's model words name (``("silverado", "1500", "crew", "cab")`` → ``pickup``),
    or ``""``: the longest run of words that is a known body type, the last one if several."""
    found = ""
    for start in range(len(model)):
        for count in range(min(_MAX_BODY_WORDS, len(model) - start), 0, -1):
            joined = "".join(model[start : start + count])
            if joined in BODY_WORDS:
                found = body_type_key(joined)
                break
    return found


def model_matches(wanted: str, model: tuple[str, ...]) -> bool:
    """Whether the label's model is the wanted model, or begins with it word-wise ("3 Series" ⊂ "3 Series Sedan")."""
    return any("".join(model[:count]) == wanted for count in range(1, len(model) + 1))


def in_range(year: int | None, first: int | None, last: int | None) -> bool:
    return year is not None and (first is None or year >= first) and (last is None or year <= last)


def _body_head(available: Mapping[str, object]) -> str | None:
    return next((head for head in BODY_TYPE_HEADS if head in available), None)


def _pick_heads(entry: WatchlistEntry, available: Mapping[str, object]) -> dict[str, str | None]:
    """Field → the head that judges it (None: no loaded head can); the plate is not a head field."""
    fields = entry.attributes()
    has_make_model = MAKE_MODEL_HEAD in available
    body_head = _body_head(available) or (MAKE_MODEL_HEAD if has_make_model else None)
    # When the make+model head is consulted anyway, its labels carry the make: judging the make on a second head as
    # well would count the same evidence twice.
    make_jointly = has_make_model and (
        "model" in fields or "year" in fields or ("body_type" in fields and body_head == MAKE_MODEL_HEAD)
    )
    picked: dict[str, str | None] = {}
    for name in fields:
        if name == "make":
            if make_jointly or MAKE_HEAD not in available:
                picked[name] = MAKE_MODEL_HEAD if has_make_model else None
            else:
                picked[name] = MAKE_HEAD
        elif name in ("model", "year"):
            picked[name] = MAKE_MODEL_HEAD if has_make_model else None
        elif name == "color":
            picked[name] = COLOR_HEAD if COLOR_HEAD in available else None
        else:
            picked[name] = body_head
    return picked


_WANTED_HEAD = {
    "make": f"{MAKE_HEAD!r} or {MAKE_MODEL_HEAD!r}",
    "model": repr(MAKE_MODEL_HEAD),
    "year": repr(MAKE_MODEL_HEAD),
    "color": repr(COLOR_HEAD),
    "body_type": " or ".join(repr(head) for head in (*BODY_TYPE_HEADS, MAKE_MODEL_HEAD)),
}


def _describe(entry: WatchlistEntry, name: str) -> str:
    if name == "year":
        first, last = entry.year_range or (None, None)
        if first == last:
            return f"year {first}"
        return f"years {first if first is not None else '…'}–{last if last is not None else '…'}"
    return f"{name} {getattr(entry, name)!r}"


class _LabelKeys:
    """One head's labels in every comparison form a field may need, computed on first use."""

    def __init__(self, head: str, labels: tuple[str, ...], known_makes: frozenset[str]) -> None:
        self.head = head
        self.labels = labels
        self._known_makes = known_makes
        self._parsed: list[MakeModelLabel] | None = None
        self._keys: dict[str, NDArray[np.str_]] = {}

    @property
    def parsed(self) -> list[MakeModelLabel]:
        if self._parsed is None:
            self._parsed = [parse_make_model_label(label, self._known_makes) for label in self.labels]
        return self._parsed

    def keys(self, name: str) -> NDArray[np.str_]:
        if name not in self._keys:
            if self.head == MAKE_MODEL_HEAD and name == "make":
                keys = [parsed.make for parsed in self.parsed]
            elif self.head == MAKE_MODEL_HEAD and name == "body_type":
                keys = [body_type_of_model(parsed.model) for parsed in self.parsed]
            else:
                to_key = {"make": make_key, "color": color_key, "body_type": body_type_key}[name]
                keys = [to_key(label) for label in self.labels]
            self._keys[name] = np.array(keys, dtype=np.str_)
        return self._keys[name]


def _field_weights(
    entry: WatchlistEntry, name: str, labels: _LabelKeys, confusion: bool = True
) -> tuple[NDArray[np.float32], str]:
    """The weight (0..1) of each of the head's labels for the entry's field, and a note when none can count."""
    if name == "model":
        wanted = compact(entry.model or "")
        return np.array([model_matches(wanted, parsed.model) for parsed in labels.parsed], dtype=np.float32), ""
    if name == "year":
        first, last = entry.year_range or (None, None)
        if not any(parsed.year is not None for parsed in labels.parsed):
            return np.zeros(len(labels.labels), dtype=np.float32), "its labels carry no model years"
        return np.array([in_range(parsed.year, first, last) for parsed in labels.parsed], dtype=np.float32), ""
    if name == "color":
        weights = color_weights(entry.color or "", entry.color_shade, labels.labels)
        return (weights if confusion else (weights >= 1.0).astype(np.float32)), ""
    if name == "body_type":
        keys = labels.keys(name)
        wanted = body_type_key(entry.body_type or "")
        mask = keys == wanted
        coarse = body_type_fallback(wanted)
        if not mask.any() and coarse is not None:
            mask = keys == coarse
        if not mask.any() and labels.head == MAKE_MODEL_HEAD and not (keys != "").any():
            return mask.astype(np.float32), "its labels name no body types"
        return mask.astype(np.float32), ""
    return (labels.keys(name) == make_key(entry.make or "")).astype(np.float32), ""


@dataclass(frozen=True, slots=True)
class _HeadGroup:
    """All entries judged on one head: column j of ``weights`` is entry ``columns[j]``'s joint label weights."""

    head: str
    weights: NDArray[np.float32]
    columns: NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class _FieldWeights:
    field: str
    head: str
    weights: NDArray[np.float32]
    uncertain: bool


@dataclass(frozen=True)
class _Plan:
    """Everything :meth:`Matcher.match` needs for one set of heads, computed once."""

    signature: dict[str, tuple[str, ...]]
    groups: tuple[_HeadGroup, ...]
    matchable: NDArray[np.bool_]
    field_weights: tuple[tuple[_FieldWeights, ...], ...]
    """Per entry: every judged field's label weights, for the field scores and breakdown of a match."""
    factor_heads: tuple[tuple[tuple[str, tuple[str, ...]], ...], ...]
    """Per entry: (head, certain fields on it) of each factor."""
    unmatchable: tuple[UnmatchableField, ...]


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
    ) -> None:
        """
        Args:
            entries: the watchlist (ids must be unique).
            default_threshold: score an entry without its own ``threshold`` needs, in (0, 1]. Lower catches
                vehicles the classifiers are unsure of, at the cost of more false alerts.
            color_confusion: give confusable colours partial credit (:mod:`watchlists.colors`); False counts only
                the colour's own labels (to measure what the table brings).
        """
        if not 0.0 < default_threshold <= 1.0:
            raise ValueError(f"default_threshold must be in (0, 1], got {default_threshold}")
        self.watchlist = entries if isinstance(entries, Watchlist) else Watchlist(tuple(entries))
        self.default_threshold = default_threshold
        self.color_confusion = color_confusion
        self._known_makes = frozenset(compact(entry.make) for entry in self.watchlist if entry.make is not None)
        self._thresholds = np.array(
            [default_threshold if e.threshold is None else e.threshold for e in self.entries], dtype=np.float64
        )
        self._expires = np.array([e.expires_ts for e in self.entries], dtype=np.float64)
        self._index = {entry.id: index for index, entry in enumerate(self.entries)}
        # Plates: entries whose plate gates the match (with a compiled pattern), and those that only a plate gates.
        self._plates = tuple(
            (index, plate_regex(e.plate)) for index, e in enumerate(self.entries) if e.plate is not None
        )
        self._plate_gates = np.array([PLATE_FIELD in e.certain_fields() for e in self.entries], dtype=np.bool_)
        self._plate_only = np.array(
            [PLATE_FIELD in e.certain_fields() and len(e.certain_fields()) == 1 for e in self.entries], dtype=np.bool_
        )
        # One plan per set of head names (a pipeline that skips a model for some crops alternates between two).
        self._plans: dict[tuple[str, ...], _Plan] = {}

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
    ) -> tuple[NDArray[np.float64], _Plan]:
        heads = classification.heads
        plan = self._plan_for({name: scores.labels for name, scores in heads.items()})
        scores = plan.matchable.astype(np.float64)
        for group in plan.groups:
            scores[group.columns] *= heads[group.head].probs @ group.weights
        if plate is not None:
            for index, pattern in self._plates:
                if self._plate_gates[index]:
                    scores[index] *= plate.score(pattern)
        else:
            scores[self._plate_only] = 0.0
        scores[self._expires <= (time.time() if now is None else now)] = 0.0
        return scores, plan

    def _match(
        self, index: int, score: float, plan: _Plan, heads: Mapping[str, HeadScores], plate: PlateRead | None
    ) -> Match:
        entry = self.entries[index]
        breakdown: list[FieldScore] = []
        field_scores: dict[str, float] = {}
        for item in plan.field_weights[index]:
            head = heads[item.head]
            contributions = head.probs * item.weights
            value = float(contributions.sum())
            field_scores[item.field] = value
            order = np.argsort(-contributions, kind="stable")[:BREAKDOWN_LABELS]
            labels = tuple(
                LabelContribution(head.labels[i], float(head.probs[i]), float(item.weights[i]))
                for i in order
                if contributions[i] > 0
            )
            breakdown.append(FieldScore(item.field, entry.wanted(item.field), item.head, value, item.uncertain, labels))
        factors: list[ScoreFactor] = []
        for head_name, names in plan.factor_heads[index]:
            weights = np.prod([w.weights for w in plan.field_weights[index] if w.field in names], axis=0)
            factors.append(ScoreFactor(head_name, names, float(heads[head_name].probs @ weights)))
        if entry.plate is not None:
            uncertain = PLATE_FIELD in entry.uncertain
            if plate is None:
                note = "not judged: no plate read"
                breakdown.append(FieldScore(PLATE_FIELD, entry.wanted(PLATE_FIELD), None, None, uncertain, (), note))
            else:
                value = plate.score(plate_regex(entry.plate))
                field_scores[PLATE_FIELD] = value
                fits = "fits" if plate_regex(entry.plate).match(plate.text) else "does not fit"
                note = f"read {plate.text} (confidence {plate.confidence:.2f}) {fits}"
                breakdown.append(
                    FieldScore(PLATE_FIELD, entry.wanted(PLATE_FIELD), PLATE_READER, value, uncertain, (), note)
                )
                if not uncertain:
                    factors.append(ScoreFactor(PLATE_READER, (PLATE_FIELD,), value))
        position = {name: i for i, name in enumerate(entry.fields())}
        breakdown.sort(key=lambda item: position[item.field])
        return Match(entry, score, field_scores, float(self._thresholds[index]), tuple(factors), tuple(breakdown))

    def _plan_for(self, signature: dict[str, tuple[str, ...]]) -> _Plan:
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

    def _build_plan(self, signature: dict[str, tuple[str, ...]]) -> _Plan:
        label_keys = {head: _LabelKeys(head, labels, self._known_makes) for head, labels in signature.items()}
        columns: dict[str, list[tuple[int, NDArray[np.float32]]]] = {}
        matchable = np.zeros(len(self.entries), dtype=np.bool_)
        field_weights: list[tuple[_FieldWeights, ...]] = []
        factor_heads: list[tuple[tuple[str, tuple[str, ...]], ...]] = []
        unmatchable: list[UnmatchableField] = []
        for index, entry in enumerate(self.entries):
            problems, weights = self._entry_weights(entry, label_keys)
            unmatchable.extend(problems)
            field_weights.append(tuple(weights))
            joint: dict[str, NDArray[np.float32]] = {}
            fields_on: dict[str, list[str]] = {}
            for item in weights:
                if item.uncertain:
                    continue
                joint[item.head] = joint[item.head] * item.weights if item.head in joint else item.weights
                fields_on.setdefault(item.head, []).append(item.field)
            factor_heads.append(tuple((head, tuple(names)) for head, names in fields_on.items()))
            fatal = any(problem.fatal for problem in problems)
            if not fatal:
                problem = self._joint_problem(entry, joint, fields_on)
                if problem is not None:
                    unmatchable.append(problem)
                    fatal = True
            if fatal:
                continue
            matchable[index] = True
            for head, mask in joint.items():
                columns.setdefault(head, []).append((index, mask))
        groups = tuple(
            _HeadGroup(
                head,
                np.stack([mask for _, mask in cols], axis=1).astype(np.float32),
                np.array([index for index, _ in cols], dtype=np.intp),
            )
            for head, cols in columns.items()
        )
        return _Plan(signature, groups, matchable, tuple(field_weights), tuple(factor_heads), tuple(unmatchable))

    def _joint_problem(
        self, entry: WatchlistEntry, joint: Mapping[str, NDArray[np.float32]], fields_on: Mapping[str, list[str]]
    ) -> UnmatchableField | None:
        """The reason an entry can never reach its threshold although each field alone can be judged, if any."""
        empty = [head for head, weights in joint.items() if not weights.any()]
        if empty:
            names = fields_on[empty[0]]
            described = ", ".join(_describe(entry, name) for name in names)
            reason = f"no label of head {empty[0]!r} has {described} together"
            return UnmatchableField(entry.id, "+".join(names), reason)
        best = float(np.prod([weights.max() for weights in joint.values()])) if joint else 1.0
        threshold = self.threshold(entry)
        if best < threshold and entry.color is not None and "color" not in entry.uncertain:
            row = ", ".join(
                f"{name} {weight:g}" for name, weight in confusion_row(entry.color, entry.color_shade).items()
            )
            reason = (
                f"{_describe(entry, 'color')}: no label of head {COLOR_HEAD!r} matches it; partial credit from "
                f"neighbouring colours ({row}) reaches at most {best:.2f}, below its threshold {threshold:g}"
            )
            return UnmatchableField(entry.id, "color", reason)
        return None

    def _entry_weights(
        self, entry: WatchlistEntry, label_keys: Mapping[str, _LabelKeys]
    ) -> tuple[list[UnmatchableField], list[_FieldWeights]]:
        problems: list[UnmatchableField] = []
        weights: list[_FieldWeights] = []
        for name, head in _pick_heads(entry, label_keys).items():
            uncertain = name in entry.uncertain
            if head is None:
                loaded = ", ".join(repr(h) for h in label_keys) or "none"
                reason = (
                    f"{_describe(entry, name)}: needs a {_WANTED_HEAD[name]} classifier head, none is loaded "
                    f"(loaded heads: {loaded})"
                )
                problems.append(UnmatchableField(entry.id, name, reason, fatal=not uncertain))
                continue
            mask, note = _field_weights(entry, name, label_keys[head], self.color_confusion)
            if not mask.any():
                why = note or f"no label of head {head!r} matches it"
                problems.append(UnmatchableField(entry.id, name, f"{_describe(entry, name)}: {why}", not uncertain))
                continue
            weights.append(_FieldWeights(name, head, mask, uncertain))
        return problems, weights
