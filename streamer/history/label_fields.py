"""The label fields, their values and how they are checked against what the loaded heads know.

A value is a label as its head spells it, ``unknown`` ("can't tell"), or None (not given).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from classifiers.adaptation.fields import CANT_TELL, FIELD_HEADS, head_for_field
from streamer.history.store import Sighting

FIELDS: tuple[str, ...] = tuple(FIELD_HEADS)
VERDICTS = ("right_vehicle", "wrong_vehicle")
Vocabulary = Mapping[str, Sequence[str]]
"""Field → the labels the loaded heads know for it (a field with no head: absent or empty)."""


class LabelError(ValueError):
    """Bad input for a label (one line); nothing was changed."""


def vocabulary_of(heads: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """Field → sorted labels, from a bank's ``head → labels`` (first head of `FIELD_HEADS` present wins)."""
    out: dict[str, tuple[str, ...]] = {}
    for field in FIELD_HEADS:
        head = head_for_field(field, heads)
        if head is not None:
            out[field] = tuple(sorted(heads[head], key=str.lower))
    return out


def check_fields(fields: Mapping[str, str | None], vocabulary: Vocabulary) -> dict[str, str | None]:
    """The fields with each value spelled as its head spells it (or ``unknown``).

    Raises:
        LabelError: an unknown field, or a value no loaded head knows for it.
    """
    out: dict[str, str | None] = {}
    for field, raw in fields.items():
        if field not in FIELD_HEADS:
            raise LabelError(f"unknown field {field!r}: the fields are {', '.join(FIELDS)}")
        value = (raw or "").strip()
        if not value:
            out[field] = None
            continue
        if value.lower() in (CANT_TELL, "?"):
            out[field] = CANT_TELL
            continue
        known = {label.lower(): label for label in vocabulary.get(field, ())}
        if not known:
            raise LabelError(f"no loaded head knows {field} labels: {field} {value!r} cannot be checked")
        canonical = known.get(value.lower())
        if canonical is None:
            raise LabelError(f"unknown {field} {value!r}: not among the {len(known)} labels the loaded heads know")
        out[field] = canonical
    return out


def service_answers(sighting: Sighting) -> dict[str, tuple[str, float] | None]:
    """The service's top answer per field (label as its head spells it, calibrated probability)."""
    out: dict[str, tuple[str, float] | None] = {}
    for field, heads in FIELD_HEADS.items():
        top = next((sighting.labels[h][0] for h in heads if sighting.labels.get(h)), None)
        out[field] = None if top is None else (str(top["label"]), float(top["prob"]))
    return out


def check_verdict(kind: str, verdict: str | None, wrong_fields: Sequence[str]) -> None:
    if verdict is None:
        if wrong_fields:
            raise LabelError("wrong_fields need the verdict wrong_vehicle")
        return
    if kind != "alert":
        raise LabelError("a verdict (right/wrong vehicle) is for alerts; this sighting is a track")
    if verdict not in VERDICTS:
        raise LabelError(f"unknown verdict {verdict!r}: right_vehicle or wrong_vehicle")
    unknown = [f for f in wrong_fields if f not in FIELD_HEADS]
    if unknown:
        raise LabelError(f"unknown field {unknown[0]!r} in wrong_fields: the fields are {', '.join(FIELDS)}")
    if verdict == "wrong_vehicle" and not wrong_fields:
        raise LabelError("wrong_vehicle: name the field(s) that were wrong")
    if verdict == "right_vehicle" and wrong_fields:
        raise LabelError("right_vehicle takes no wrong_fields")
