"""Where a camera's adapted head files live: numbered versions, a CURRENT pointer, and the history of changes.

Layout: ``<root>/<camera_id>/v0001.npz, v0002.npz, ...``, ``<root>/<camera_id>/CURRENT`` (the current file's
name; absent: the base model) and ``<root>/<camera_id>/history.jsonl`` (one line per publish or rollback). Files
and the pointer are written to a temporary file and moved into place (``os.replace``), so a service polling
CURRENT never reads half a file. Publishing never deletes a version: rollback always has somewhere to go.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from classifiers.adaptation.errors import AdaptationError, AdaptationFileError
from classifiers.adaptation.file import load_adaptation

CURRENT = "CURRENT"
HISTORY = "history.jsonl"
_VERSION = re.compile(r"^v(\d{4,})\.npz$")
_CAMERA_ID = re.compile(r"^[A-Za-z0-9_.\-]+$")  # the sources' own rule for camera ids


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class AdaptationStore:
    """The versions of every camera's adaptation under one root folder.

    Example:
        >>> store = AdaptationStore(tmp_path)  # doctest: +SKIP
        >>> store.publish("gate", adaptation_bytes("gate", heads, provenance))  # doctest: +SKIP
        'v0001'
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, camera_id: str) -> Path:
        if not _CAMERA_ID.match(camera_id) or camera_id in (".", ".."):
            raise AdaptationError(f"invalid camera id {camera_id!r} (letters, digits, '_', '.', '-')")
        return self.root / camera_id

    def cameras(self) -> list[str]:
        """The cameras with at least one version, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and any(self._numbers(p)))

    @staticmethod
    def _numbers(folder: Path) -> list[int]:
        if not folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _VERSION.match(p.name)))

    def versions(self, camera_id: str) -> list[str]:
        """The camera's versions, oldest first (``["v0001", "v0002"]``)."""
        return [f"v{n:04d}" for n in self._numbers(self._folder(camera_id))]

    def current_version(self, camera_id: str) -> str | None:
        """The version CURRENT names, or None (the base model)."""
        path = self.current(camera_id)
        return path.stem if path is not None else None

    def current(self, camera_id: str) -> Path | None:
        """The current file of the camera, or None where it runs the base model.

        Raises:
            AdaptationFileError: CURRENT names a file that is not there or not a version.
        """
        pointer = self._folder(camera_id) / CURRENT
        try:
            name = pointer.read_text().strip()
        except FileNotFoundError:
            return None
        path = pointer.parent / name
        if not _VERSION.match(name) or not path.is_file():
            raise AdaptationFileError(f"{pointer} names {name!r}, which is not a version file there")
        return path

    def publish(self, camera_id: str, adaptation: bytes | Path, *, note: str = "") -> str:
        """Stores ``adaptation`` (a file's bytes or path) as the camera's next version and makes it current.

        Raises:
            AdaptationFileError: the file is not a valid adaptation, or it was made for another camera (nothing
                is stored then).
        """
        folder = self._folder(camera_id)
        data = adaptation.read_bytes() if isinstance(adaptation, Path) else adaptation
        folder.mkdir(parents=True, exist_ok=True)
        # Check it loads before it can become current: a bad file never reaches the service.
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".check.", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            loaded = load_adaptation(Path(tmp))
        finally:
            Path(tmp).unlink(missing_ok=True)
        if loaded.camera_id != camera_id:
            raise AdaptationFileError(
                f"adaptation for camera {loaded.camera_id!r} cannot be published for {camera_id!r}"
            )
        numbers = self._numbers(folder)
        version = f"v{(numbers[-1] + 1 if numbers else 1):04d}"
        _atomic_write(folder / f"{version}.npz", data)
        self._point(camera_id, version, "publish", note)
        return version

    def rollback(self, camera_id: str) -> str | None:
        """Makes the version before the current one current; returns it, or None (back to the base model).

        Rolling back from the base model keeps it (returns None, changes nothing).
        """
        current = self.current_version(camera_id)
        if current is None:
            return None
        earlier = [v for v in self.versions(camera_id) if v < current]
        target = earlier[-1] if earlier else None
        self._point(camera_id, target, "rollback", f"from {current}")
        return target

    def _point(self, camera_id: str, version: str | None, action: str, note: str) -> None:
        folder = self._folder(camera_id)
        pointer = folder / CURRENT
        if version is None:
            pointer.unlink(missing_ok=True)
        else:
            _atomic_write(pointer, f"{version}.npz\n".encode())
        event = {"at": datetime.now(UTC).isoformat(), "action": action, "current": version, "note": note}
        with (folder / HISTORY).open("a", encoding="utf-8") as f:
            f.write(json.dumps(event) + "\n")

    def history(self, camera_id: str) -> list[dict[str, Any]]:
        """The camera's publishes and rollbacks, oldest first."""
        path = self._folder(camera_id) / HISTORY
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
