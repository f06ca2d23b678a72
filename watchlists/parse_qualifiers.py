"""Words that qualify a description rather than name a field: doubt, "unknown", and filler.

* uncertainty ("possibly", "maybe", "or similar", a trailing ``?``) makes fields uncertain: those that follow in the
  same clause, or, after the last field of a clause, the field before (:func:`uncertain_fields`);
* ``unknown`` ("unknown model", "plate unknown") says a field is not known: noted, nothing is set;
* filler ("a", "the", "with", "car", "colored") carries nothing here.

These passes run around the field passes of :mod:`watchlists.parser`: unknowns and doubt before the names (so
"unknown model" names no model), fillers last (so "late model" is still read as years).
"""

from __future__ import annotations

from watchlists.parse_tokens import FIELD_ROLES, ParseState

UNCERTAIN_WORDS: frozenset[str] = frozenset(
    [
        "possibly",
        "possible",
        "poss",
        "maybe",
        "perhaps",
        "probably",
        "prob",
        "likely",
        "unconfirmed",
        "unsure",
        "uncertain",
        "believed",
        "suspected",
        "reportedly",
    ]
)
UNCERTAIN_PHRASES: tuple[tuple[str, ...], ...] = (
    ("might", "be"),
    ("could", "be"),
    ("may", "be"),
    ("or", "similar"),
    ("or", "equivalent"),
    ("similar", "to"),
    ("looks", "like"),
    ("resembling",),
    ("resembles",),
    ("similar",),
)
UNKNOWN_WORDS = frozenset({"unknown", "unk", "unkn"})
_UNKNOWN_FIELDS = {
    "make": "make",
    "model": "model",
    "color": "color",
    "colour": "color",
    "year": "year",
    "plate": "plate",
    "plates": "plate",
    "tag": "plate",
    "tags": "plate",
    "type": "body_type",
}
FILLER_WORDS: frozenset[str] = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "with",
        "of",
        "is",
        "was",
        "it",
        "its",
        "this",
        "that",
        "color",
        "colour",
        "colored",
        "coloured",
        "paint",
        "painted",
        "vehicle",
        "car",
        "auto",
        "automobile",
        "in",
    ]
)


def place_unknowns(state: ParseState) -> None:
    """Marks "unknown <field>" / "<field> unknown" (and "unknown model year") as unknown, with a note."""
    for i, t in enumerate(state.toks):
        if t.role is not None or t.norm not in UNKNOWN_WORDS:
            continue
        if state.free(i, 3) and state.words(i + 1, 2) == ("model", "year"):
            state.assign(i, 3, "unknown")
            state.notes.append("year: said to be unknown")
            continue
        for j in (i + 1, i - 1):
            if state.free(j) and state.toks[j].clause == t.clause and state.toks[j].norm in _UNKNOWN_FIELDS:
                name = _UNKNOWN_FIELDS[state.toks[j].norm]
                state.assign(min(i, j), 2, "unknown")
                state.notes.append(f"{name.replace('_', ' ')}: said to be unknown")
                break


def place_uncertainty(state: ParseState) -> None:
    """Marks the uncertainty words and phrases, remembering where they are (:attr:`ParseState.markers`)."""
    for i, t in enumerate(state.toks):
        if t.role is not None:
            continue
        for words in UNCERTAIN_PHRASES:
            if state.free(i, len(words)) and state.words(i, len(words)) == words:
                state.assign(i, len(words), "uncertainty")
                state.markers.append(i)
                break
        else:
            if t.norm in UNCERTAIN_WORDS:
                state.assign(i, 1, "uncertainty")
                state.markers.append(i)


def place_fillers(state: ParseState) -> None:
    """Marks the remaining words that carry nothing here."""
    for t in state.toks:
        if t.role is None and (t.norm in FILLER_WORDS or t.norm in ("model", "make", "year", "type")):
            t.role = "filler"


def uncertain_fields(state: ParseState) -> list[str]:
    """The fields found that the description is unsure of, in :data:`FIELD_ROLES` order.

    A field token with a trailing ``?`` is uncertain; an uncertainty marker applies to the fields after it in its
    clause, or, with none, to the last field before it. An inferred make ("white Camry" → Toyota) shares its
    model's doubt, and so does a make in the same clause as an uncertain model.
    """
    uncertain: set[str] = set()
    for position in state.questioned:
        role = state.toks[position].role
        if role in FIELD_ROLES:
            uncertain.add(role)
    by_token = {name: [k for k, t in enumerate(state.toks) if t.role == name] for name in FIELD_ROLES}
    inferred_make = "make" in state.values and not by_token["make"]
    for marker in state.markers:
        clause = state.toks[marker].clause
        after = [
            name
            for name, spots in by_token.items()
            if any(k > marker and state.toks[k].clause == clause for k in spots)
        ]
        if after:
            uncertain.update(after)
            if "model" in after and inferred_make:
                uncertain.add("make")
            continue
        before = [
            (max(k for k in spots if k < marker), name)
            for name, spots in by_token.items()
            if any(k < marker for k in spots)
        ]
        if not before:
            continue
        last_spot, last_name = max(before)
        uncertain.add(last_name)
        if last_name == "model" and (
            inferred_make or any(state.toks[k].clause == state.toks[last_spot].clause for k in by_token["make"])
        ):
            uncertain.add("make")
    return [name for name in FIELD_ROLES if name in uncertain and name in state.values]
