"""The colours cameras confuse: partial credit for neighbouring colours when the matcher scores an entry's colour.

The colour names themselves (base colours, synonyms, shades, report codes, folding) are the shared vocabulary of
:mod:`classifiers.color.vocabulary`; an entry's colour is one of its colours with an optional shade (``"dark
blue"`` is ``blue`` + ``dark``, ``"navy"`` is also ``blue`` + ``dark``). This module only weighs labels for it.

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

from classifiers.color.vocabulary import Shade, color_key, resolve_color

MAX_PARTIAL = 0.4
"""Largest partial credit a neighbouring colour gets (below the default threshold, 0.5)."""

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


def confusion_row(color: str, shade: Shade | None) -> Mapping[str, float]:
    """The partial credit of neighbouring colours for an entry colour (keys are :func:`color_key` keys)."""
    key = color_key(color)
    return COLOR_CONFUSION.get((key, shade)) or COLOR_CONFUSION.get((key, None)) or {}


def color_weights(color: str, shade: Shade | None, labels: Sequence[str]) -> NDArray[np.float32]:
    """Weight of each classifier label for an entry colour: 1 for the colour, partial credit for neighbours.

    On a head without a label of its own for the colour, a colour the vocabulary folds into another is judged as
    that shade of the other (:data:`classifiers.color.vocabulary.FOLDED_INTO`: maroon is dark red there).

    Example:
        >>> color_weights("silver", None, ("white", "silver", "red", "grey")).tolist()
        [0.4000000059604645, 1.0, 0.0, 0.4000000059604645]
        >>> color_weights("maroon", None, ("red", "black")).tolist()  # a head that folds maroon into red
        [1.0, 0.0]
    """
    keys = {color_key(label) for label in labels}
    wanted, shade = resolve_color(color_key(color), shade, keys) or (color_key(color), shade)
    row = {color_key(name): weight for name, weight in confusion_row(wanted, shade).items()}
    weights = [1.0 if (key := color_key(label)) == wanted else row.get(key, 0.0) for label in labels]
    return np.array(weights, dtype=np.float32)
