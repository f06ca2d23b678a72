"""The camera registry: cameras as data in Redis, revisioned, with a change channel (like the watchlist entries).

Storage, revision and notification are :class:`redisbus.store.DocumentStore`'s (keys from
:class:`~streamer.fleet.settings.FleetSettings`):

* ``<prefix>:cameras`` — a hash: camera id → the camera as JSON (:class:`RegisteredCamera`);
* ``<prefix>:cameras:revision`` — incremented with every change;
* ``<prefix>:cameras:changes`` — each change publishes ``{"op": "put" | "remove", "ids": [...], "revision": n}``.

The source URL is stored with its credentials (the workers need them to connect): protect the Redis server as you
protect the cameras (ACL, TLS). Everything this module *shows* (errors, listings, ``repr``) has them redacted.
Stored values are untrusted: one that is not a valid camera is reported by :meth:`CameraRegistry.load` and never
unloads the others.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from pydantic import Field, ValidationError

from redisbus.store import ConcurrentChangeError, Document, DocumentExistsError, DocumentStore
from streamer.fleet.settings import FleetSettings
from streamer.sources.settings import CameraSettings

_REGISTRY_ONLY = ("enabled", "labels")


class RegistryError(ValueError):
    """A registry request that cannot be done (the message is one line, credentials redacted)."""


class RegisteredCamera(CameraSettings):
    """A camera as the registry keeps it: a camera's settings plus whether it runs and the operator's labels."""

    enabled: bool = Field(default=True, description="Whether a worker reads it (false: kept, not read).")
    labels: dict[str, str] = Field(
        default_factory=dict, description="Operator labels such as location=north-gate (shown by `cameras list`)."
    )

    def settings(self) -> CameraSettings:
        """The camera's reader settings (without the registry's own fields)."""
        data = self.model_dump(exclude=set(_REGISTRY_ONLY))
        data["source"] = self.source  # the secret object itself, not its redacted form
        return CameraSettings.model_validate(data)

    def to_document(self) -> str:
        """The stored JSON: the source with its credentials (the only place they are written out)."""
        data: dict[str, Any] = self.model_dump(mode="json")
        data["source"] = self.source.get_secret_value()
        return json.dumps(data, sort_keys=True)


@dataclass(frozen=True, slots=True)
class RegistryProblem:
    """A stored value that is not a valid camera, and why (one line, never the stored value itself)."""

    camera_id: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class RegistrySnapshot:
    """The registry at one revision: the valid cameras (by id, sorted) and the stored values that are not."""

    cameras: dict[str, RegisteredCamera]
    problems: tuple[RegistryProblem, ...]
    revision: int


def validation_message(exc: ValidationError) -> str:
    """A camera's validation errors on one line (pydantic hides the inputs: a source may hold a password)."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "camera"
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def parse_camera(data: Mapping[str, Any], where: str) -> RegisteredCamera:
    """Validates one camera given as a mapping (a CLI request, an imported file's item).

    Raises:
        RegistryError: one line naming ``where`` and every bad key.
    """
    try:
        return RegisteredCamera.model_validate(dict(data))
    except ValidationError as exc:
        raise RegistryError(f"{where}: {validation_message(exc)}") from None
    except ValueError as exc:  # a SourceConfigError raised by a validator, outside pydantic's wrapping
        raise RegistryError(f"{where}: {exc}") from None


class CameraRegistry:
    """The registered cameras in Redis.

    Example:
        >>> registry = CameraRegistry(redis.Redis(), FleetSettings())  # doctest: +SKIP
        >>> registry.put(RegisteredCamera(id="gate", source="rtsp://cam.example/1"))  # doctest: +SKIP
        1
    """

    def __init__(self, client: redis.Redis, settings: FleetSettings) -> None:
        self.documents = DocumentStore(client, settings.registry_key, settings.registry_channel)

    @property
    def client(self) -> redis.Redis:
        return self.documents.client

    @property
    def channel(self) -> str:
        return self.documents.channel

    @property
    def source(self) -> str:
        return self.documents.source

    def revision(self) -> int:
        return self.documents.revision()

    def put(self, camera: RegisteredCamera, *, replace: bool = True) -> int:
        """Stores one camera; returns the new revision."""
        return self.put_many([camera], replace=replace)

    def put_many(self, cameras: Sequence[RegisteredCamera], *, replace: bool = True) -> int:
        """Stores cameras in one transaction with one notification; returns the new revision.

        Raises:
            RegistryError: ``replace`` is False and one of the ids is registered (nothing is written).
        """
        try:
            return self.documents.put_many({c.id: c.to_document() for c in cameras}, replace=replace)
        except DocumentExistsError as exc:
            raise RegistryError(
                f"camera {exc.document_id!r} is already registered in {self.source} (use `cameras update`)"
            ) from None
        except ConcurrentChangeError:
            raise RegistryError(f"{self.source}: the registry kept changing; try again") from None

    def remove(self, ids: Iterable[str]) -> list[str]:
        """Removes cameras by id; returns the ids that were registered."""
        try:
            return self.documents.remove(ids)
        except ConcurrentChangeError:
            raise RegistryError(f"{self.source}: the registry kept changing; try again") from None

    def get(self, camera_id: str) -> RegisteredCamera | None:
        """The registered camera, or None.

        Raises:
            RegistryError: the stored value is not a valid camera.
        """
        raw = self.documents.get(camera_id)
        if raw is None:
            return None
        camera, problem = self._parse(camera_id, raw)
        if camera is None:
            assert problem is not None
            raise RegistryError(problem.message)
        return camera

    def load(self) -> RegistrySnapshot:
        """Every registered camera, with the revision read in the same transaction."""
        snapshot = self.documents.load()
        cameras: dict[str, RegisteredCamera] = {}
        problems: list[RegistryProblem] = []
        for camera_id, raw in snapshot.documents.items():
            camera, problem = self._parse(camera_id, raw)
            if camera is not None:
                cameras[camera_id] = camera
            if problem is not None:
                problems.append(problem)
        return RegistrySnapshot(cameras, tuple(problems), snapshot.revision)

    def _parse(self, camera_id: str, raw: Document) -> tuple[RegisteredCamera | None, RegistryProblem | None]:
        name = f"{self.source}: camera {camera_id!r}"
        try:
            camera = RegisteredCamera.model_validate_json(raw)
        except ValidationError as exc:
            return None, RegistryProblem(camera_id, f"{name}: {validation_message(exc)}")
        except ValueError as exc:
            return None, RegistryProblem(camera_id, f"{name}: {exc}")
        if camera.id != camera_id:
            return None, RegistryProblem(camera_id, f"{name}: is stored under another id ({camera.id!r})")
        return camera, None
