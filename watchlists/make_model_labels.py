"""How a make+model label is read: ``"Land Rover Range Rover SUV 2012"`` → make, model words, year, body type.

The make+model head's labels carry several entry fields at once; the matcher and the description parser's
vocabulary read them the same way through this module, so a label means the same to both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from watchlists.aliases import BODY_TYPE_ALIASES, MULTIWORD_MAKES, body_type_key, compact, make_key, normalize
from watchlists.entry_model import MAX_YEAR, MIN_YEAR

_YEAR = re.compile(r"^\d{4}$")
_MAX_MAKE_WORDS = 4
_MAX_BODY_WORDS = 3


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
    """Whether a label's model year lies in an entry's range (either end may be open); no year never does."""
    return year is not None and (first is None or year >= first) and (last is None or year <= last)
