"""Alert descriptions in, watchlist entries out: ``"white 2015-2017 Toyota Camry sedan, partial plate 7XK"``.

The text is cut into tokens (:func:`tokenize`: runs of characters between spaces and the punctuation ``, ; : ( ) [
] { } " ! | /`` that hold a letter, a digit, ``?`` or ``*``), and every token gets exactly one role:

* a field it was placed in: ``make``, ``model``, ``color``, ``body_type``, ``year``, ``plate``;
* ``uncertainty`` ("possibly", "maybe", "or similar", a trailing ``?``): the fields it refers to become uncertain;
* ``unknown`` ("unknown model", "plate unknown"): the description says the field is not known;
* ``filler``: a word that carries nothing here ("a", "the", "with", "car", "colored");
* ``unplaced``: anything else. Unplaced tokens are reported (``vehiclewatch watchlist parse`` lists them), never
  dropped: the whole text stays the entry's description.

What it understands:

* makes and models from a :class:`~watchlists.vocabulary.Vocabulary` (the classifiers' labels and a built-in list,
  with nicknames: Chevy, VW, Merc, Beemer ...); a model alone names its make when only one make has it ("white
  Camry" is a Toyota). Makes and models that are also everyday words ("Smart", "Lincoln", "Escape") are taken only
  in a vehicle context: next to a model, a body type, a colour or a year, or capitalised in mixed-case text and not
  after "in", "on", "at" ... (so "seen on Lincoln Ave" names no Lincoln);
* colours with shades ("dark blue", "navy", "lt grey", police codes "BLK", "WHT" ...);
* body types: sedan, SUV, pickup, van, minivan, coupe, hatchback, wagon, convertible, truck, motorcycle, bus;
* years: "2016", "'16", "2015-2017", "2015-17", "2015 to 2017", "between 2015 and 2017", "2010 or newer", "pre-2010",
  "early 2000s", "'90s", "late model" (the last five model years), "circa 2015" (one year either side);
* plates: "plate 7XK-123", "partial plate 7XK" (``*7XK*``), "plate starting with 7XK" (``7XK*``), "tag ending in
  42" (``*42``), or a fragment with wildcards ("7XK??2");
* uncertainty: "possibly", "maybe", "probably", "unconfirmed", "might be", "or similar", "Honda?" ... apply to the
  fields that follow in the same clause (up to the next comma or bracket); after the last field of a clause, to the
  field before.

Only one value per field is kept; a second make, colour ... is reported unplaced with a note.

This module is the driver: it runs one pass per kind of word (:data:`PASSES`) over one shared parse state and
assembles the entry fields. Tokenising and the state: :mod:`watchlists.parse_tokens`; the passes:
:mod:`watchlists.parse_plates`, :mod:`watchlists.parse_qualifiers` (uncertainty, unknowns, fillers),
:mod:`watchlists.parse_names` (makes, models, body types), :mod:`watchlists.parse_colors`,
:mod:`watchlists.parse_years`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from watchlists.aliases import normalize
from watchlists.entry_errors import WatchlistError
from watchlists.entry_model import WatchlistEntry, entry_error_message
from watchlists.parse_colors import place_colors
from watchlists.parse_names import place_body_types, place_makes, place_models_alone
from watchlists.parse_plates import place_plates
from watchlists.parse_qualifiers import place_fillers, place_uncertainty, place_unknowns, uncertain_fields
from watchlists.parse_tokens import FIELD_ROLES, ParseState, tokenize
from watchlists.parse_years import place_years
from watchlists.vocabulary import DEFAULT_VOCABULARY, Vocabulary

Role = Literal["make", "model", "color", "body_type", "year", "plate", "uncertainty", "unknown", "filler", "unplaced"]
ROLES: tuple[str, ...] = (*FIELD_ROLES, "uncertainty", "unknown", "filler", "unplaced")

PASSES: tuple[Callable[[ParseState], None], ...] = (
    place_plates,
    place_unknowns,
    place_uncertainty,
    place_makes,
    place_models_alone,
    place_body_types,
    place_colors,
    place_years,
    place_fillers,
)
"""The passes in order: the earlier a pass, the stronger its claim on a token (a plate's "7XK" is never a model or a
year, "unknown model" names no model, a make's own model is placed before a model named alone, and fillers go last
so that "late model" is still read as years)."""


@dataclass(frozen=True, slots=True)
class Token:
    """One token of the text: where it is, and the role the parser gave it.

    Attributes:
        text: the token as written.
        start, end: its span in the text.
        role: one of :data:`ROLES`.
    """

    text: str
    start: int
    end: int
    role: str


@dataclass(frozen=True)
class ParsedDescription:
    """What :func:`parse_description` made of a text.

    Attributes:
        text: the description.
        tokens: every token with its role (see the module doc).
        fields: the entry fields found (``make``, ``model``, ``color``, ``color_shade``, ``body_type``, ``year`` or
            ``year_min``/``year_max``, ``plate``, ``uncertain``), ready for :class:`WatchlistEntry`.
        notes: things the operator should know (a second colour, an inferred make, a field said to be unknown).
    """

    text: str
    tokens: tuple[Token, ...]
    fields: Mapping[str, Any]
    notes: tuple[str, ...] = ()

    @property
    def unplaced(self) -> tuple[Token, ...]:
        """The tokens placed nowhere (reported, and kept in the description)."""
        return tuple(token for token in self.tokens if token.role == "unplaced")

    def tokens_of(self, role: str) -> tuple[str, ...]:
        """The texts of the tokens with this role, in order."""
        return tuple(token.text for token in self.tokens if token.role == role)

    def suggested_id(self) -> str:
        """An entry id from the fields and a short hash of the text (``white-toyota-camry-3f2a``)."""
        parts = [
            str(self.fields[name])
            for name in ("color", "make", "model", "body_type", "plate")
            if self.fields.get(name) is not None
        ]
        slug = re.sub(r"[^a-z0-9]+", "-", normalize(" ".join(parts))).strip("-")[:50] or "entry"
        return f"{slug}-{hashlib.sha1(self.text.encode()).hexdigest()[:4]}"

    def to_entry(self, entry_id: str | None = None, **extra: Any) -> WatchlistEntry:
        """The watchlist entry: the fields found, the text as description, and ``extra`` fields (``priority``,
        ``source``, ``expires_at``, ``threshold`` ... or overrides of the fields found).

        Raises:
            WatchlistError: the result is not a valid entry (e.g. nothing was found to match on), naming the field.
        """
        data: dict[str, Any] = {"id": entry_id or self.suggested_id(), "description": self.text[:1000]}
        data.update(self.fields)
        data.update(extra)
        if "uncertain" in data:
            data["uncertain"] = [name for name in data["uncertain"] if data.get(_FIELD_KEYS[name][0]) is not None]
        try:
            return WatchlistEntry.model_validate(data)
        except ValidationError as exc:
            raise WatchlistError(f"description {self.text[:60]!r}: {entry_error_message(exc)}") from None


_FIELD_KEYS = {
    "make": ("make",),
    "model": ("model",),
    "color": ("color",),
    "body_type": ("body_type",),
    "year": ("year", "year_min", "year_max"),
    "plate": ("plate",),
}


def parse_description(
    text: str, vocabulary: Vocabulary = DEFAULT_VOCABULARY, *, today: datetime | None = None
) -> ParsedDescription:
    """Reads an alert description into entry fields; never raises, never loses a token.

    Args:
        text: the description.
        vocabulary: the makes and models to recognise (default: the built-in list).
        today: the reference date for "late model" and two-digit years (default: now).
    """
    state = ParseState(text, vocabulary, (today or datetime.now(UTC)).year)
    for step in PASSES:
        step(state)
    for t in state.toks:
        if t.role is None:
            t.role = "unplaced"
    fields = _fields(state)
    tokens = tuple(Token(t.text, t.start, t.end, t.role or "unplaced") for t in state.toks)
    return ParsedDescription(text, tokens, fields, tuple(state.notes))


def _fields(state: ParseState) -> dict[str, Any]:
    """The entry fields of the values found (a year as ``year`` or ``year_min``/``year_max``), with the uncertain
    ones; when every field is uncertain, none is (an entry needs one that gates), with a note."""
    out: dict[str, Any] = {
        name: state.values[name] for name in ("make", "model", "body_type", "plate") if name in state.values
    }
    if "color" in state.values:
        base, shade = state.values["color"]
        out["color"] = base
        if shade is not None:
            out["color_shade"] = shade
    if "year" in state.values:
        first, last = state.values["year"]
        if first is not None and first == last:
            out["year"] = first
        else:
            if first is not None:
                out["year_min"] = first
            if last is not None:
                out["year_max"] = last
    uncertain = uncertain_fields(state)
    if uncertain and len(uncertain) == len(state.values):
        state.notes.append(f"every field is uncertain ({', '.join(uncertain)}): taken as certain, or none gates")
        uncertain = []
    if uncertain:
        out["uncertain"] = uncertain
    return out


def describe(parsed: ParsedDescription) -> str:
    """A few lines for an operator: the fields, the uncertain ones, the unplaced tokens and the notes."""
    lines = [f"description: {parsed.text}"]
    shown = {k: v for k, v in parsed.fields.items() if k != "uncertain"}
    for key, value in shown.items():
        lines.append(f"  {key}: {value}")
    if parsed.fields.get("uncertain"):
        lines.append(f"  uncertain: {', '.join(parsed.fields['uncertain'])}")
    if not shown:
        lines.append("  (no field found)")
    unplaced = [t.text for t in parsed.unplaced]
    lines.append(f"not placed: {' '.join(unplaced) if unplaced else '(nothing)'}")
    lines.extend(f"note: {note}" for note in parsed.notes)
    return "\n".join(lines)


__all__: Sequence[str] = [
    "FIELD_ROLES",
    "PASSES",
    "ROLES",
    "ParsedDescription",
    "Role",
    "Token",
    "describe",
    "parse_description",
    "tokenize",
]
