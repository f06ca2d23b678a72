"""The adapted head file: one camera's adaptations of one or more heads, with their provenance, as ``.npz``.

The file holds a ``meta`` entry (JSON: format, version, camera, per head its labels, method and scalars, the
provenance, and a sha256 of every array) and the arrays per head (``<head>/bias`` ...). It is written with
``allow_pickle=False`` and read the same way, and the sha256 is checked on load, so a truncated or edited file is
refused in one line instead of adapting with damaged numbers.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from classifiers.adaptation.errors import AdaptationFileError
from classifiers.adaptation.transform import F32, METHODS, HeadAdaptation

FORMAT = "vehiclewatch-camera-adaptation"
FORMAT_VERSION = 1
_ARRAYS = ("bias", "index", "delta", "keys", "key_labels")
_SCALARS = ("threshold", "scale", "bandwidth", "strength")


@dataclass(frozen=True, eq=False)
class CameraAdaptation:
    """A camera's adapted heads, as loaded from one file.

    Example:
        >>> adaptation = load_adaptation(Path("adapted/gate/v0003.npz"))  # doctest: +SKIP
        >>> probs, abstain = adaptation.apply("color", labels, raw_probs)  # doctest: +SKIP
    """

    camera_id: str
    version: str
    adapted: Mapping[str, HeadAdaptation]
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def heads(self) -> frozenset[str]:
        """The bank head names this file adapts."""
        return frozenset(self.adapted)

    def apply(
        self, head: str, labels: tuple[str, ...], probs: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """(adapted probabilities (n, L), abstain mask (n,)) for the raw probabilities of ``head``.

        Raises:
            KeyError: the file does not adapt ``head``.
            AdaptationFileError: ``labels`` are not the labels the head was fitted on (the model was swapped).
        """
        adaptation = self.adapted[head]
        if tuple(labels) != adaptation.labels:
            raise AdaptationFileError(
                f"camera {self.camera_id!r} {self.version}: head {head!r} was fitted on other labels "
                f"({len(adaptation.labels)} labels, the model now has {len(labels)}): the model changed, re-adapt"
            )
        return adaptation.apply(probs)


def _digest(arrays: Mapping[str, NDArray[Any]]) -> str:
    """sha256 over every array's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def adaptation_bytes(camera_id: str, heads: Mapping[str, HeadAdaptation], provenance: Mapping[str, Any]) -> bytes:
    """The file's bytes for ``heads`` of ``camera_id`` (its version is the name the store gives it)."""
    arrays: dict[str, NDArray[Any]] = {}
    described: dict[str, Any] = {}
    for name, a in heads.items():
        described[name] = {
            "labels": list(a.labels),
            "method": a.method,
            **{s: float(getattr(a, s)) for s in _SCALARS},
        }
        for key in _ARRAYS:
            value = getattr(a, key)
            arrays[f"{name}/{key}"] = np.asarray(value, np.int64 if key in ("index", "key_labels") else np.float32)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "camera_id": camera_id,
        "heads": described,
        "provenance": dict(provenance),
        "sha256": _digest(arrays),
    }
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, meta=np.array(json.dumps(meta, sort_keys=True)), **arrays)
    return buffer.getvalue()


def load_adaptation(path: Path) -> CameraAdaptation:
    """The adaptation in ``path``; its version is the file name's stem (``v0003``).

    Raises:
        AdaptationFileError: one line naming the file and what is wrong (missing, not an adaptation file, another
            format version, arrays that do not match their checksum or their head).
    """
    where = f"adapted head file {path}"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AdaptationFileError(f"{where} not found") from None
    except OSError as exc:
        raise AdaptationFileError(f"{where}: cannot be read ({exc.strerror})") from exc
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            entries = {name: np.asarray(npz[name]) for name in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise AdaptationFileError(f"{where} is corrupt or not an adaptation file ({type(exc).__name__})") from exc
    try:
        meta = json.loads(str(entries.pop("meta")))
    except (KeyError, ValueError) as exc:
        raise AdaptationFileError(f"{where} has no readable meta entry") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise AdaptationFileError(f"{where} is not a vehiclewatch adaptation file")
    if meta.get("format_version") != FORMAT_VERSION:
        raise AdaptationFileError(
            f"{where} has format version {meta.get('format_version')!r}; this vehiclewatch reads {FORMAT_VERSION}"
        )
    if meta.get("sha256") != _digest(entries):
        raise AdaptationFileError(f"{where} is corrupt: its arrays do not match their sha256")
    try:
        return CameraAdaptation(
            camera_id=str(meta["camera_id"]),
            version=path.stem,
            adapted={name: _head(name, spec, entries) for name, spec in dict(meta["heads"]).items()},
            provenance=dict(meta.get("provenance") or {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AdaptationFileError(f"{where} is invalid: {str(exc).splitlines()[0] if str(exc) else exc!r}") from exc


def _head(name: str, spec: Mapping[str, Any], entries: Mapping[str, NDArray[Any]]) -> HeadAdaptation:
    method = str(spec["method"])
    if method not in METHODS:
        raise ValueError(f"head {name!r}: unknown method {method!r}")
    arrays = {key: entries[f"{name}/{key}"] for key in _ARRAYS}
    return HeadAdaptation(
        head=name,
        labels=tuple(str(label) for label in spec["labels"]),
        method=cast(Any, method),
        **{s: float(spec[s]) for s in _SCALARS},
        bias=cast(F32, arrays["bias"].astype(np.float32)),
        index=arrays["index"].astype(np.int64),
        delta=cast(F32, arrays["delta"].astype(np.float32)),
        keys=cast(F32, arrays["keys"].astype(np.float32)),
        key_labels=arrays["key_labels"].astype(np.int64),
    )
