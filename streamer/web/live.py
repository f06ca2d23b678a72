"""The live page's data: cameras, MJPEG previews, the alert feed over server-sent events, alert snapshots, and
watchlist entries from a pasted alert text (parse, then save to the Redis-managed entries the service reloads).

Every route here needs a token (header, or the page's cookie: see `streamer.web.app`).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at run time.
import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import redis
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from streamer.web.preview import PreviewHub
from watchlists.alerts import Alert
from watchlists.entry_errors import WatchlistError
from watchlists.entry_model import Priority
from watchlists.parser import parse_description
from watchlists.publisher import STREAM_FIELD_ALERT
from watchlists.settings import AlertSettings, WatchlistSettings
from watchlists.store import EntryStore

log = logging.getLogger(__name__)

ALERT_ID = re.compile(r"^[0-9a-f-]{36}$")
BACKLOG = 20
"""Alerts a new feed starts with (the latest ones), before the live ones."""
PREVIEW_FPS = 4.0


class CameraStatus(BaseModel):
    id: str
    state: str = Field(description="connecting, streaming, reconnecting or stopped.")
    fps: float = Field(description="Frames decoded per second, over the last few seconds.")
    detected_fps: float = Field(description="Frames through the detector per second.")
    owner: str | None = Field(
        default=None, description="The worker reading the camera: a fleet worker's id, else the service's host name."
    )
    watchers: int = Field(description="Live previews open on the camera.")


class PasteText(BaseModel):
    text: str = Field(
        min_length=1, max_length=2000, description="An alert's description, e.g. 'silver 2014 Honda CR-V'."
    )


class SaveEntry(PasteText):
    id: str | None = Field(default=None, description="Entry id (default: one made from the fields).")
    priority: Priority = Field(default=Priority.NORMAL)


@dataclass
class LiveContext:
    """What the live routes read from the running service."""

    client: redis.Redis
    alerts: AlertSettings
    watchlist: WatchlistSettings
    cameras: Callable[[], list[CameraStatus]]
    preview: PreviewHub | None


def _alert_event(fields: dict[bytes, bytes]) -> str | None:
    raw = fields.get(STREAM_FIELD_ALERT.encode())
    if raw is None:
        return None
    try:
        alert = Alert.from_json(raw)
    except ValueError:
        return None
    data = alert.model_dump(mode="json")
    data["snapshot_url"] = f"/v1/alerts/{alert.alert_id}/snapshot" if alert.snapshot_key else None
    return f"id: {alert.alert_id}\nevent: alert\ndata: {json.dumps(data)}\n\n"


def _read_after(client: redis.Redis, stream: str, last: bytes) -> Any:
    return client.xread({stream: last}, count=50, block=1000)


def live_router(live: LiveContext) -> APIRouter:
    router = APIRouter(tags=["live"])
    client = live.client

    @router.get("/v1/cameras", summary="Cameras with their state and rates")
    async def cameras() -> list[CameraStatus]:
        return live.cameras()

    @router.get(
        "/v1/cameras/{camera_id}/preview.mjpg",
        summary="Live annotated preview (MJPEG, a few frames/s; frames are drawn only while someone watches)",
        response_class=StreamingResponse,
        responses={404: {"description": "No such camera, or previews are off."}},
    )
    async def preview(camera_id: str, request: Request) -> StreamingResponse:
        hub = live.preview
        if hub is None or camera_id not in {c.id for c in live.cameras()}:
            raise HTTPException(404, f"no camera {camera_id!r}")

        async def parts() -> AsyncIterator[bytes]:
            with hub.watching(camera_id):
                seq = 0
                while not await request.is_disconnected():
                    got = await anyio.to_thread.run_sync(hub.next_jpeg, camera_id, seq, 1.0)
                    if got is None:
                        continue
                    seq, jpeg = got
                    yield (
                        b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                        + jpeg
                        + b"\r\n"
                    )
                    await asyncio.sleep(1 / PREVIEW_FPS)

        return StreamingResponse(parts(), media_type="multipart/x-mixed-replace; boundary=frame")

    @router.get(
        "/v1/alerts/events",
        summary="The alert feed (server-sent events): the latest alerts, then each new one",
        response_class=StreamingResponse,
    )
    async def events(request: Request) -> StreamingResponse:
        stream = live.alerts.stream

        async def feed() -> AsyncIterator[str]:
            backlog: Any = await anyio.to_thread.run_sync(lambda: client.xrevrange(stream, "+", "-", count=BACKLOG))
            last = backlog[0][0] if backlog else b"0-0"
            for _, fields in reversed(backlog):
                if (event := _alert_event(fields)) is not None:
                    yield event
            while not await request.is_disconnected():
                try:
                    answer: Any = await anyio.to_thread.run_sync(_read_after, client, stream, last)
                except redis.RedisError as exc:
                    log.warning("alert feed: reading %s failed (%s); retrying", stream, exc)
                    yield ": redis unavailable\n\n"
                    await asyncio.sleep(1.0)
                    continue
                if not answer:
                    yield ": keep-alive\n\n"
                    continue
                entries = answer[0][1] if isinstance(answer, list) else next(iter(answer.values()))[0]
                for message_id, fields in entries:
                    last = message_id
                    if (event := _alert_event(fields)) is not None:
                        yield event

        return StreamingResponse(feed(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    @router.get(
        "/v1/alerts/{alert_id}/snapshot",
        summary="An alert's snapshot (JPEG, while Redis keeps it)",
        response_class=Response,
        responses={404: {"description": "Unknown alert, or its snapshot expired (alerts.snapshot_ttl_s)."}},
    )
    async def alert_snapshot(alert_id: str) -> Response:
        if not ALERT_ID.match(alert_id):
            raise HTTPException(404, "not an alert id")
        data = await anyio.to_thread.run_sync(client.get, live.alerts.snapshot_key_prefix + alert_id)
        if not isinstance(data, bytes):
            raise HTTPException(404, f"no snapshot for alert {alert_id} (expired?)")
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    @router.post("/v1/watchlist/parse", summary="Parse an alert text into watchlist entry fields")
    async def parse(body: PasteText) -> dict[str, Any]:
        parsed = parse_description(body.text)
        return {
            "fields": dict(parsed.fields),
            "notes": list(parsed.notes),
            "suggested_id": parsed.suggested_id(),
            "unplaced": [t.text for t in parsed.unplaced],
        }

    @router.post(
        "/v1/watchlist/entries",
        status_code=201,
        summary="Save an entry from an alert text (the running service matches it within a second)",
        responses={400: {"description": "Nothing to match on, or an invalid field."}},
    )
    async def save(body: SaveEntry) -> dict[str, Any]:
        parsed = parse_description(body.text)
        try:
            entry = parsed.to_entry(body.id, priority=body.priority)
        except WatchlistError as exc:
            raise HTTPException(400, str(exc).splitlines()[0]) from None
        store = EntryStore(client, live.watchlist.redis_key, live.watchlist.redis_channel)
        await anyio.to_thread.run_sync(store.put, entry)
        log.info("watchlist entry %s saved from the web page", entry.id)
        saved: dict[str, Any] = entry.model_dump(mode="json", exclude_none=True)
        return saved

    return router
