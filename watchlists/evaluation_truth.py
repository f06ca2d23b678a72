"""The true label of each crop on a classifier head, read from the labels the way the matcher reads entries.

Calibrating a head needs, per labelled crop, the index of its true label among the head's labels: the ``make``
column on a ``make`` head (aliases: Merc → Mercedes-Benz), ``color`` on a ``color`` head (the colour vocabulary:
gray = grey, maroon is red on a head that folds it), ``body_type`` on a ``type`` head (on a coarse car/bus/truck/van
head a sedan or an SUV is a ``car``). A crop whose label is unknown, unsure, or not one of the head's labels gets -1
and is left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from watchlists.aliases import body_type_fallback, body_type_key, color_key, make_key
from watchlists.evaluation import UNKNOWN_VALUES
from watchlists.field_weights import BODY_TYPE_HEADS, COLOR_HEAD, MAKE_HEAD

HEAD_COLUMNS: dict[str, str] = {MAKE_HEAD: "make", COLOR_HEAD: "color", **dict.fromkeys(BODY_TYPE_HEADS, "body_type")}
"""Head → the label column that gives its truth (heads not listed cannot be calibrated from labels)."""


def _index(head: str, labels: Sequence[str]) -> dict[str, int]:
    if head == MAKE_HEAD:
        keys = [make_key(label) for label in labels]
    elif head == COLOR_HEAD:
        keys = [color_key(label) for label in labels]
    else:
        keys = [body_type_key(label) for label in labels]
    index: dict[str, int] = {}
    for i, key in enumerate(keys):
        index.setdefault(key, i)
    return index


def _lookup(head: str, value: str, index: Mapping[str, int]) -> int:
    if head == MAKE_HEAD:
        return index.get(make_key(value), -1)
    if head == COLOR_HEAD:
        return index.get(color_key(value), -1)
    key = body_type_key(value)
    found = index.get(key)
    if found is None:
        coarse = body_type_fallback(key)
        found = index.get(coarse) if coarse is not None else None
    return -1 if found is None else found


def head_truth(head: str, labels: Sequence[str], rows: Sequence[Mapping[str, str]]) -> NDArray[np.int64]:
    """Per row, the index of its true label among ``labels`` of ``head``, or -1 (unknown, or not a label).

    Example:
        >>> head_truth("type", ("car", "bus", "truck", "van"), [{"body_type": "suv"}, {"body_type": "unsure"}])
        array([ 0, -1])
    """
    column = HEAD_COLUMNS.get(head)
    if column is None:
        return np.full(len(rows), -1, np.int64)
    index = _index(head, labels)
    out = []
    for row in rows:
        value = (row.get(column) or "").strip()
        out.append(-1 if value.lower() in UNKNOWN_VALUES else _lookup(head, value, index))
    return np.asarray(out, np.int64)
