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

**Measured table** (:class:`ColorTable`, a file written by ``vehiclewatch watchlist calibrate``): instead of the
hand-set weights, a wanted colour's row is what the colour head's labels measured on labelled camera crops:
``weight(wanted, label) = P(the vehicle is the wanted colour | the head says label)``, from the head's calibrated
probabilities (soft counts) with a small prior towards the label itself. A label's own weight is then below 1 when
the head's "silver" is often really grey, and the score ``Σ P(label) · weight`` estimates the probability that the
vehicle has the wanted colour. Colours the file has no row for (none of them in the labelled crops) keep the
hand-set row; set it with ``watchlist.color_table``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


class ColorTable(BaseModel):
    """A measured colour table: per wanted colour, the weight of each label of the colour head.

    Example:
        >>> table = ColorTable(rows={"silver": {"silver": 0.6, "grey": 0.3, "white": 0.2}})
        >>> color_weights("silver", None, ("white", "silver", "red"), table).round(2).tolist()
        [0.2, 0.6, 0.0]
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = Field(default=1, description="File format version.")
    rows: dict[str, dict[str, float]] = Field(
        description="Wanted colour → {label → P(the vehicle is the wanted colour | the head says label)}."
    )
    provenance: dict[str, str] = Field(default_factory=dict, description="Data, folds, date of the measurement.")

    def row(self, color: str) -> Mapping[str, float] | None:
        """The measured row of a colour (keys are :func:`color_key` keys), or None when it was not measured."""
        found = self.rows.get(color_key(color))
        return None if found is None else {color_key(label): weight for label, weight in found.items()}


def load_color_table(path: Path) -> ColorTable:
    """Reads a measured colour table (YAML or JSON).

    Raises:
        ValueError: the file is missing, unreadable or invalid (one line naming the file and the key).
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return ColorTable.model_validate(data)
    except OSError as exc:
        raise ValueError(f"colour table {path}: cannot read it ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"colour table {path}: not valid YAML or JSON") from exc
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ValueError(f"colour table {path}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from exc


def save_color_table(table: ColorTable, path: Path) -> Path:
    """Writes a measured colour table (YAML), creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(table.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
    return path


def confusion_row(color: str, shade: Shade | None, table: ColorTable | None = None) -> Mapping[str, float]:
    """The credit of other colours' labels for an entry colour (keys are :func:`color_key` keys): the measured
    row when ``table`` has one (it may also give the colour's own label less than 1), else the hand-set one."""
    key = color_key(color)
    measured = table.row(key) if table is not None else None
    if measured is not None:
        return {name: weight for name, weight in measured.items() if name != key}
    return COLOR_CONFUSION.get((key, shade)) or COLOR_CONFUSION.get((key, None)) or {}


def color_weights(
    color: str, shade: Shade | None, labels: Sequence[str], table: ColorTable | None = None
) -> NDArray[np.float32]:
    """Weight of each classifier label for an entry colour: 1 for the colour, partial credit for neighbours (or,
    with a measured ``table`` that has the colour, its measured row).

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
    measured = table.row(wanted) if table is not None else None
    if measured is not None:
        return np.array([measured.get(color_key(label), 0.0) for label in labels], dtype=np.float32)
    row = {color_key(name): weight for name, weight in confusion_row(wanted, shade).items()}
    weights = [1.0 if (key := color_key(label)) == wanted else row.get(key, 0.0) for label in labels]
    return np.array(weights, dtype=np.float32)
