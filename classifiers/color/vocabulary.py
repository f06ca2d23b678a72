"""The one colour vocabulary of the project: colour names, their other names, shades, and folding.

Why it exists: the colour recogniser maps its members' labels onto colours, and watchlists read colours from
entries and alert descriptions and compare them with classifier labels. When each kept its own table they
disagreed (``maroon`` was a colour of its own to watchlists and dark red to the recogniser). Both now read this
module; it lives under ``classifiers`` because ``classifiers`` may never import ``watchlists``, while watchlists
may import classifiers.

* :data:`COLORS`: the canonical colours (black, white, grey, silver, blue, red, green, yellow, orange, brown,
  beige, gold, purple, maroon, pink).
* :data:`SYNONYMS`: the same colour under another name (``gray``, ``golden``, ``violet``, ``bordeaux``,
  ``burgundy``); :func:`color_key` resolves them, so labels and entries meet.
* :data:`SHADED_NAMES`: names that are a colour *with a shade*, or a close trade name (``navy`` is dark blue,
  ``cream`` light beige, ``tan`` beige). They are read as that colour and shade, but :func:`color_key` keeps them
  apart: a classifier label ``navy`` is not every blue.
* :data:`REPORT_CODES`: the colour codes of police and DMV reports (``BLK``, ``WHT`` ...), read in entries and
  descriptions only (never in classifier labels).
* :data:`SHADES` and :data:`SHADE_WORDS`: the shade qualifiers (``dark blue``, ``lt grey``).
* :data:`FOLDED_INTO`: colours that a head without a label of their own reads as a shade of another colour
  (``maroon`` → dark ``red``: spectrico's ``bordeaux`` output is red paint in shadow as often as maroon paint).
  The recogniser folds them into its labels (:func:`classifiers.color.labels.base_color`), and the watchlist
  matcher judges a maroon entry as dark red on such a head (:func:`watchlists.colors.color_weights`).

Example:
    >>> color_key("Gray"), color_name("navy"), split_color("Dk Blue"), resolve_color("maroon", None, {"red"})
    ('grey', ('blue', 'dark'), ('blue', 'dark'), ('red', 'dark'))
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal, get_args

from common.names import compact, normalize

COLORS: tuple[str, ...] = (
    "black",
    "white",
    "grey",
    "silver",
    "blue",
    "red",
    "green",
    "yellow",
    "orange",
    "brown",
    "beige",
    "gold",
    "purple",
    "maroon",
    "pink",
)
"""The canonical colour names (:func:`color_key` keys)."""

Shade = Literal["dark", "light", "bright", "metallic"]
Lightness = Literal["dark", "light"]
"""The shades that say how light the paint is: the recogniser judges them, and they move confusion credit."""

SHADES: tuple[Shade, ...] = get_args(Shade)
"""Shade qualifiers an entry may give its colour."""

SHADE_WORDS: dict[str, Shade] = {
    "dark": "dark",
    "dk": "dark",
    "deep": "dark",
    "light": "light",
    "lt": "light",
    "pale": "light",
    "bright": "bright",
    "metallic": "metallic",
    "met": "metallic",
}
"""Words (compact) that name a shade → the shade."""

SYNONYMS: dict[str, str] = {
    "gray": "grey",
    "golden": "gold",
    "violet": "purple",
    "bordeaux": "maroon",
    "burgundy": "maroon",
}
"""The same colour under another name (compact) → the canonical colour. Neighbouring colours (silver vs grey) are
no synonyms: merging them would silently widen every entry (confusion credit is the matcher's business)."""

SHADED_NAMES: dict[str, tuple[str, Shade | None]] = {
    "navy": ("blue", "dark"),
    "charcoal": ("grey", "dark"),
    "gunmetal": ("grey", "dark"),
    "tan": ("beige", None),
    "cream": ("beige", "light"),
    "champagne": ("beige", "light"),
    "bronze": ("brown", None),
}
"""Names (compact) of a colour with a shade, or of a close colour → (canonical colour, implied shade)."""

REPORT_CODES: dict[str, str] = {
    # NCIC vehicle colour codes and the common variants of police and DMV reports.
    "blk": "black",
    "wht": "white",
    "whi": "white",
    "gry": "grey",
    "gra": "grey",
    "sil": "silver",
    "slv": "silver",
    "blu": "blue",
    "grn": "green",
    "brn": "brown",
    "bro": "brown",
    "bge": "beige",
    "gld": "gold",
    "mar": "maroon",
    "yel": "yellow",
    "ong": "orange",
    "org": "orange",
    "pur": "purple",
    "ple": "purple",
    "pnk": "pink",
}
"""Colour codes of written reports (compact) → the canonical colour."""

FOLDED_INTO: dict[str, tuple[str, Shade]] = {"maroon": ("red", "dark")}
"""Colours that a head without a label of their own reads as a shade of another colour."""

COLOR_NAMES: dict[str, tuple[str, Shade | None]] = {
    **{name: (name, None) for name in COLORS},
    **{name: (color, None) for name, color in SYNONYMS.items()},
    **SHADED_NAMES,
}
"""Every name of a colour (compact) → (canonical colour, implied shade); what classifier labels are read with."""

COLOR_WORDS: dict[str, tuple[str, Shade | None]] = {
    **COLOR_NAMES,
    **{code: (color, None) for code, color in REPORT_CODES.items()},
}
"""Every word of a written description that names a colour (compact) → (canonical colour, implied shade)."""


def color_key(name: str) -> str:
    """The comparison key of a colour: synonyms resolved (``"Gray"`` → ``"grey"``), anything else compacted
    (``"navy"`` stays ``"navy"``, an unknown ``"Teal"`` is ``"teal"``)."""
    key = compact(name)
    return SYNONYMS.get(key, key)


def color_name(name: str) -> tuple[str, Shade | None] | None:
    """(canonical colour, implied shade) of a colour name or label (``"navy"`` → ``("blue", "dark")``), or None."""
    return COLOR_NAMES.get(compact(name))


def color_word(word: str) -> tuple[str, Shade | None] | None:
    """Like :func:`color_name`, and also reads report codes (``"BLK"`` → ``("black", None)``)."""
    return COLOR_WORDS.get(compact(word))


def shade_key(word: str) -> Shade | None:
    """The shade a word names (``"Dk"`` → ``"dark"``), or None."""
    return SHADE_WORDS.get(compact(word))


def resolve_color(color: str, shade: Shade | None, known: Collection[str]) -> tuple[str, Shade | None] | None:
    """The colour and shade under which a head that knows the colours ``known`` judges ``color``: the colour
    itself when known, else the colour it folds into (:data:`FOLDED_INTO`) when that is known, else None.

    Example:
        >>> resolve_color("maroon", None, {"red", "maroon"}), resolve_color("pink", None, {"red"})
        (('maroon', None), None)
    """
    if color in known:
        return color, shade
    folded = FOLDED_INTO.get(color)
    if folded is not None and folded[0] in known:
        return folded
    return None


def split_color(text: str) -> tuple[str, Shade | None]:
    """Splits a colour phrase into base colour and shade: ``"Dark Blue"`` → ``("blue", "dark")``.

    Words that are neither a shade nor a known colour stay in the colour (``"teal"`` → ``("teal", None)``), so an
    unknown colour is kept as written and reported by the matcher if no classifier knows it.

    Raises:
        ValueError: the phrase names two shades or two colours, or only a shade.
    """
    shade: Shade | None = None
    base_words: list[str] = []
    for word in normalize(text).split():
        found_shade = shade_key(word)
        if found_shade is None:
            base_words.append(word)
            continue
        if shade is not None and shade != found_shade:
            raise ValueError(f"names two shades ({shade!r} and {found_shade!r})")
        shade = found_shade
    if not base_words:
        raise ValueError(f"names a shade ({shade!r}) but no colour")
    if len(base_words) == 1 and (known := color_word(base_words[0])) is not None:
        base, implied = known
        if shade is not None and implied is not None and shade != implied:
            raise ValueError(f"{base_words[0]!r} is already {implied}, not {shade}")
        return base, shade or implied
    known_words = [w for w in base_words if color_word(w) is not None]
    if len(known_words) > 1:
        raise ValueError(f"names more than one colour ({', '.join(known_words)}): give one")
    return " ".join(base_words), shade


def describe_color(color: str, shade: str | None) -> str:
    """``"dark blue"``: the colour as an operator reads it."""
    return f"{shade} {color}" if shade else color
