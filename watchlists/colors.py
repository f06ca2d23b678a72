"""Colours as alerts name them: base colours, shades, and the colours cameras confuse (partial credit).

An entry's colour is a *base* colour (the names colour classifiers use: black, white, grey, silver, blue, red ...)
and an optional *shade* qualifier: ``"dark blue"`` is ``blue`` + ``dark``, ``"navy"`` is also ``blue`` + ``dark``.

Cameras confuse some colours all the time: silver paint in sunlight reads as white, grey as silver or white, dark
blue under a sky reflection as black. The matcher gives the mass of those neighbouring labels *partial* credit:
an entry's colour score is ``sum over labels of P(label) × weight(entry colour, label)``, with weight 1 for the
colour itself and the weights of :data:`COLOR_CONFUSION` for its neighbours.

How the table was set. The Spectrico colour classifier on the hand-labelled real camera crops of
``shared/datasets/traffic_crops_dev`` (mean probability mass per true colour, 2026-11) gave:

==========  ===================================================================
true        mass the classifier gave (largest first)
==========  ===================================================================
silver      white 0.40, silver 0.30, grey 0.14
grey        grey 0.22, black 0.22, white 0.22, blue 0.12, silver 0.09
dark blue   black 0.28, blue 0.23, white 0.16, grey 0.15
black       black 0.35, white 0.24, blue 0.14, grey 0.12
white       white 0.66, grey 0.08, black 0.06, silver 0.06
==========  ===================================================================

and on the clearer photos of ``vehicle_colors_dev``: silver → silver 0.43, grey 0.29, white 0.10; pink (a colour
it lacks) → red 0.43, violet 0.24. The weights follow those confusions but stay at most :data:`MAX_PARTIAL`
(0.4): a vehicle the classifier calls 100 % a *neighbouring* colour scores at most 0.4 for the entry's colour,
below the default threshold (0.5), so partial credit can only tip a split decision, never fire an entry alone.
The one exception is a shade that *is* another label: dark red is what the classifier calls ``bordeaux``/maroon.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from watchlists.aliases import color_key, normalize

MAX_PARTIAL = 0.4
"""Largest partial credit a neighbouring colour gets (below the default threshold, 0.5)."""

BASE_COLORS: tuple[str, ...] = (
    "black",
    "white",
    "grey",
    "silver",
    "blue",
    "red",
    "green",
    "brown",
    "beige",
    "gold",
    "maroon",
    "yellow",
    "purple",
    "orange",
    "pink",
)
"""The base colours alerts name (as :func:`watchlists.aliases.color_key` keys)."""

SHADES: tuple[str, ...] = ("dark", "light", "bright", "metallic")
"""Shade qualifiers; only ``dark`` and ``light`` change the partial credit (see :data:`COLOR_CONFUSION`)."""

SHADE_WORDS: dict[str, str] = {
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
"""Words (normalised) that name a shade → the shade."""

COLOR_WORDS: dict[str, tuple[str, str | None]] = {
    **{name: (name, None) for name in BASE_COLORS},
    "gray": ("grey", None),
    "golden": ("gold", None),
    "bordeaux": ("maroon", None),
    "burgundy": ("maroon", None),
    "violet": ("purple", None),
    "navy": ("blue", "dark"),
    "charcoal": ("grey", "dark"),
    "gunmetal": ("grey", "dark"),
    "tan": ("beige", None),
    "cream": ("beige", "light"),
    "champagne": ("beige", "light"),
    "bronze": ("brown", None),
    # Abbreviations of police and DMV reports (NCIC vehicle colour codes and common variants).
    "blk": ("black", None),
    "wht": ("white", None),
    "whi": ("white", None),
    "gry": ("grey", None),
    "gra": ("grey", None),
    "sil": ("silver", None),
    "slv": ("silver", None),
    "blu": ("blue", None),
    "grn": ("green", None),
    "brn": ("brown", None),
    "bro": ("brown", None),
    "bge": ("beige", None),
    "gld": ("gold", None),
    "mar": ("maroon", None),
    "yel": ("yellow", None),
    "ong": ("orange", None),
    "org": ("orange", None),
    "pur": ("purple", None),
    "ple": ("purple", None),
    "pnk": ("pink", None),
}
"""Words (normalised) that name a colour → (base colour, implied shade)."""

# (base colour, shade or None) → {confusable label's base colour: weight}. A shade without a row of its own uses
# the base colour's row. Measured basis in the module docstring.
COLOR_CONFUSION: dict[tuple[str, str | None], dict[str, float]] = {
    ("silver", None): {"grey": 0.4, "white": 0.4},
    ("silver", "light"): {"white": 0.4, "grey": 0.2},
    ("silver", "dark"): {"grey": 0.4, "white": 0.2},
    ("grey", None): {"silver": 0.4, "white": 0.3, "black": 0.3},
    ("grey", "dark"): {"black": 0.4, "silver": 0.2},
    ("grey", "light"): {"silver": 0.4, "white": 0.3},
    ("white", None): {"silver": 0.3, "grey": 0.2},
    ("black", None): {"blue": 0.2, "grey": 0.2},
    ("blue", None): {"black": 0.3},
    ("blue", "dark"): {"black": 0.4},
    ("blue", "light"): {"silver": 0.2, "grey": 0.2},
    ("red", None): {"maroon": 0.4, "orange": 0.2},
    ("red", "dark"): {"maroon": 1.0, "brown": 0.2},
    ("maroon", None): {"red": 0.4, "brown": 0.2},
    ("brown", None): {"beige": 0.3, "maroon": 0.2},
    ("beige", None): {"gold": 0.3, "brown": 0.3, "white": 0.2, "silver": 0.2},
    ("gold", None): {"beige": 0.3, "yellow": 0.3, "brown": 0.2},
    ("yellow", None): {"gold": 0.3, "orange": 0.3},
    ("orange", None): {"red": 0.3, "yellow": 0.3},
    ("purple", None): {"blue": 0.3, "maroon": 0.3},
    ("pink", None): {"red": 0.4, "purple": 0.4},
}


def shade_key(word: str) -> str | None:
    """The shade a word names (``"Dk"`` → ``"dark"``), or None."""
    return SHADE_WORDS.get(normalize(word).replace(" ", ""))


def color_word(word: str) -> tuple[str, str | None] | None:
    """(base colour, implied shade) of a single colour word (``"navy"`` → ``("blue", "dark")``), or None."""
    return COLOR_WORDS.get(normalize(word).replace(" ", ""))


def split_color(text: str) -> tuple[str, str | None]:
    """Splits a colour phrase into base colour and shade: ``"Dark Blue"`` → ``("blue", "dark")``.

    Words that are neither a shade nor a known colour stay in the colour (``"teal"`` → ``("teal", None)``), so an
    unknown colour is kept as written and reported by the matcher if no classifier knows it.

    Raises:
        ValueError: the phrase names two shades or two colours, or only a shade.
    """
    words = normalize(text).split()
    shade: str | None = None
    base_words: list[str] = []
    for word in words:
        found_shade = shade_key(word)
        if found_shade is not None:
            if shade is not None and shade != found_shade:
                raise ValueError(f"names two shades ({shade!r} and {found_shade!r})")
            shade = found_shade
        else:
            base_words.append(word)
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


def confusion_row(color: str, shade: str | None) -> Mapping[str, float]:
    """The partial credit of neighbouring colours for an entry colour (keys are :func:`color_key` keys)."""
    key = color_key(color)
    return COLOR_CONFUSION.get((key, shade)) or COLOR_CONFUSION.get((key, None)) or {}


FOLDED_INTO: dict[str, tuple[str, str]] = {"maroon": ("red", "dark")}
"""Colours some classifiers fold into another as a shade (the colour recogniser reads bordeaux as dark red): for a
head without a label of its own for the colour, the entry is judged as that shade of the other colour."""


def color_weights(color: str, shade: str | None, labels: Sequence[str]) -> NDArray[np.float32]:
    """Weight of each classifier label for an entry colour: 1 for the colour, partial credit for neighbours.

    Example:
        >>> color_weights("silver", None, ("white", "silver", "red", "grey")).tolist()
        [0.4000000059604645, 1.0, 0.0, 0.4000000059604645]
        >>> color_weights("maroon", None, ("red", "black")).tolist()  # a head that folds maroon into red
        [1.0, 0.0]
    """
    wanted = color_key(color)
    keys = {color_key(label) for label in labels}
    if wanted not in keys and wanted in FOLDED_INTO and FOLDED_INTO[wanted][0] in keys:
        color, shade = FOLDED_INTO[wanted]
        wanted = color
    row = {color_key(name): weight for name, weight in confusion_row(color, shade).items()}
    weights = [1.0 if (key := color_key(label)) == wanted else row.get(key, 0.0) for label in labels]
    return np.array(weights, dtype=np.float32)


def describe_color(color: str, shade: str | None) -> str:
    """``"dark blue"``: the colour as an operator reads it."""
    return f"{shade} {color}" if shade else color
