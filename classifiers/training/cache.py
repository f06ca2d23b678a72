"""On-disk cache of embeddings, keyed by backbone, view (original or augmentation) and image file hash.

Layout: ``<root>/<backbone sha256[:16]>/<view key>.npz`` holding ``hashes`` (image SHA-256s) and ``embeddings``.
One file per view keeps the file count small (a few files for thousands of images); new images are appended, so
re-runs and incremental classes only embed what is new.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vehiclewatch" / "embeddings"


class EmbeddingCache:
    """Embeddings of one backbone; ``root=None`` disables caching (every lookup misses, stores are dropped)."""

    def __init__(self, root: Path | None, backbone_id: str) -> None:
        self.folder = None if root is None else root / backbone_id[:16]

    def _file(self, view_key: str) -> Path | None:
        return None if self.folder is None else self.folder / f"{view_key}.npz"

    def _read(self, view_key: str) -> tuple[NDArray[np.str_], NDArray[np.float32]] | None:
        path = self._file(view_key)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return np.asarray(data["hashes"]), np.asarray(data["embeddings"], np.float32)
        except (OSError, ValueError, KeyError):
            # A damaged cache file only costs a recomputation.
            return None

    def lookup(self, view_key: str, hashes: Sequence[str]) -> tuple[NDArray[np.bool_], NDArray[np.float32] | None]:
        """Returns a found-mask over ``hashes`` and an ``(N, dim)`` array filled where found (None if none is)."""
        stored = self._read(view_key)
        found = np.zeros(len(hashes), bool)
        if stored is None or len(stored[0]) == 0:
            return found, None
        index = {str(h): i for i, h in enumerate(stored[0])}
        out = np.zeros((len(hashes), stored[1].shape[1]), np.float32)
        for i, h in enumerate(hashes):
            j = index.get(h)
            if j is not None:
                found[i] = True
                out[i] = stored[1][j]
        return found, out

    def store(self, view_key: str, hashes: Sequence[str], embeddings: NDArray[np.float32]) -> None:
        """Adds (or replaces) embeddings of ``hashes`` in the view's file, written atomically."""
        path = self._file(view_key)
        if path is None or len(hashes) == 0:
            return
        stored = self._read(view_key)
        new_hashes = np.asarray(list(hashes))
        if stored is not None and stored[1].shape[1] == embeddings.shape[1]:
            keep = ~np.isin(stored[0], new_hashes)
            new_hashes = np.concatenate([stored[0][keep], new_hashes])
            embeddings = np.concatenate([stored[1][keep], embeddings])
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a crash or a concurrent reader never sees half a file.
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as handle:
            np.savez(handle, hashes=new_hashes, embeddings=embeddings.astype(np.float32))
            tmp = Path(handle.name)
        tmp.replace(path)
