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
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from watchlists.aliases import compact, normalize
from watchlists.colors import COLOR_WORDS, color_word, shade_key
from watchlists.entries import MAX_YEAR, WatchlistEntry, WatchlistError, entry_error_message
from watchlists.plates import MAX_PLATE_LENGTH
from watchlists.vocabulary import AMBIGUOUS_WORDS, DEFAULT_VOCABULARY, MAX_PHRASE_WORDS, Vocabulary

Role = Literal["make", "model", "color", "body_type", "year", "plate", "uncertainty", "unknown", "filler", "unplaced"]
FIELD_ROLES: tuple[str, ...] = ("make", "model", "color", "body_type", "year", "plate")
ROLES: tuple[str, ...] = (*FIELD_ROLES, "uncertainty", "unknown", "filler", "unplaced")

_SEPARATORS = r"\s,;:()\[\]{}\"“”!|/"
_TOKEN = re.compile(rf"[^{_SEPARATORS}]*(?:[^\W_]|[?*])[^{_SEPARATORS}]*")
_CLAUSE_BREAK = re.compile(r"[,;:()\[\]{}!|\n]")
_EDGE = ".,'’`\"-_~?!"
LATE_MODEL_YEARS = 5
"""'Late model' means the last this many model years (the current one included)."""
OLDER_MODEL_YEARS = 15
"""'Older model' means at least this many years old."""
MIN_PARSED_YEAR = 1900

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
_UNKNOWN_WORDS = frozenset({"unknown", "unk", "unkn"})
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
PLATE_CUES: frozenset[str] = frozenset(
    [
        "plate",
        "plates",
        "tag",
        "tags",
        "license",
        "licence",
        "lic",
        "registration",
        "reg",
        "rego",
        "lp",
        "number",
        "no",
        "num",
    ]
)
_PLATE_START = frozenset({"starting", "starts", "beginning", "begins", "begin", "start"})
_PLATE_END = frozenset({"ending", "ends", "end"})
_PLATE_CONTAIN = frozenset({"containing", "contains", "including", "includes"})
_PLATE_LINKS = frozenset({"with", "in", "of"})
_PARTIAL = frozenset({"partial", "part", "partly"})
_APPROX = frozenset({"circa", "approx", "approximately", "around", "about", "ca"})
_NEWER = frozenset({"newer", "later", "up", "after", "since", "post"})
_OLDER = frozenset({"older", "earlier", "before", "pre"})
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
_DECADE = re.compile(r"^'?(?:(19|20)?(\d)0)'?s$")
_YEAR_RANGE = re.compile(r"^'?(\d{2}|\d{4})\s*[-–—]\s*'?(\d{2}|\d{4})$")


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


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """The tokens of a text: ``(token, start, end)`` for each run between separators that holds a letter, a digit,
    ``?`` or ``*``. Every token of this list gets exactly one role in :func:`parse_description`."""
    return [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


@dataclass
class _Tok:
    text: str
    start: int
    end: int
    clause: int
    norm: str
    key: str
    question: bool
    capital: bool
    upper: bool
    apostrophe: bool
    role: str | None = None


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
    return _Parser(text, vocabulary, (today or datetime.now(UTC)).year).run()


class _Parser:
    def __init__(self, text: str, vocabulary: Vocabulary, year: int) -> None:
        self.text = text
        self.vocab = vocabulary
        self.this_year = year
        self.all_caps = sum(ch.isupper() for ch in text) > 3 * max(sum(ch.islower() for ch in text), 1)
        self.toks = self._tokens()
        self.values: dict[str, Any] = {}
        self.first_token: dict[str, int] = {}
        self.notes: list[str] = []
        self.markers: list[int] = []  # token positions of uncertainty markers
        self.questioned: list[int] = []  # token positions with a trailing '?'

    # --- tokens --------------------------------------------------------------------------------------------------

    def _tokens(self) -> list[_Tok]:
        toks: list[_Tok] = []
        clause = 0
        previous_end = 0
        for raw, start, end in tokenize(self.text):
            gap = self.text[previous_end:start]
            if toks and (_CLAUSE_BREAK.search(gap) or toks[-1].text.endswith(".")):
                clause += 1
            stripped = raw.strip(_EDGE)
            question = raw.endswith("?") and any(ch.isalnum() for ch in stripped) and "*" not in raw
            norm = normalize(stripped) if stripped else normalize(raw)
            letters = [ch for ch in stripped if ch.isalpha()]
            toks.append(
                _Tok(
                    text=raw,
                    start=start,
                    end=end,
                    clause=clause,
                    norm=norm,
                    key=compact(stripped) if stripped else "",
                    question=question,
                    capital=bool(letters) and stripped[:1].isupper(),
                    upper=len(letters) >= 2 and all(ch.isupper() for ch in letters),
                    apostrophe=raw[:1] in "'’",
                )
            )
            previous_end = end
        return toks

    def free(self, i: int, n: int = 1) -> bool:
        """Tokens i..i+n exist, are unassigned and lie in one clause."""
        if i < 0 or i + n > len(self.toks):
            return False
        run = self.toks[i : i + n]
        return all(t.role is None for t in run) and run[0].clause == run[-1].clause

    def phrase(self, i: int, n: int) -> str:
        return "".join(t.key for t in self.toks[i : i + n])

    def words(self, i: int, n: int) -> tuple[str, ...]:
        return tuple(t.norm for t in self.toks[i : i + n])

    def assign(self, i: int, n: int, role: str) -> None:
        for t in self.toks[i : i + n]:
            t.role = role
            if t.question and role in FIELD_ROLES and role != "plate":  # in a plate, '?' is a wildcard
                self.questioned.append(self.toks.index(t))

    def set_field(self, name: str, value: Any, i: int, n: int, shown: str | None = None) -> bool:
        """Places tokens i..i+n in a field; a second, different value is reported unplaced instead."""
        if name in self.values and self.values[name] != value:
            self.assign(i, n, "unplaced")
            what = shown or " ".join(t.text for t in self.toks[i : i + n])
            self.notes.append(f"a second {name.replace('_', ' ')} {what!r} is not placed: an entry has one {name}")
            return False
        self.values[name] = value
        self.first_token.setdefault(name, i)
        self.assign(i, n, name)
        return True

    def longest(self, i: int, lookup: Callable[[str], Any], max_words: int = MAX_PHRASE_WORDS) -> tuple[int, Any]:
        """The longest run of free tokens from i whose compact phrase ``lookup`` knows: (length, value)."""
        for n in range(min(max_words, len(self.toks) - i), 0, -1):
            if self.free(i, n):
                found = lookup(self.phrase(i, n))
                if found is not None:
                    return n, found
        return 0, None

    # --- passes --------------------------------------------------------------------------------------------------

    def run(self) -> ParsedDescription:
        for step in (
            self._plates,
            self._unknowns,
            self._uncertainty,
            self._makes,
            self._models_alone,
            self._body_types,
            self._colors,
            self._years,
            self._fillers,
        ):
            step()
        for t in self.toks:
            if t.role is None:
                t.role = "unplaced"
        fields = self._fields()
        tokens = tuple(Token(t.text, t.start, t.end, t.role or "unplaced") for t in self.toks)
        return ParsedDescription(self.text, tokens, fields, tuple(self.notes))

    def _plates(self) -> None:
        i = 0
        while i < len(self.toks):
            used = self._plate_at(i)
            i += max(used, 1)

    def _plate_at(self, i: int) -> int:
        """A plate phrase starting at token i: cue words, an optional position, fragments. Returns tokens used."""
        j = i
        partial = False
        position = ""
        cue = False
        while j < len(self.toks) and self.toks[j].role is None:
            word = self.toks[j].norm
            if word in _PARTIAL and j == i:
                partial = True
            elif word in PLATE_CUES and (cue or word not in ("number", "no", "num")):
                cue = True
            elif cue and word in _PLATE_START | _PLATE_END | _PLATE_CONTAIN:
                position = "start" if word in _PLATE_START else "end" if word in _PLATE_END else "contain"
            elif cue and position and word in _PLATE_LINKS:
                pass
            else:
                break
            j += 1
        if not cue and not partial:
            if self._wildcard_fragment(i):
                self.set_field("plate", self._plate_text([i]), i, 1)
                return 1
            return 0
        if cue and j < len(self.toks) and self.toks[j].norm in _UNKNOWN_WORDS:
            self.assign(i, j - i + 1, "unknown")
            self.notes.append("plate: said to be unknown")
            return j - i + 1
        fragments: list[int] = []
        while j + len(fragments) < len(self.toks) and len(fragments) < 3:
            k = j + len(fragments)
            if self.toks[k].role is not None or not self._plate_fragment(self.toks[k], explicit=cue):
                break
            fragments.append(k)
        while fragments and len(self._plate_text(fragments)) > MAX_PLATE_LENGTH - 2:
            fragments.pop()  # room for the wildcards of a partial plate
        if not fragments:
            return 0
        text = self._plate_text(fragments)
        if "*" not in text:
            if position == "start":
                text = f"{text}*"
            elif position == "end":
                text = f"*{text}"
            elif position == "contain" or partial:
                text = f"*{text}*"
        used = fragments[-1] - i + 1
        self.set_field("plate", text, i, used)
        return used

    def _plate_text(self, fragments: Sequence[int]) -> str:
        return "".join(re.sub(r"[^A-Za-z0-9?*]", "", self.toks[k].text) for k in fragments).upper()

    def _vocabulary_word(self, t: _Tok) -> bool:
        key = t.key
        return bool(
            key
            and (
                key in self.vocab.makes
                or key in self.vocab.model_makes
                or color_word(t.norm) is not None
                or shade_key(t.norm) is not None
                or key in BODY_PHRASES
            )
        )

    def _plate_fragment(self, t: _Tok, explicit: bool) -> bool:
        raw = t.text.strip(".,'\"")
        if (
            not raw
            or not re.fullmatch(r"[A-Za-z0-9?*]+(?:[-.][A-Za-z0-9?*]+)*", raw)
            or len(raw) > MAX_PLATE_LENGTH - 2
        ):
            return False
        if not any(ch.isalnum() for ch in raw):
            return False
        if t.norm in FILLER_WORDS or t.norm in UNCERTAIN_WORDS or t.norm in _PLATE_LINKS:
            return False
        if any(ch.isdigit() for ch in raw) or "?" in raw or "*" in raw:
            return True
        return explicit and (t.upper or len(raw) <= 3) and not self._vocabulary_word(t)

    def _wildcard_fragment(self, i: int) -> bool:
        t = self.toks[i]
        raw = t.text.strip(".,'\"")
        if not re.fullmatch(r"[A-Za-z0-9?*]+(?:-[A-Za-z0-9?*]+)*", raw) or not any(ch.isalnum() for ch in raw):
            return False
        if len(self._plate_text([i])) > MAX_PLATE_LENGTH:
            return False
        if "*" in raw:
            return True
        inner_wildcards = raw.rstrip("?").count("?") > 0 or raw.count("?") > 1
        has_digit = any(ch.isdigit() for ch in raw)
        return "?" in raw and has_digit and (inner_wildcards or not self._vocabulary_word(t))

    def _unknowns(self) -> None:
        for i, t in enumerate(self.toks):
            if t.role is not None:
                continue
            if t.norm in _UNKNOWN_WORDS:
                if self.free(i, 3) and self.words(i + 1, 2) == ("model", "year"):
                    self.assign(i, 3, "unknown")
                    self.notes.append("year: said to be unknown")
                    continue
                for j in (i + 1, i - 1):
                    if self.free(j) and self.toks[j].clause == t.clause and self.toks[j].norm in _UNKNOWN_FIELDS:
                        name = _UNKNOWN_FIELDS[self.toks[j].norm]
                        self.assign(min(i, j), 2, "unknown")
                        self.notes.append(f"{name.replace('_', ' ')}: said to be unknown")
                        break

    def _uncertainty(self) -> None:
        for i, t in enumerate(self.toks):
            if t.role is not None:
                continue
            for words in UNCERTAIN_PHRASES:
                if self.free(i, len(words)) and self.words(i, len(words)) == words:
                    self.assign(i, len(words), "uncertainty")
                    self.markers.append(i)
                    break
            else:
                if t.norm in UNCERTAIN_WORDS:
                    self.assign(i, 1, "uncertainty")
                    self.markers.append(i)

    def _context(self, i: int, n: int) -> bool:
        """Whether the tokens around i..i+n read as a vehicle (for names that are also everyday words)."""
        before = self.toks[i - 1] if i > 0 else None
        after = self.toks[i + n] if i + n < len(self.toks) else None
        if before is not None and (color_word(before.norm) is not None or self._year_value(before) is not None):
            return True
        if after is not None and (after.key in BODY_PHRASES or after.key in self.vocab.model_makes):
            return True
        first = self.toks[i]
        mixed_case = not self.all_caps
        return mixed_case and first.capital and (before is None or before.norm not in _PREPOSITIONS)

    def _makes(self) -> None:
        i = 0
        while i < len(self.toks):
            n, make = self.longest(i, lambda key: self.vocab.makes.get(key))
            if not n or (n == 1 and len(self.toks[i].key) < 2):
                i += 1
                continue
            model_n, model = self._model_after(make, i + n)
            ambiguous = self.phrase(i, n) in AMBIGUOUS_WORDS
            if ambiguous and not model_n and not self._context(i, n):
                i += n
                continue
            placed = self.set_field("make", make, i, n)
            if placed and model_n:
                self.set_field("model", model, i + n, model_n)
            i += n + model_n

    def _model_after(self, make: str, i: int) -> tuple[int, str | None]:
        models = self.vocab.models.get(compact(make)) or self.vocab.models.get(_make_key(make), {})
        return self.longest(i, lambda key: models.get(key))

    def _models_alone(self) -> None:
        i = 0
        while i < len(self.toks):
            n, makes = self.longest(i, lambda key: self.vocab.model_makes.get(key))
            if not n:
                i += 1
                continue
            key = self.phrase(i, n)
            make = self.values.get("make")
            candidates = [m for m in makes if make is None or _make_key(m) == _make_key(make)]
            distinctive = not key.isdigit() and (key not in AMBIGUOUS_WORDS or self._context(i, n))
            if len(candidates) == 1 and distinctive and "model" not in self.values:
                owner = candidates[0]
                model = self.vocab.model(owner, key) or " ".join(t.text for t in self.toks[i : i + n])
                self.set_field("model", model, i, n)
                if make is None:
                    self.values["make"] = owner
                    self.notes.append(f"make {owner} inferred from model {model}")
            i += n

    def _body_types(self) -> None:
        i = 0
        while i < len(self.toks):
            n, body = self.longest(i, lambda key: BODY_PHRASES.get(key), 3)
            if n:
                self.set_field("body_type", body, i, n)
            i += max(n, 1)

    def _colors(self) -> None:
        i = 0
        while i < len(self.toks):
            used = self._color_at(i)
            i += max(used, 1)

    def _color_word(self, t: _Tok) -> tuple[str, str | None] | None:
        found = color_word(t.norm) if t.norm in COLOR_WORDS else None
        if found is None:
            words = t.norm.split()
            if len(words) > 1 and all(color_word(w) is not None or shade_key(w) is not None for w in words):
                colours = [color_word(w) for w in words if color_word(w) is not None]
                shades = [shade_key(w) for w in words if color_word(w) is None]
                if colours:
                    base, implied = colours[0] or ("", None)
                    return base, shades[0] if shades else implied
            return None
        if len(t.norm) == 3 and t.norm not in ("red", "tan") and not (t.upper or self.all_caps):
            return None  # police colour codes (BLK, WHT ...) only in capitals
        return found

    def _color_at(self, i: int) -> int:
        j = i
        shade: str | None = None
        while self.free(j) and shade_key(self.toks[j].norm) is not None and self.toks[j].clause == self.toks[i].clause:
            shade = shade_key(self.toks[j].norm)
            j += 1
        found = self._color_word(self.toks[j]) if self.free(j) and self.toks[j].clause == self.toks[i].clause else None
        if found is None:
            if j > i:
                self.assign(i, j - i, "unplaced")
                self.notes.append(f"shade {shade!r} without a colour is not placed")
            return j - i
        base, implied = found
        end = j + 1
        while (
            self.free(end)
            and self.toks[end].norm in ("metallic", "met")
            and self.toks[end].clause == self.toks[j].clause
        ):
            shade = shade or "metallic"
            end += 1
        while self.free(end) and self.toks[end].clause == self.toks[j].clause:
            same = self._color_word(self.toks[end])
            if same is None or same[0] != base:
                break
            implied = implied or same[1]
            end += 1  # "navy blue": one colour in two words
        value = (base, shade or implied)
        shown = f"{value[1]} {base}" if value[1] else base
        if self.set_field("color", value, i, end - i, shown):
            k = end
            while self._color_cue(k):
                self.assign(k, 1, "color")
                k += 1
            return k - i
        return end - i

    def _color_cue(self, k: int) -> bool:
        return self.free(k) and self.toks[k].norm in ("colored", "coloured", "color", "colour", "painted", "paint")

    # --- years ---------------------------------------------------------------------------------------------------

    def _two_digit(self, digits: str) -> int:
        value = int(digits)
        pivot = (self.this_year + 1) % 100
        return 2000 + value if value <= pivot else 1900 + value

    def _year_value(self, t: _Tok) -> int | None:
        """The model year a single token names (``2016``, ``'16``), or None."""
        stripped = t.text.strip(".,;")
        if re.fullmatch(r"\d{4}", stripped):
            year = int(stripped)
            return year if MIN_PARSED_YEAR <= year <= min(self.this_year + 2, MAX_YEAR) else None
        if t.apostrophe and re.fullmatch(r"['’]\d{2}", stripped):
            return self._two_digit(stripped[1:])
        return None

    def _year_range(self, t: _Tok) -> tuple[int, int] | None:
        stripped = t.text.strip(".,;").replace("’", "'")
        match = _YEAR_RANGE.fullmatch(stripped)
        if match is not None:
            first_text, last_text = match.groups()
            if len(first_text) == 2 and not stripped.startswith("'"):
                return None
            first = int(first_text) if len(first_text) == 4 else self._two_digit(first_text)
            if len(last_text) == 2:
                last = (first // 100) * 100 + int(last_text)
                if last < first:
                    last += 100
            else:
                last = int(last_text)
            if MIN_PARSED_YEAR <= first <= last <= min(self.this_year + 2, MAX_YEAR):
                return first, last
            return None
        decade = _DECADE.fullmatch(stripped.lower())
        if decade is not None:
            century, tens = decade.groups()
            start = (int(century) * 100 if century else (1900 if int(tens) >= 3 else 2000)) + int(tens) * 10
            return start, start + 9
        return None

    def _years(self) -> None:
        i = 0
        while i < len(self.toks):
            used = self._year_at(i)
            i += max(used, 1)

    def _year_at(self, i: int) -> int:
        t = self.toks[i]
        if not self.free(i):
            return 0
        word = t.norm
        # "late model", "newer model", "older model"
        if word in ("late", "newer", "new", "older", "old") and self.free(i + 1) and self.toks[i + 1].norm == "model":
            if word in ("late", "newer", "new"):
                return self._set_years(self.this_year - LATE_MODEL_YEARS + 1, None, i, 2)
            return self._set_years(None, self.this_year - OLDER_MODEL_YEARS, i, 2)
        if t.key in ("latemodel", "newermodel") and "-" in t.text:
            return self._set_years(self.this_year - LATE_MODEL_YEARS + 1, None, i, 1)
        # "early/mid/late 2000s"
        if word in ("early", "mid", "late") and self.free(i + 1):
            decade = self._year_range(self.toks[i + 1])
            if decade is not None and decade[1] - decade[0] == 9:
                third = {"early": (0, 3), "mid": (3, 6), "late": (6, 9)}[word]
                return self._set_years(decade[0] + third[0], decade[0] + third[1], i, 2)
        # "between 2015 and 2017", "from 2015 to 2017"
        if word in ("between", "from") and self.free(i, 4):
            first, link, last = (
                self._year_value(self.toks[i + 1]),
                self.toks[i + 2].norm,
                self._year_value(self.toks[i + 3]),
            )
            if first is not None and last is not None and link in ("and", "to", "thru", "through") and first <= last:
                return self._set_years(first, last, i, 4)
        # "pre-2010", "post-2010" in one token
        split = re.fullmatch(r"(pre|post)-?(\d{4})", t.text.strip(".,").lower())
        if split is not None:
            bound = int(split.group(2))
            return (
                self._set_years(None, bound - 1, i, 1)
                if split.group(1) == "pre"
                else self._set_years(bound + 1, None, i, 1)
            )
        # "before 2010", "after 2010", "circa 2015"
        if (
            word in _OLDER | _NEWER | _APPROX
            and self.free(i + 1)
            and word not in ("up", "older", "newer", "later", "earlier")
        ):
            named = self._year_value(self.toks[i + 1])
            if named is not None:
                if word in _APPROX:
                    return self._set_years(named - 1, named + 1, i, 2)
                if word in ("before", "pre"):
                    return self._set_years(None, named - 1, i, 2)
                return self._set_years(named + (0 if word == "since" else 1), None, i, 2)
        span = self._year_range(t)
        if span is not None:
            return self._set_years(span[0], span[1], i, 1)
        year = self._year_value(t)
        if year is None:
            plus = re.fullmatch(r"(\d{4})\+", t.text.strip(".,"))
            if plus is not None and self._year_value(_replace_text(t, plus.group(1))) is not None:
                return self._set_years(int(plus.group(1)), None, i, 1)
            return 0
        # "2015 to 2017", "2015 - 2017"
        if self.free(i, 3) and self.toks[i + 1].norm in ("to", "thru", "through"):
            last = self._year_value(self.toks[i + 2])
            if last is not None and year <= last:
                return self._set_years(year, last, i, 3)
        # "2010 or newer", "2010 and up", "2010 or older"
        if self.free(i, 3) and self.toks[i + 1].norm in ("or", "and"):
            follow = self.toks[i + 2].norm
            if follow in ("newer", "later", "up", "after"):
                return self._set_years(year, None, i, 3)
            if follow in ("older", "earlier", "before"):
                return self._set_years(None, year, i, 3)
        return self._set_years(year, year, i, 1)

    def _set_years(self, first: int | None, last: int | None, i: int, n: int) -> int:
        shown = f"{first if first is not None else '…'}-{last if last is not None else '…'}"
        self.set_field("year", (first, last), i, n, shown)
        return n

    def _fillers(self) -> None:
        for t in self.toks:
            if t.role is None and (t.norm in FILLER_WORDS or t.norm in ("model", "make", "year", "type")):
                t.role = "filler"

    # --- result --------------------------------------------------------------------------------------------------

    def _uncertain_fields(self) -> list[str]:
        uncertain: set[str] = set()
        for position in self.questioned:
            role = self.toks[position].role
            if role in FIELD_ROLES:
                uncertain.add(role)
        by_token = {name: [k for k, t in enumerate(self.toks) if t.role == name] for name in FIELD_ROLES}
        inferred_make = "make" in self.values and not by_token["make"]
        for marker in self.markers:
            clause = self.toks[marker].clause
            after = [
                name
                for name, spots in by_token.items()
                if any(k > marker and self.toks[k].clause == clause for k in spots)
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
                inferred_make or any(self.toks[k].clause == self.toks[last_spot].clause for k in by_token["make"])
            ):
                uncertain.add("make")
        return [name for name in FIELD_ROLES if name in uncertain and name in self._set_fields()]

    def _set_fields(self) -> set[str]:
        return set(self.values)

    def _fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("make", "model", "body_type", "plate"):
            if name in self.values:
                out[name] = self.values[name]
        if "color" in self.values:
            base, shade = self.values["color"]
            out["color"] = base
            if shade is not None:
                out["color_shade"] = shade
        if "year" in self.values:
            first, last = self.values["year"]
            if first is not None and first == last:
                out["year"] = first
            else:
                if first is not None:
                    out["year_min"] = first
                if last is not None:
                    out["year_max"] = last
        uncertain = self._uncertain_fields()
        if uncertain and len(uncertain) == len(self.values):
            self.notes.append(f"every field is uncertain ({', '.join(uncertain)}): taken as certain, or none gates")
            uncertain = []
        if uncertain:
            out["uncertain"] = uncertain
        return out


def _make_key(name: str) -> str:
    from watchlists.aliases import make_key

    return make_key(name)


def _replace_text(t: _Tok, text: str) -> _Tok:
    return _Tok(text, t.start, t.end, t.clause, text, text, False, False, False, False)


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
    "ROLES",
    "ParsedDescription",
    "Token",
    "describe",
    "parse_description",
    "tokenize",
]
