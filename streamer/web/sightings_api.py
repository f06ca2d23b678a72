"""``GET /v1/sightings`` (search), ``/v1/sightings/{id}``, ``/v1/sightings/{id}/similar`` ("where else was this
vehicle seen") and ``/v1/sightings/{id}/snapshot`` (the JPEG)."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at run time.
from datetime import datetime
from pathlib import Path
from typing import Annotated

import anyio
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse
from pydantic import ValidationError

from streamer.history.store import Sighting, SightingsQuery, SightingsStore


def sightings_router(store: SightingsStore) -> APIRouter:
    router = APIRouter(prefix="/v1/sightings", tags=["sightings"])

    @router.get("", summary="Search the sightings", responses={400: {"description": "A bad filter."}})
    async def search(
        camera: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        time_of_day: Annotated[str | None, Query(description="HH:MM-HH:MM, UTC; may wrap midnight")] = None,
        color: Annotated[str | None, Query(description="Colour; near colours count unless exact_color")] = None,
        exact_color: bool = False,
        make: str | None = None,
        model: Annotated[str | None, Query(description="Part of the make+model label; * and ? wildcards")] = None,
        body_type: str | None = None,
        plate: Annotated[str | None, Query(description="Plate text: * any run, ? one character")] = None,
        min_confidence: Annotated[float, Query(ge=0, le=1)] = 0.0,
        kind: Annotated[str | None, Query(pattern="^(track|alert)$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[Sighting]:
        try:
            query = SightingsQuery(
                camera=camera,
                since=since,
                until=until,
                time_of_day=time_of_day,
                color=color,
                exact_color=exact_color,
                make=make,
                model=model,
                body_type=body_type,
                plate=plate,
                min_confidence=min_confidence,
                kind=kind,
                limit=limit,
            )
            return await anyio.to_thread.run_sync(store.search, query)
        except (ValueError, ValidationError) as exc:
            raise HTTPException(400, str(exc).splitlines()[0]) from None

    @router.get("/{sighting_id}", summary="One sighting", responses={404: {"description": "No such sighting."}})
    async def one(sighting_id: str) -> Sighting:
        found = await anyio.to_thread.run_sync(store.get, sighting_id)
        if found is None:
            raise HTTPException(404, f"no sighting {sighting_id!r}")
        return found

    @router.get(
        "/{sighting_id}/similar",
        summary="Where else was this vehicle seen",
        responses={404: {"description": "No such sighting."}},
    )
    async def similar(sighting_id: str, limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[Sighting]:
        try:
            return await anyio.to_thread.run_sync(store.similar, sighting_id, limit)
        except KeyError:
            raise HTTPException(404, f"no sighting {sighting_id!r}") from None

    @router.get(
        "/{sighting_id}/snapshot",
        summary="The sighting's snapshot (JPEG)",
        response_class=FileResponse,
        responses={404: {"description": "No such sighting, or its snapshot expired or was never kept."}},
    )
    async def snapshot(sighting_id: str) -> FileResponse:
        path = await anyio.to_thread.run_sync(store.snapshot_path, sighting_id)
        if path is None or not Path(path).is_file():
            raise HTTPException(404, f"no snapshot for {sighting_id!r}")
        return FileResponse(path, media_type="image/jpeg")

    return router
