"""Review and labels: ``GET /v1/review/tracks`` (recent sightings with the service's answers and their labels),
``GET /v1/review/cameras``, ``GET /v1/review/vocabulary``, ``POST /v1/labels`` (label a sighting), ``POST
/v1/labels/{id}/undo``, ``GET /v1/labels``, ``GET /v1/labels/conflicts``, ``POST /v1/labels/export``; and
``POST /v1/adapt/{camera}`` / ``.../rollback`` through an injected `CameraAdapter` (503 without one).

The labeller is the API token's name (the app's ``caller``). Bad input answers 400 with one line and changes nothing.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at run time.
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from streamer.history.label_export import ExportSummary, export_labels
from streamer.history.label_fields import FIELDS, LabelError, service_answers
from streamer.history.labels import Conflict, Label, LabelsStore, find_conflicts
from streamer.history.store import Sighting, SightingsQuery

log = logging.getLogger(__name__)

VocabularySource = Callable[[], Mapping[str, Sequence[str]]]
"""Field → the labels the loaded heads know (asked at each use: models may be swapped while running)."""


class CameraAdapter(Protocol):
    """What ``POST /v1/adapt/{camera}`` runs (the service injects it): both answer a JSON-able report.

    A refusal the operator can act on (too few labels, nothing to roll back) is raised as a ``ValueError`` (or a
    subclass) whose message says what to do; it answers 400 with that line.
    """

    def adapt(self, camera_id: str, who: str) -> dict[str, Any]: ...

    def rollback(self, camera_id: str, who: str) -> dict[str, Any]: ...


class FieldAnswer(BaseModel):
    label: str = Field(description="As the head spells it.")
    prob: float = Field(description="The calibrated probability the service gave it.")


class ReviewItem(BaseModel):
    """A sighting to review: its view, the service's answers, and the labels its track has."""

    model_config = ConfigDict(extra="forbid")

    sighting_id: str
    kind: Literal["track", "alert"]
    camera_id: str
    track_id: int | None
    track: str = Field(description="The vehicle's key within the camera (labels of the same vehicle share it).")
    first_seen: str
    entry_id: str | None = Field(description="Alerts: the watchlist entry matched.")
    score: float | None
    thumbnail_url: str | None = Field(description="The best view (JPEG), or null when it expired.")
    answers: dict[str, FieldAnswer | None] = Field(description="make, color, body_type: the service's top answer.")
    labels: list[Label] = Field(description="The live labels of this vehicle (any of its sightings).")
    conflicts: list[Conflict]


class LabelRequest(BaseModel):
    """A label for a sighting: a value, 'unknown' (can't tell) or null (not given) per field; for an alert, a
    verdict too."""

    model_config = ConfigDict(extra="forbid")

    sighting_id: str = Field(min_length=1, max_length=64)
    make: str | None = Field(default=None, max_length=64)
    color: str | None = Field(default=None, max_length=32)
    body_type: str | None = Field(default=None, max_length=32)
    verdict: Literal["right_vehicle", "wrong_vehicle"] | None = None
    wrong_fields: list[Literal["make", "color", "body_type"]] = Field(default_factory=list, max_length=3)


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    camera: str | None = Field(default=None, max_length=128, description="One camera's labels; null: all.")
    named: Literal["make", "color", "body_type"] | None = Field(
        default=None,
        description="Only vehicles with a value named for this field (what `train --label-column` takes as it is).",
    )
    name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="The folder's name under the labels' exports folder (default: the UTC time).",
    )


class VocabularyBody(BaseModel):
    make: list[str]
    color: list[str]
    body_type: list[str]


class ErrorBody(BaseModel):
    detail: str


def _errors(codes: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody, "description": text} for code, text in codes.items()}


def _caller(request: Request) -> str:
    """The token's name (the app's ``caller`` dependency, which also refuses a missing or wrong token)."""
    name: str = request.app.state.caller(request)
    return name


Who = Annotated[str, Depends(_caller)]
LabelId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="The label's id.")]  # a database integer


def _refused(exc: ValueError) -> HTTPException:
    return HTTPException(400, str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__)


def review_router(labels: LabelsStore, vocabulary: VocabularySource, exports: Path) -> APIRouter:
    """The review and labels routes.

    Args:
        labels: the labels store (on the history's database).
        vocabulary: the loaded heads' labels per field.
        exports: the folder exports are written under.
    """
    router = APIRouter(tags=["labels"])

    def items(camera: str | None, kind: str, limit: int, unlabelled: bool) -> list[ReviewItem]:
        fetch = min(1000, limit * 5) if unlabelled else limit
        found = labels.history.search(SightingsQuery(camera=camera, kind=kind, limit=fetch))
        keys = {s.id: labels.track_of(s) for s in found}
        live = labels.find(camera, tracks=set(keys.values()))
        by_track: dict[tuple[str, str], list[Label]] = {}
        for label in live:
            by_track.setdefault((label.camera_id, label.track), []).append(label)
        out: list[ReviewItem] = []
        for sighting in found:
            track_labels = by_track.get((sighting.camera_id, keys[sighting.id]), [])
            if unlabelled and track_labels:
                continue
            out.append(_item(sighting, keys[sighting.id], track_labels))
            if len(out) == limit:
                break
        return out

    @router.get("/v1/review/tracks", summary="Recent sightings to review, with the service's answers and labels")
    async def review_tracks(
        camera: str | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        unlabelled: Annotated[bool, Query(description="Only vehicles nobody labelled yet.")] = False,
        kind: Annotated[Literal["track", "alert"], Query(description="track: vehicles; alert: watchlist matches.")] = (
            "track"
        ),
    ) -> list[ReviewItem]:
        return await anyio.to_thread.run_sync(items, camera, kind, limit, unlabelled)

    @router.get("/v1/review/cameras", summary="Cameras with sightings or labels")
    async def review_cameras() -> list[str]:
        return await anyio.to_thread.run_sync(labels.cameras)

    @router.get("/v1/review/vocabulary", summary="The makes, colours and body types the loaded heads know")
    async def review_vocabulary() -> VocabularyBody:
        known = vocabulary()
        return VocabularyBody(**{field: list(known.get(field, ())) for field in FIELDS})

    @router.post(
        "/v1/labels",
        status_code=201,
        summary="Label a sighting (confirm, correct, can't tell; for an alert: right or wrong vehicle)",
        responses=_errors({400: "Unknown sighting or value, no views left, or nothing to label."}),
    )
    async def add_label(body: LabelRequest, who: Who) -> Label:
        fields = {"make": body.make, "color": body.color, "body_type": body.body_type}

        def add() -> Label:
            return labels.label_sighting(
                body.sighting_id,
                fields,
                who,
                vocabulary(),
                verdict=body.verdict,
                wrong_fields=body.wrong_fields,
            )

        try:
            label = await anyio.to_thread.run_sync(add)
        except LabelError as exc:
            raise _refused(exc) from None
        log.info("label %d on %s by %s", label.id, label.camera_id, who)
        return label

    @router.post(
        "/v1/labels/{label_id}/undo",
        summary="Undo a label (kept, marked undone, for audit)",
        responses=_errors({400: "No such label, or already undone."}),
    )
    async def undo_label(label_id: LabelId, who: Who) -> Label:
        try:
            return await anyio.to_thread.run_sync(labels.undo, label_id, who)
        except LabelError as exc:
            raise _refused(exc) from None

    @router.get("/v1/labels", summary="Labels, newest first")
    async def list_labels(
        camera: str | None = None,
        include_undone: bool = False,
        limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    ) -> list[Label]:
        def find() -> list[Label]:
            return labels.find(camera, include_undone=include_undone, limit=limit)

        return await anyio.to_thread.run_sync(find)

    @router.get("/v1/labels/conflicts", summary="Vehicles whose live labels disagree on a field")
    async def label_conflicts(camera: str | None = None) -> list[Conflict]:
        return await anyio.to_thread.run_sync(labels.conflicts, camera)

    @router.post(
        "/v1/labels/export",
        summary="Export the labels as a dataset (labels.csv + crops) into a folder on the server",
        responses=_errors({400: "The folder exists already."}),
    )
    async def export(body: ExportRequest) -> ExportSummary:
        name = body.name or time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        try:
            return await anyio.to_thread.run_sync(export_labels, labels, exports / name, body.camera, body.named)
        except LabelError as exc:
            raise _refused(exc) from None

    return router


def adapt_router(adapter: CameraAdapter | None) -> APIRouter:
    """``POST /v1/adapt/{camera}`` and ``.../rollback``: 503 until the service injects an adapter."""
    router = APIRouter(tags=["adaptation"])
    codes = _errors(
        {
            400: "Refused: too few labels (it says how many more), nothing to roll back.",
            503: "Adaptation not available.",
        }
    )

    async def run(action: str, camera: str, who: str) -> dict[str, Any]:
        if adapter is None:
            raise HTTPException(503, "adaptation not available")
        method = adapter.adapt if action == "adapt" else adapter.rollback
        log.info("%s of camera %s asked by %s", action, camera, who)
        try:
            return await anyio.to_thread.run_sync(method, camera, who)
        except ValueError as exc:
            raise _refused(exc) from None

    @router.post(
        "/v1/adapt/{camera}",
        summary="Adapt this camera's heads to its labels (deployed only if better); answers the report",
        responses=codes,
    )
    async def adapt(camera: str, who: Who) -> dict[str, Any]:
        return await run("adapt", camera, who)

    @router.post(
        "/v1/adapt/{camera}/rollback",
        summary="Go back to this camera's previous adapted version (or the base model)",
        responses=codes,
    )
    async def rollback(camera: str, who: Who) -> dict[str, Any]:
        return await run("rollback", camera, who)

    return router


def _item(sighting: Sighting, track: str, track_labels: list[Label]) -> ReviewItem:
    answers = {
        field: None if top is None else FieldAnswer(label=top[0], prob=top[1])
        for field, top in service_answers(sighting).items()
    }
    return ReviewItem(
        sighting_id=sighting.id,
        kind="alert" if sighting.kind == "alert" else "track",
        camera_id=sighting.camera_id,
        track_id=sighting.track_id,
        track=track,
        first_seen=sighting.first_seen.isoformat(),
        entry_id=sighting.entry_id,
        score=sighting.score,
        thumbnail_url=f"/v1/sightings/{sighting.id}/snapshot" if sighting.has_snapshot else None,
        answers=answers,
        labels=track_labels,
        conflicts=find_conflicts(track_labels),
    )
