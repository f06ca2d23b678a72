"""The adapted heads in service: per camera, the version its ``CURRENT`` pointer names, picked up live.

``vehiclewatch adapt`` (or the page's Adapt button) publishes a camera's new version into the adaptation store and
moves ``<root>/<camera>/CURRENT`` to it (``classifiers.adaptation.store``); a rollback moves it back. The service
looks at the pointer at most every ``reload_s`` per camera (a ``stat``, on the classify path: no thread to keep), so
a new version decides that camera's next crops within seconds, and no other camera is touched.

A file that cannot be loaded (corrupt, written for other labels, an unknown format) never takes the camera down:
the version loaded before stays in use, the failure is logged once per file and counted, and the camera's state
says so (``state``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

CURRENT_FILE = "CURRENT"
BASE_VERSION = "base"
"""What ``decided_by`` says for a head no adaptation changes: the shipped model decided."""


class AdaptedHeads(Protocol):
    """One camera's adapted heads, loaded from a version file (``classifiers.adaptation.file.CameraAdaptation``)."""

    @property
    def camera_id(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def heads(self) -> frozenset[str]: ...

    def apply(
        self, head: str, labels: tuple[str, ...], probs: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.bool_]]: ...


Loader = Callable[[Path], AdaptedHeads]


@dataclass(frozen=True, slots=True)
class CameraAdaptationState:
    """What a camera runs on, for the API, the metrics and the log.

    Attributes:
        camera_id: the camera.
        version: the version in use ("base": none).
        pointer: the file ``CURRENT`` names (None: no pointer), which may differ from ``version`` when it failed.
        error: why the pointed-to file is not in use (None: it is).
    """

    camera_id: str
    version: str
    pointer: str | None
    error: str | None


@dataclass
class _Camera:
    checked_at: float = float("-inf")
    stamp: tuple[int, int, str] | None = None
    loaded: AdaptedHeads | None = None
    pointer: str | None = None
    error: str | None = None
    bad_heads: set[str] = field(default_factory=set)


class LiveAdaptations:
    """Each camera's current adapted heads, reloaded when its ``CURRENT`` pointer changes.

    Args:
        root: the adaptation store's folder (``<root>/<camera>/CURRENT`` and the version files).
        loader: opens a version file (``classifiers.adaptation.file.load_adaptation``); any error it raises keeps
            the previous version in use.
        reload_s: how often, at most, a camera's pointer is looked at.
        on_error: called with the camera id each time a file fails to load (for a metric).
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        root: Path,
        loader: Loader,
        *,
        reload_s: float = 2.0,
        on_error: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = root
        self.loader = loader
        self.reload_s = reload_s
        self.on_error = on_error
        self.clock = clock
        self._cameras: dict[str, _Camera] = {}

    def for_camera(self, camera_id: str) -> AdaptedHeads | None:
        """The camera's adapted heads (None: the base models decide), after looking at its pointer if due."""
        camera = self._cameras.setdefault(camera_id, _Camera())
        now = self.clock()
        if now - camera.checked_at >= self.reload_s:
            camera.checked_at = now
            self._refresh(camera_id, camera)
        return camera.loaded

    def decided_by(self, camera_id: str, heads: Sequence[str]) -> dict[str, str]:
        """Head → the version deciding it on this camera (``camera/vNNNN``), or "base"."""
        adapted = self.for_camera(camera_id)
        camera = self._cameras[camera_id]
        return {
            head: (
                f"{camera_id}/{adapted.version}"
                if adapted is not None and head in adapted.heads and head not in camera.bad_heads
                else BASE_VERSION
            )
            for head in heads
        }

    def states(self) -> list[CameraAdaptationState]:
        """Every camera seen so far, with the version it runs on."""
        return [
            CameraAdaptationState(
                camera_id=camera_id,
                version=camera.loaded.version if camera.loaded is not None else BASE_VERSION,
                pointer=camera.pointer,
                error=camera.error,
            )
            for camera_id, camera in sorted(self._cameras.items())
        ]

    def apply(
        self, camera_id: str, head: str, labels: tuple[str, ...], probs: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.bool_], str] | None:
        """The camera's adapted probabilities for ``head`` on rows ``probs`` (n, labels), the abstention mask and
        the version; None where no adaptation covers the head (or it no longer fits the model: logged once)."""
        adapted = self.for_camera(camera_id)
        camera = self._cameras[camera_id]
        if adapted is None or head not in adapted.heads or head in camera.bad_heads:
            return None
        try:
            out, abstain = adapted.apply(head, labels, probs)
        except Exception as exc:  # a model swapped under the file: that head falls back to the base model
            camera.bad_heads.add(head)
            log.error(
                "camera %s: adaptation %s no longer fits head %r (%s); the base model decides it",
                camera_id,
                adapted.version,
                head,
                _one_line(exc),
            )
            if self.on_error is not None:
                self.on_error(camera_id)
            return None
        return out, abstain, f"{camera_id}/{adapted.version}"

    def _refresh(self, camera_id: str, camera: _Camera) -> None:
        pointer = self.root / camera_id / CURRENT_FILE
        try:
            info = pointer.stat()
            name = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            if camera.loaded is not None:
                log.info("camera %s: adaptation %s withdrawn; the base models decide", camera_id, camera.loaded.version)
            camera.stamp, camera.loaded, camera.pointer, camera.error = None, None, None, None
            camera.bad_heads.clear()
            return
        except OSError as exc:
            self._failed(camera_id, camera, f"cannot read {pointer}: {_one_line(exc)}")
            return
        stamp = (info.st_mtime_ns, info.st_size, name)
        if stamp == camera.stamp:
            return
        camera.stamp, camera.pointer = stamp, name
        if not name or "/" in name or "\\" in name or name.startswith("."):
            self._failed(camera_id, camera, f"{pointer} names {name!r}, not a version file of this camera")
            return
        try:
            loaded = self.loader(self.root / camera_id / name)
            if loaded.camera_id != camera_id:
                raise ValueError(f"it was fitted for camera {loaded.camera_id!r}")
        except Exception as exc:  # any unreadable file: the previous version stays, the camera keeps running
            self._failed(camera_id, camera, f"{name}: {_one_line(exc)}")
            return
        previous = camera.loaded.version if camera.loaded is not None else BASE_VERSION
        camera.loaded, camera.error = loaded, None
        camera.bad_heads.clear()
        log.info(
            "camera %s: adaptation %s in use (was %s) for %s",
            camera_id,
            loaded.version,
            previous,
            ", ".join(sorted(loaded.heads)),
        )

    def _failed(self, camera_id: str, camera: _Camera, why: str) -> None:
        kept = camera.loaded.version if camera.loaded is not None else BASE_VERSION
        camera.error = why
        log.error("camera %s: adaptation not loaded (%s); keeping %s", camera_id, why, kept)
        if self.on_error is not None:
            self.on_error(camera_id)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
