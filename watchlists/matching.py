"""Scores a crop's classification against every watchlist entry.

Which head judges which field (head names as :meth:`ClassifierManifest.head_name` gives them):

======================  =====================================================================================
field                   head
======================  =====================================================================================
``make``                ``make``; or ``make_model`` (summed over the make's models) when no ``make`` head is
                        loaded, or when the entry also asks for a model or year (see "joint" below)
``model``, ``year``     ``make_model``: labels ``"Honda CR-V 2014"`` (make found by the longest known make at
                        the start, year = a trailing 4-digit number) or ``"Honda|CR-V|2014"``
``color``               ``color``
``body_type``           ``type`` (or ``body_type``); on a coarse head that only knows car / bus / truck / van,
                        sedan, suv, hatchback, coupe, convertible, wagon and pickup count as ``car`` and minivan
                        as ``van`` (see :data:`watchlists.aliases.BODY_TYPE_FALLBACK`)
======================  =====================================================================================

Scores. A field's score is the probability mass its head gives to the labels matching the entry's value, not just
whether the top-1 label matches: a grey car that the colour head calls 45 % grey and 40 % silver still scores 0.45
for grey, and an entry for ``make: Honda`` on a make+model head gets the sum over every Honda model. An entry's
score is the product over the heads it uses of the mass of the labels matching *all* its fields on that head. The
product, because an entry is an AND of independent attributes, judged by independent heads: "red" and "Honda" must
both hold, and if each is 70 % likely, both are about 49 % likely, so one weak attribute cannot hide behind a
strong one. Fields on the *same* head are not independent (a make+model label carries make, model and year at
once), so they are scored jointly: ``make: Honda, model: Civic, year_min: 2012`` takes the mass of the Honda Civic
labels from 2012 on, never P(Honda) × P(Civic). :attr:`Match.field_scores` lists each field's own mass (so with one
field per head, the score is their product; with several on one head, it is at most the smallest of those).

The score estimates "the probability that this vehicle is what the entry describes"; it is compared with the
entry's ``threshold`` or the matcher's default, 0.5 ("more likely than not"). An entry with three attributes, each
80 % likely, scores 0.51 — a higher default would make multi-attribute entries rarely fire.

Speed: per set of heads, each entry's label masks are built once; a crop then costs one ``probs @ masks`` matrix
product per head for all entries together.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from classifiers.types import Classification, HeadScores
from watchlists.aliases import (
    MULTIWORD_MAKES,
    body_type_fallback,
    body_type_key,
    color_key,
    compact,
    make_key,
    normalize,
)
from watchlists.entries import MAX_YEAR, MIN_YEAR, Watchlist, WatchlistEntry

MAKE_HEAD = "make"
MAKE_MODEL_HEAD = "make_model"
COLOR_HEAD = "color"
BODY_TYPE_HEADS: tuple[str, ...] = ("type", "body_type")
DEFAULT_THRESHOLD = 0.5

_YEAR = re.compile(r"^\d{4}$")
_MAX_MAKE_WORDS = 4
_MAX_PLANS = 8


@dataclass(frozen=True)
class Match:
    """An entry the crop matches.

    Attributes:
        entry: the watchlist entry.
        score: estimated probability that the vehicle is what the entry describes (see the module doc).
        field_scores: each of the entry's fields (``make``, ``model``, ``color``, ``body_type``, ``year``) → the
            probability mass its head gives to labels matching that field alone.
    """

    entry: WatchlistEntry
    score: float
    field_scores: dict[str, float]


@dataclass(frozen=True, slots=True)
class UnmatchableField:
    """A field of an entry that none of the loaded heads can judge; the entry cannot match while it stands."""

    entry_id: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"watchlist entry {self.entry_id!r} can never match: {self.reason}"


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


def _model_matches(wanted: str, model: tuple[str, ...]) -> bool:
    """Whether the label's model is the wanted model, or begins with it word-wise ("3 Series" ⊂ "3 Series Sedan")."""
    return any("".join(model[:count]) == wanted for count in range(1, len(model) + 1))


def _in_range(year: int | None, first: int | None, last: int | None) -> bool:
    return year is not None and (first is None or year >= first) and (last is None or year <= last)


def _pick_heads(entry: WatchlistEntry, available: Mapping[str, object]) -> dict[str, str | None]:
    """Field → the head that judges it (None: no loaded head can)."""
    fields = entry.attributes()
    has_make_model = MAKE_MODEL_HEAD in available
    # With a model or year the make+model head is consulted anyway and its labels carry the make: judging the make
    # on a second head as well would count the same evidence twice.
    make_jointly = has_make_model and ("model" in fields or "year" in fields)
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
            picked[name] = next((head for head in BODY_TYPE_HEADS if head in available), None)
    return picked


_WANTED_HEAD = {
    "make": f"{MAKE_HEAD!r} or {MAKE_MODEL_HEAD!r}",
    "model": repr(MAKE_MODEL_HEAD),
    "year": repr(MAKE_MODEL_HEAD),
    "color": repr(COLOR_HEAD),
    "body_type": " or ".join(repr(head) for head in BODY_TYPE_HEADS),
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
            else:
                to_key = {"make": make_key, "color": color_key, "body_type": body_type_key}[name]
                keys = [to_key(label) for label in self.labels]
            self._keys[name] = np.array(keys, dtype=np.str_)
        return self._keys[name]


def _field_mask(entry: WatchlistEntry, name: str, labels: _LabelKeys) -> tuple[NDArray[np.bool_], str]:
    """Which of the head's labels satisfy the entry's field, and a note on how (for the unmatchable report)."""
    if name == "model":
        wanted = compact(entry.model or "")
        return np.array([_model_matches(wanted, parsed.model) for parsed in labels.parsed], dtype=np.bool_), ""
    if name == "year":
        first, last = entry.year_range or (None, None)
        if not any(parsed.year is not None for parsed in labels.parsed):
            return np.zeros(len(labels.labels), dtype=np.bool_), "its labels carry no model years"
        return np.array([_in_range(parsed.year, first, last) for parsed in labels.parsed], dtype=np.bool_), ""
    if name == "body_type":
        keys = labels.keys(name)
        wanted = body_type_key(entry.body_type or "")
        mask = keys == wanted
        coarse = body_type_fallback(wanted)
        if not mask.any() and coarse is not None:
            return keys == coarse, ""
        return mask, ""
    value = getattr(entry, name)
    to_key = make_key if name == "make" else color_key
    return labels.keys(name) == to_key(value), ""


@dataclass(frozen=True, slots=True)
class _HeadGroup:
    """All entries judged on one head: column j of ``masks`` is entry ``columns[j]``'s joint label mask."""

    head: str
    masks: NDArray[np.float32]
    columns: NDArray[np.intp]


@dataclass(frozen=True)
class _Plan:
    """Everything :meth:`Matcher.match` needs for one set of heads, computed once."""

    signature: dict[str, tuple[str, ...]]
    groups: tuple[_HeadGroup, ...]
    matchable: NDArray[np.bool_]
    thresholds: NDArray[np.float64]
    field_masks: tuple[tuple[tuple[str, str, NDArray[np.float32]], ...], ...]
    """Per entry: (field, head, label mask) for the field scores of a match."""
    unmatchable: tuple[UnmatchableField, ...]


class Matcher:
    """Matches classifications against watchlist entries.

    Example:
        >>> from classifiers.types import Classification, HeadScores
        >>> entry = WatchlistEntry(id="red", color="red")
        >>> colour = HeadScores("color", ("red", "blue"), np.array([0.8, 0.2], np.float32))
        >>> [m.entry.id for m in Matcher([entry]).match(Classification({"color": colour}))]
        ['red']
    """

    def __init__(
        self, entries: Watchlist | Sequence[WatchlistEntry], default_threshold: float = DEFAULT_THRESHOLD
    ) -> None:
        """
        Args:
            entries: the watchlist (ids must be unique).
            default_threshold: score an entry without its own ``threshold`` needs, in (0, 1]. Lower catches
                vehicles the classifiers are unsure of, at the cost of more false alerts.
        """
        if not 0.0 < default_threshold <= 1.0:
            raise ValueError(f"default_threshold must be in (0, 1], got {default_threshold}")
        self.watchlist = entries if isinstance(entries, Watchlist) else Watchlist(tuple(entries))
        self.default_threshold = default_threshold
        self._known_makes = frozenset(compact(entry.make) for entry in self.watchlist if entry.make is not None)
        # One plan per set of head names (a pipeline that skips a model for some crops alternates between two).
        self._plans: dict[tuple[str, ...], _Plan] = {}

    @property
    def entries(self) -> tuple[WatchlistEntry, ...]:
        return self.watchlist.entries

    def unmatchable_fields(self, heads: Mapping[str, Sequence[str]]) -> list[UnmatchableField]:
        """The entry fields that the given heads (head name → labels) cannot judge; log them at start.

        An entry with such a field never matches: its field needs a head that is not loaded, or its value is not
        among the head's labels (a make the make classifier does not know, a colour it lacks).
        """
        return list(self._plan_for({head: tuple(labels) for head, labels in heads.items()}).unmatchable)

    def match(self, classification: Classification) -> list[Match]:
        """Every entry whose score reaches its threshold, highest score first."""
        heads = classification.heads
        plan = self._plan_for({name: scores.labels for name, scores in heads.items()})
        scores = plan.matchable.astype(np.float64)
        for group in plan.groups:
            scores[group.columns] *= heads[group.head].probs @ group.masks
        hits = np.flatnonzero(scores >= plan.thresholds)
        matches = [self._match(int(index), float(scores[index]), plan, heads) for index in hits]
        matches.sort(key=lambda m: -m.score)
        return matches

    def _match(self, index: int, score: float, plan: _Plan, heads: Mapping[str, HeadScores]) -> Match:
        field_scores = {name: float(heads[head].probs @ mask) for name, head, mask in plan.field_masks[index]}
        return Match(self.entries[index], score, field_scores)

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
        columns: dict[str, list[tuple[int, NDArray[np.bool_]]]] = {}
        matchable = np.zeros(len(self.entries), dtype=np.bool_)
        field_masks: list[tuple[tuple[str, str, NDArray[np.float32]], ...]] = []
        unmatchable: list[UnmatchableField] = []
        for index, entry in enumerate(self.entries):
            problems, masks = self._entry_masks(entry, label_keys)
            unmatchable.extend(problems)
            field_masks.append(tuple((name, head, mask.astype(np.float32)) for name, head, mask in masks))
            joint: dict[str, NDArray[np.bool_]] = {}
            for _name, head, mask in masks:
                joint[head] = joint[head] & mask if head in joint else mask
            empty = [head for head, mask in joint.items() if not mask.any()]
            if not problems and empty:
                fields = "+".join(name for name, head, _ in masks if head == empty[0])
                described = ", ".join(_describe(entry, name) for name, head, _ in masks if head == empty[0])
                reason = f"no label of head {empty[0]!r} has {described} together"
                unmatchable.append(UnmatchableField(entry.id, fields, reason))
            if problems or empty:
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
        thresholds = np.array(
            [self.default_threshold if e.threshold is None else e.threshold for e in self.entries], dtype=np.float64
        )
        return _Plan(signature, groups, matchable, thresholds, tuple(field_masks), tuple(unmatchable))

    def _entry_masks(
        self, entry: WatchlistEntry, label_keys: Mapping[str, _LabelKeys]
    ) -> tuple[list[UnmatchableField], list[tuple[str, str, NDArray[np.bool_]]]]:
        problems: list[UnmatchableField] = []
        masks: list[tuple[str, str, NDArray[np.bool_]]] = []
        for name, head in _pick_heads(entry, label_keys).items():
            if head is None:
                loaded = ", ".join(repr(h) for h in label_keys) or "none"
                reason = (
                    f"{_describe(entry, name)}: needs a {_WANTED_HEAD[name]} classifier head, none is loaded "
                    f"(loaded heads: {loaded})"
                )
                problems.append(UnmatchableField(entry.id, name, reason))
                continue
            mask, note = _field_mask(entry, name, label_keys[head])
            if not mask.any():
                why = note or f"no label of head {head!r} matches it"
                problems.append(UnmatchableField(entry.id, name, f"{_describe(entry, name)}: {why}"))
                continue
            masks.append((name, head, mask))
        return problems, masks
