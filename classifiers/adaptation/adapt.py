"""``adapt_camera``: from a camera's labelled views to a measured, gated, versioned adaptation of its heads."""

from __future__ import annotations

import difflib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from classifiers.adaptation.dataset import LabelledView
from classifiers.adaptation.errors import AdaptationError, AdaptationFileError, NotEnoughLabelsError
from classifiers.adaptation.fields import CANT_TELL, FIELD_HEADS
from classifiers.adaptation.file import CameraAdaptation, adaptation_bytes, load_adaptation
from classifiers.adaptation.fit import FieldData
from classifiers.adaptation.metric import (
    CANT,
    NO_LABEL,
    Figures,
    VehicleViews,
    figures,
    outcomes,
    paired_standard_error,
    vehicle_utilities,
)
from classifiers.adaptation.report import AdaptationReport, FieldReport
from classifiers.adaptation.select import select_method
from classifiers.adaptation.store import AdaptationStore
from classifiers.adaptation.transform import F64, HeadAdaptation
from classifiers.crops import ImageArray
from classifiers.types import HeadScores

log = logging.getLogger(__name__)

Classify = Callable[[Sequence[ImageArray]], list[dict[str, HeadScores]]]
"""The members' RAW head scores per crop (before the bank's calibration and abstention)."""
ClassifyBoxes = Callable[[Sequence[ImageArray], Sequence[NDArray[np.float32]]], list[dict[str, HeadScores]]]
"""The same for crops with the vehicle's box in each: every member gets the box cut with its own margin."""
ReadImage = Callable[[Any], ImageArray]

MIN_VEHICLES = 5
"""Labelled vehicles a camera needs before adapting: fewer leave nothing to measure on."""
MIN_FIELD_VEHICLES = 3
"""Vehicles with a definite label a field needs (fewer: the field is left as it is, and the report says so)."""


@dataclass(frozen=True)
class ScoredViews:
    """Labelled views with the model's raw probabilities per head."""

    views: list[LabelledView]
    probs: dict[str, F64]
    labels: dict[str, tuple[str, ...]]


def _read(path: Any) -> ImageArray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise AdaptationError(f"cannot read crop {path}")
    return np.asarray(image, np.uint8)


def check_labels(
    views: Sequence[LabelledView], heads: Mapping[str, tuple[str, ...]], source: str | None = None
) -> list[LabelledView]:
    """The views with each label spelt as its head spells it (case-insensitively matched).

    ``source``: the labels.csv the views were read from, in order (one row each), so an error names the line.

    Raises:
        AdaptationError: a label is not one of its head's labels (naming the value, the view and close labels), or
            the views of one track disagree on a field.
    """
    fixed: list[LabelledView] = []
    for row, view in enumerate(views, start=2):
        labels = dict(view.labels)
        for name, value in view.labels.items():
            head = next((h for h in FIELD_HEADS.get(name, ()) if h in heads), None)
            if value == CANT_TELL or head is None:
                continue
            known = heads[head]
            if value in known:
                continue
            folded = [label for label in known if label.casefold() == value.casefold()]
            if len(folded) == 1:
                labels[name] = folded[0]
                continue
            near = difflib.get_close_matches(value, known, n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
            where = f"{source} line {row}: " if source else ""
            raise AdaptationError(
                f"{where}{view.path.name} (camera {view.camera_id}, track {view.track}): {name} {value!r} is not "
                f"a label of the {head!r} head{hint}"
            )
        fixed.append(replace(view, labels=labels))
    _check_agreement(fixed)
    return fixed


def _check_agreement(views: Sequence[LabelledView]) -> None:
    seen: dict[tuple[str, str, str], str] = {}
    for view in views:
        for name, value in view.labels.items():
            key = (view.camera_id, view.track, name)
            if seen.setdefault(key, value) != value:
                raise AdaptationError(
                    f"camera {view.camera_id} track {view.track}: its views disagree on {name} "
                    f"({seen[key]!r} and {value!r}); fix the labels first"
                )


def labelled_vehicles(views: Sequence[LabelledView], camera_id: str) -> int:
    """The camera's vehicles with at least one definite label."""
    return len({v.track for v in views if v.camera_id == camera_id and any(x != CANT_TELL for x in v.labels.values())})


def score_views(
    views: Sequence[LabelledView],
    classify: Classify,
    *,
    batch_size: int = 32,
    read: ReadImage = _read,
    progress: Callable[[int], None] | None = None,
    classify_boxes: ClassifyBoxes | None = None,
) -> ScoredViews:
    """Every view's raw head probabilities; the first crop's heads are checked against the labels before the rest
    are classified (a misspelt label fails fast). Batches whose views all have a box go to ``classify_boxes``
    when it is given."""
    probs: dict[str, list[F64]] = {}
    labels: dict[str, tuple[str, ...]] = {}
    checked: list[LabelledView] = list(views)
    for start in range(0, len(views), batch_size):
        chunk = views[start : start + batch_size]
        images = [read(v.path) for v in chunk]
        boxes = [v.box for v in chunk]
        if classify_boxes is not None and all(b is not None for b in boxes):
            results = classify_boxes(images, [np.asarray(b, np.float32) for b in boxes])
        else:
            results = classify(images)
        if start == 0 and results:
            labels = {name: scores.labels for name, scores in results[0].items()}
            checked = check_labels(views, labels)
        for result in results:
            for name in labels:
                probs.setdefault(name, []).append(np.asarray(result[name].probs, np.float64))
        if progress is not None:
            progress(len(chunk))
    return ScoredViews(checked, {h: np.stack(rows) for h, rows in probs.items()}, labels)


def field_data(scored: ScoredViews, rows: Sequence[int], field: str, head: str) -> FieldData:
    """The views ``rows`` of ``scored`` as one field's data (vehicles = tracks of their cameras)."""
    keys: dict[tuple[str, str], int] = {}
    view_vehicle = np.array([keys.setdefault(scored.views[r].vehicle, len(keys)) for r in rows], np.int64)
    truth = np.full(len(keys), NO_LABEL, np.int64)
    index = {label: i for i, label in enumerate(scored.labels[head])}
    for r, v in zip(rows, view_vehicle, strict=True):
        value = scored.views[r].labels.get(field)
        if value is not None:
            truth[v] = CANT if value == CANT_TELL else index[value]
    return FieldData(head, scored.labels[head], scored.probs[head][list(rows)], VehicleViews(view_vehicle, truth))


def judge(adaptation: HeadAdaptation | None, data: FieldData) -> tuple[Figures, NDArray[np.float64]]:
    """The figures and per-vehicle utilities of ``adaptation`` (None: the base head, never abstaining) on ``data``,
    as it is (nothing fitted)."""
    probs = data.probs if adaptation is None else adaptation.adapt(data.probs)
    threshold = 0.0 if adaptation is None else adaptation.threshold
    found = outcomes(probs, data.views)
    return figures(found, data.views, threshold), vehicle_utilities(found, threshold)


def _current(store: AdaptationStore, camera_id: str) -> tuple[CameraAdaptation | None, str]:
    """The camera's deployed adaptation (None: base) and, if its file cannot be used, why."""
    try:
        path = store.current(camera_id)
        return (load_adaptation(path), "") if path is not None else (None, "")
    except AdaptationFileError as exc:
        log.warning("camera %s: the current adaptation cannot be used: %s", camera_id, exc)
        return None, f"the current adaptation cannot be used ({exc}); compared with the base model"


def _deployed_head(current: CameraAdaptation | None, head: str, labels: tuple[str, ...]) -> HeadAdaptation | None:
    if current is None or head not in current.adapted:
        return None
    found = current.adapted[head]
    return found if found.labels == labels else None


def adapt_camera(
    views: Sequence[LabelledView],
    classify: Classify,
    camera_id: str,
    store: AdaptationStore,
    *,
    heads_fields: Mapping[str, tuple[str, ...]] = FIELD_HEADS,
    created_by: str = "cli",
    min_vehicles: int = MIN_VEHICLES,
    min_field_vehicles: int = MIN_FIELD_VEHICLES,
    base_models: Mapping[str, str] | None = None,
    batch_size: int = 32,
    read: ReadImage = _read,
    progress: Callable[[int], None] | None = None,
    force: bool = False,
    classify_boxes: ClassifyBoxes | None = None,
) -> AdaptationReport:
    """Adapts ``camera_id``'s heads to its labelled views and publishes a new version only if it is better.

    Args:
        views: labelled views of any cameras (the other cameras' are reported, never used to fit).
        classify: the members' raw head scores per crop (``ClassifierBank.raw_scores``).
        camera_id: the camera to adapt.
        store: where versions live; a new one is published (and made current) only if it beats the current one.
        heads_fields: label field → candidate head names (the first the classifier has wins).
        created_by: who asked (recorded in the provenance).
        min_vehicles: labelled vehicles the camera needs (fewer: ``NotEnoughLabelsError``).
        min_field_vehicles: definite-label vehicles a field needs to be adapted.
        base_models: the models' file names → sha256, for the provenance.
        batch_size: crops per ``classify`` call.
        read: reads a crop file as a BGR image.
        progress: called with the number of crops classified after each batch.
        force: publish every field's chosen method even where the gate says no (to measure what the gate
            protects from; never for a camera in service).
        classify_boxes: for views with a box (``LabelledView.box``): the raw scores with each member's own cut of
            the box (``ClassifierBank.raw_scores``), so the fit sees what the service will.

    Raises:
        NotEnoughLabelsError: fewer than ``min_vehicles`` labelled vehicles on the camera (says how many more).
        AdaptationError: a label that its head does not know, or views of one track that disagree.
    """
    began = time.perf_counter()
    have = labelled_vehicles(views, camera_id)
    if have < min_vehicles:
        raise NotEnoughLabelsError(camera_id, have, min_vehicles)
    used = [v for v in views if v.labels]
    scored = score_views(
        used, classify, batch_size=batch_size, read=read, progress=progress, classify_boxes=classify_boxes
    )
    current, current_problem = _current(store, camera_id)
    own = [i for i, v in enumerate(scored.views) if v.camera_id == camera_id]
    reports: dict[str, FieldReport] = {}
    new_heads: dict[str, HeadAdaptation] = {}
    for field, candidates in heads_fields.items():
        head = next((h for h in candidates if h in scored.labels), None)
        if head is None:
            reports[field] = FieldReport(field=field, head=None, reason="the classifier has no head for it")
            continue
        data = field_data(scored, own, field, head)
        report, adaptation = _adapt_field(field, data, _deployed_head(current, head, data.labels), min_field_vehicles)
        reports[field] = report
        if adaptation is not None and (report.deployed or force):
            new_heads[head] = adaptation
    carried = {
        head: a for head, a in (current.adapted.items() if current else ()) if head not in new_heads
    }  # heads the new version does not improve keep their deployed adaptation
    version = None
    if new_heads:
        provenance = _provenance(scored, own, reports, new_heads, carried, current, created_by, base_models)
        version = store.publish(camera_id, adaptation_bytes(camera_id, {**carried, **new_heads}, provenance))
        better = [f for f, r in reports.items() if r.deployed]
        reason = f"deployed: better on {', '.join(better)}" if better else "deployed by force: not better"
    else:
        reason = "not deployed: no field beat the current " + (current.version if current else "base model")
    if current_problem:
        reason += f"; {current_problem}"
    return AdaptationReport(
        camera_id=camera_id,
        deployed=version is not None,
        version=version,
        previous=current.version if current else None,
        reason=reason,
        fields=reports,
        vehicles=have,
        labelled_views=len(own),
        seconds=time.perf_counter() - began,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        created_by=created_by,
        other_cameras=_other_cameras(scored, camera_id, store, heads_fields),
    )


def _adapt_field(
    field: str, data: FieldData, deployed: HeadAdaptation | None, min_field_vehicles: int
) -> tuple[FieldReport, HeadAdaptation | None]:
    definite = int((data.views.truth >= 0).sum())
    base = {
        "field": field,
        "head": data.head,
        "vehicles": definite,
        "cant_tell": int((data.views.truth == CANT).sum()),
        "views": len(data.probs),
        "current": deployed_name(deployed),
    }
    if definite < min_field_vehicles:
        need = min_field_vehicles - definite
        return FieldReport(**base, reason=f"not adapted: {definite} labelled vehicle(s), label {need} more"), None
    before, before_each = judge(deployed, data)
    chosen = select_method(data)
    after = chosen.candidates[chosen.method]
    gain = after.utility - before.utility
    error = paired_standard_error(chosen.utilities[chosen.method], before_each)
    # Deployed only when it wins by more than one standard error of the per-vehicle differences: a one-vehicle win
    # on a dozen labelled vehicles is noise, and the chosen figure is the best of several (optimistic).
    better = gain > error + 1e-9 and gain > 0
    measured = f"utility {after.utility:+.1f} against {before.utility:+.1f}, gain {gain:+.1f} ± {error:.1f}"
    if better:
        reason = f"{chosen.method} is better: {measured}"
    else:
        reason = (
            f"kept {deployed_name(deployed)}: the best candidate ({chosen.method}, leave-one-vehicle-out) does not "
            f"beat it by more than one standard error ({measured})"
        )
    report = FieldReport(
        **base, method=chosen.method, deployed=better, reason=reason, candidates=chosen.candidates, before=before,
        after=after, gain=gain, standard_error=error,
    )  # fmt: skip
    return report, chosen.adaptation


def deployed_name(deployed: HeadAdaptation | None) -> str:
    return "base" if deployed is None else f"deployed {deployed.method}"


def _provenance(
    scored: ScoredViews,
    own: Sequence[int],
    reports: Mapping[str, FieldReport],
    new_heads: Mapping[str, HeadAdaptation],
    carried: Mapping[str, HeadAdaptation],
    current: CameraAdaptation | None,
    created_by: str,
    base_models: Mapping[str, str] | None,
) -> dict[str, Any]:
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "created_by": created_by,
        "labels": sum(len(scored.views[i].labels) for i in own),
        "views": len(own),
        "vehicles": len({scored.views[i].track for i in own}),
        "methods": {h: a.method for h, a in new_heads.items()},
        "thresholds": {h: a.threshold for h, a in new_heads.items()},
        "carried_from": {h: current.version for h in carried} if current else {},
        "base_models": dict(base_models or {}),
        "figures": {
            f: {"before": r.before.model_dump(), "after": r.after.model_dump()}
            for f, r in reports.items()
            if r.deployed and r.before is not None and r.after is not None
        },
    }


def _other_cameras(
    scored: ScoredViews, camera_id: str, store: AdaptationStore, heads_fields: Mapping[str, tuple[str, ...]]
) -> dict[str, dict[str, Figures]]:
    """Each other camera's labelled vehicles judged under its own deployed state (untouched by this run)."""
    out: dict[str, dict[str, Figures]] = {}
    for camera in sorted({v.camera_id for v in scored.views} - {camera_id}):
        rows = [i for i, v in enumerate(scored.views) if v.camera_id == camera]
        current, _ = _current(store, camera)
        per: dict[str, Figures] = {}
        for field, candidates in heads_fields.items():
            head = next((h for h in candidates if h in scored.labels), None)
            if head is None:
                continue
            data = field_data(scored, rows, field, head)
            if (data.views.truth >= 0).any():
                per[field] = judge(_deployed_head(current, head, data.labels), data)[0]
        out[camera] = per
    return out
