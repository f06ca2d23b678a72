"""Per-field scoring: which classifier head judges each field of an entry, and what each of its labels weighs.

A field's score is ``probs @ weights``: the probability mass of the head's labels that fit the field, each label
weighted 0..1 (1: it is the value; between: a confusable colour's partial credit). Which head judges which field,
and why fields on one head are judged jointly, is told in :mod:`watchlists.matching`; this module computes the
per-label weights: the make (on ``make`` or summed over a ``make_model`` head's models), the model and year (from
``make_model`` labels, :mod:`watchlists.make_model_labels`), the body type (with the coarse-head fallback) and the
colour (:func:`watchlists.colors.color_weights`). The plate is no head field: :mod:`watchlists.plates` scores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from watchlists.aliases import body_type_fallback, body_type_key, color_key, compact, make_key
from watchlists.colors import ColorTable, color_weights
from watchlists.entry_model import WatchlistEntry
from watchlists.make_model_labels import (
    MakeModelLabel,
    body_type_of_model,
    in_range,
    model_matches,
    parse_make_model_label,
)

MAKE_HEAD = "make"
MAKE_MODEL_HEAD = "make_model"
COLOR_HEAD = "color"
SHADE_HEAD = "color_shade"
"""The colour recogniser's dark/light head; absent where it abstained (the shade was not decided)."""
SHADE_LABELS = frozenset({"dark", "light"})
"""The shades a ``color_shade`` head judges."""
BODY_TYPE_HEADS: tuple[str, ...] = ("type", "body_type")

Weights = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class ColorScoring:
    """How colours are scored.

    Attributes:
        confusion: give confusable colours partial credit; False counts only the colour's own labels.
        table: a measured colour table (:class:`watchlists.colors.ColorTable`) replacing the hand-set rows of the
            colours it has; None: the hand-set table.
        shade: judge an entry's dark/light shade on the ``color_shade`` head where that head is present (it
            abstains where the shade is not decided); False: the shade only moves the partial credit.
    """

    confusion: bool = True
    table: ColorTable | None = None
    shade: bool = True


def _body_head(available: Mapping[str, object]) -> str | None:
    return next((head for head in BODY_TYPE_HEADS if head in available), None)


def pick_heads(entry: WatchlistEntry, available: Mapping[str, object]) -> dict[str, str | None]:
    """Field → the head that judges it (None: no loaded head can); the plate is not a head field."""
    fields = entry.attributes()
    has_make_model = MAKE_MODEL_HEAD in available
    body_head = _body_head(available) or (MAKE_MODEL_HEAD if has_make_model else None)
    # When the make+model head is consulted anyway, its labels carry the make: judging the make on a second head as
    # well would count the same evidence twice.
    make_jointly = has_make_model and (
        "model" in fields or "year" in fields or ("body_type" in fields and body_head == MAKE_MODEL_HEAD)
    )
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
            picked[name] = body_head
    return picked


WANTED_HEAD: dict[str, str] = {
    "make": f"{MAKE_HEAD!r} or {MAKE_MODEL_HEAD!r}",
    "model": repr(MAKE_MODEL_HEAD),
    "year": repr(MAKE_MODEL_HEAD),
    "color": repr(COLOR_HEAD),
    "body_type": " or ".join(repr(head) for head in (*BODY_TYPE_HEADS, MAKE_MODEL_HEAD)),
}
"""Field → the heads that can judge it, as a message names them."""


def describe_field(entry: WatchlistEntry, name: str) -> str:
    """A field with its value, for messages: ``color 'teal'``, ``years 2015–2017``."""
    if name == "year":
        first, last = entry.year_range or (None, None)
        if first == last:
            return f"year {first}"
        return f"years {first if first is not None else '…'}–{last if last is not None else '…'}"
    return f"{name} {getattr(entry, name)!r}"


class LabelKeys:
    """One head's labels in every comparison form a field may need, computed on first use."""

    def __init__(self, head: str, labels: tuple[str, ...], known_makes: frozenset[str]) -> None:
        self.head = head
        self.labels = labels
        self._known_makes = known_makes
        self._parsed: list[MakeModelLabel] | None = None
        self._keys: dict[str, NDArray[np.str_]] = {}

    @property
    def parsed(self) -> list[MakeModelLabel]:
        """The labels read as make+model labels (make, model words, year)."""
        if self._parsed is None:
            self._parsed = [parse_make_model_label(label, self._known_makes) for label in self.labels]
        return self._parsed

    def keys(self, name: str) -> NDArray[np.str_]:
        """Each label's comparison key for a field (``make``, ``color``, ``body_type``)."""
        if name not in self._keys:
            if self.head == MAKE_MODEL_HEAD and name == "make":
                keys = [parsed.make for parsed in self.parsed]
            elif self.head == MAKE_MODEL_HEAD and name == "body_type":
                keys = [body_type_of_model(parsed.model) for parsed in self.parsed]
            else:
                to_key = {"make": make_key, "color": color_key, "body_type": body_type_key}[name]
                keys = [to_key(label) for label in self.labels]
            self._keys[name] = np.array(keys, dtype=np.str_)
        return self._keys[name]


def field_weights(
    entry: WatchlistEntry, name: str, labels: LabelKeys, colors: ColorScoring | None = None
) -> tuple[Weights, str]:
    """The weight (0..1) of each of the head's labels for the entry's field, and a note when none can count.

    Args:
        entry: the entry.
        name: one of its attributes (``make``, ``model``, ``year``, ``color``, ``body_type``).
        labels: the judging head's labels.
        colors: how colours are scored (default: hand-set partial credit).
    """
    colors = colors or ColorScoring()
    if name == "model":
        wanted = compact(entry.model or "")
        return np.array([model_matches(wanted, parsed.model) for parsed in labels.parsed], dtype=np.float32), ""
    if name == "year":
        return _year_weights(entry, labels)
    if name == "color":
        if not colors.confusion:
            return (color_weights(entry.color or "", entry.color_shade, labels.labels) >= 1.0).astype(np.float32), ""
        return color_weights(entry.color or "", entry.color_shade, labels.labels, colors.table), ""
    if name == "body_type":
        return _body_type_weights(entry, labels)
    return (labels.keys(name) == make_key(entry.make or "")).astype(np.float32), ""


def _year_weights(entry: WatchlistEntry, labels: LabelKeys) -> tuple[Weights, str]:
    first, last = entry.year_range or (None, None)
    if not any(parsed.year is not None for parsed in labels.parsed):
        return np.zeros(len(labels.labels), dtype=np.float32), "its labels carry no model years"
    return np.array([in_range(parsed.year, first, last) for parsed in labels.parsed], dtype=np.float32), ""


def _body_type_weights(entry: WatchlistEntry, labels: LabelKeys) -> tuple[Weights, str]:
    """The body type's labels; on a coarse head without them, its fallback's (a pickup is a ``car`` there)."""
    keys = labels.keys("body_type")
    wanted = body_type_key(entry.body_type or "")
    mask = keys == wanted
    coarse = body_type_fallback(wanted)
    if not mask.any() and coarse is not None:
        mask = keys == coarse
    if not mask.any() and labels.head == MAKE_MODEL_HEAD and not (keys != "").any():
        return mask.astype(np.float32), "its labels name no body types"
    return mask.astype(np.float32), ""


def shade_weights(entry: WatchlistEntry, available: Mapping[str, LabelKeys], colors: ColorScoring) -> Weights | None:
    """The ``color_shade`` head's label weights for an entry's dark/light shade, or None when the shade is not
    judged there (no shade asked, colour uncertain, shade judging off, or the head absent: it abstained)."""
    shade = entry.color_shade
    head = available.get(SHADE_HEAD)
    if (
        not colors.shade
        or head is None
        or shade not in SHADE_LABELS
        or entry.color is None
        or "color" in entry.uncertain
    ):
        return None
    mask = np.array([label.strip().lower() == shade for label in head.labels], dtype=np.float32)
    return mask if mask.any() else None
