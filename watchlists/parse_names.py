"""Makes, models and body types in alert descriptions, looked up in the parser's :class:`Vocabulary`.

Makes and models come from the vocabulary (the classifiers' labels and a built-in list, with nicknames: Chevy, VW,
Merc, Beemer ...); the longest known phrase wins ("Land Rover Range Rover"). A model alone names its make when only
one make has it ("white Camry" is a Toyota, noted as inferred). Names that are also everyday words ("Smart",
"Lincoln", "Escape") are taken only in a vehicle context (:func:`vehicle_context`): next to a model, a body type,
a colour or a year, or capitalised in mixed-case text and not after "in", "on", "at" ... (so "seen on Lincoln
Ave" names no Lincoln).
"""

from __future__ import annotations

from classifiers.color.vocabulary import color_word
from watchlists.aliases import compact, make_key
from watchlists.parse_tokens import ParseState
from watchlists.parse_years import year_value
from watchlists.vocabulary import AMBIGUOUS_WORDS

BODY_PHRASES: dict[str, str] = {
    compact(phrase): body
    for body, phrases in {
        "sedan": ("sedan", "saloon", "4 door sedan"),
        "suv": ("suv", "sport utility", "sport utility vehicle", "crossover", "cuv"),
        "pickup": (
            "pickup",
            "pick up",
            "pickup truck",
            "pick up truck",
            "crew cab",
            "extended cab",
            "regular cab",
            "club cab",
            "quad cab",
            "supercab",
        ),
        "truck": ("truck", "box truck", "semi", "semi truck", "tractor trailer", "18 wheeler", "lorry"),
        "van": ("van", "cargo van", "panel van", "work van"),
        "minivan": ("minivan", "mini van", "mpv"),
        "coupe": ("coupe", "coupé", "sports car"),
        "hatchback": ("hatchback", "hatch"),
        "wagon": ("wagon", "station wagon", "estate"),
        "convertible": ("convertible", "cabriolet", "cabrio", "roadster"),
        "motorcycle": ("motorcycle", "motorbike", "motor bike", "motor cycle", "scooter", "moped"),
        "bus": ("bus", "coach", "minibus", "mini bus"),
    }.items()
    for phrase in phrases
}
"""Body-type phrases (compact) → the body type they name."""

_PREPOSITIONS = frozenset(
    [
        "in",
        "on",
        "at",
        "near",
        "from",
        "to",
        "toward",
        "towards",
        "into",
        "onto",
        "via",
        "off",
        "of",
        "by",
        "along",
        "across",
    ]
)


def vehicle_context(state: ParseState, i: int, n: int) -> bool:
    """Whether the tokens around i..i+n read as a vehicle (for names that are also everyday words)."""
    before = state.toks[i - 1] if i > 0 else None
    after = state.toks[i + n] if i + n < len(state.toks) else None
    if before is not None and (color_word(before.norm) is not None or year_value(state, before) is not None):
        return True
    if after is not None and (after.key in BODY_PHRASES or after.key in state.vocab.model_makes):
        return True
    mixed_case = not state.all_caps
    return mixed_case and state.toks[i].capital and (before is None or before.norm not in _PREPOSITIONS)


def place_makes(state: ParseState) -> None:
    """Places a make, and the model right after it when the make has one by that name."""
    i = 0
    while i < len(state.toks):
        n, make = state.longest(i, lambda key: state.vocab.makes.get(key))
        if not n or (n == 1 and len(state.toks[i].key) < 2):
            i += 1
            continue
        model_n, model = _model_after(state, make, i + n)
        ambiguous = state.phrase(i, n) in AMBIGUOUS_WORDS
        if ambiguous and not model_n and not vehicle_context(state, i, n):
            i += n
            continue
        placed = state.set_field("make", make, i, n)
        if placed and model_n:
            state.set_field("model", model, i + n, model_n)
        i += n + model_n


def _model_after(state: ParseState, make: str, i: int) -> tuple[int, str | None]:
    models = state.vocab.models.get(compact(make)) or state.vocab.models.get(make_key(make), {})
    return state.longest(i, lambda key: models.get(key))


def place_models_alone(state: ParseState) -> None:
    """Places a model named without its make, and infers the make when exactly one fits."""
    i = 0
    while i < len(state.toks):
        n, makes = state.longest(i, lambda key: state.vocab.model_makes.get(key))
        if not n:
            i += 1
            continue
        key = state.phrase(i, n)
        make = state.values.get("make")
        candidates = [m for m in makes if make is None or make_key(m) == make_key(make)]
        distinctive = not key.isdigit() and (key not in AMBIGUOUS_WORDS or vehicle_context(state, i, n))
        if len(candidates) == 1 and distinctive and "model" not in state.values:
            owner = candidates[0]
            model = state.vocab.model(owner, key) or " ".join(t.text for t in state.toks[i : i + n])
            state.set_field("model", model, i, n)
            if make is None:
                state.values["make"] = owner
                state.notes.append(f"make {owner} inferred from model {model}")
        i += n


def place_body_types(state: ParseState) -> None:
    """Places the body type ("SUV", "crew cab", "station wagon")."""
    i = 0
    while i < len(state.toks):
        n, body = state.longest(i, lambda key: BODY_PHRASES.get(key), 3)
        if n:
            state.set_field("body_type", body, i, n)
        i += max(n, 1)
