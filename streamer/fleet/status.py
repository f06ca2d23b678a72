"""What each owned camera is doing, as its worker reports it to Redis once per reload cycle (for `cameras list`).

``<prefix>:status:<camera>`` holds a :class:`CameraStatus` as JSON and expires three lease lifetimes after its
last write, so a dead worker's reports disappear by themselves.
"""

from __future__ import annotations

from typing import Any, cast

import redis
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class CameraStatus(BaseModel):
    """One camera as its owner last reported it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera_id: str = Field(description="The camera.")
    worker_id: str = Field(description="The worker reading it.")
    token: int = Field(ge=0, description="The fencing token of the worker's lease.")
    state: str = Field(description="Reader state: connecting, streaming, reconnecting, stopped.")
    fps: float = Field(ge=0, description="Frames decoded per second over the last reload cycle.")
    last_frame_at: float | None = Field(default=None, description="Unix time of the last decoded frame.")
    claimed_at: float | None = Field(default=None, description="Unix time the worker claimed the camera's lease.")
    reason: str = Field(default="", description="Why the reader is in its state (credentials redacted).")
    updated_at: float = Field(description="Unix time of this report.")


def status_key(prefix: str, camera_id: str) -> str:
    return f"{prefix}:status:{camera_id}"


def write_statuses(client: redis.Redis, prefix: str, statuses: list[CameraStatus], ttl_ms: int) -> None:
    """Writes the reports of one worker's cameras in one round trip."""
    if not statuses:
        return
    with client.pipeline(transaction=False) as pipe:
        for status in statuses:
            pipe.set(status_key(prefix, status.camera_id), status.model_dump_json(), px=ttl_ms)
        pipe.execute()


def read_statuses(client: redis.Redis, prefix: str, camera_ids: list[str]) -> dict[str, CameraStatus]:
    """The last report of each camera that has one (malformed ones are left out)."""
    if not camera_ids:
        return {}
    values = cast(list[Any], client.mget([status_key(prefix, c) for c in camera_ids]))
    out: dict[str, CameraStatus] = {}
    for camera_id, raw in zip(camera_ids, values, strict=True):
        if raw is None:
            continue
        try:
            out[camera_id] = CameraStatus.model_validate_json(raw)
        except ValidationError:
            continue
    return out
