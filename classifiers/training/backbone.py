"""A backbone: an image classifier ONNX model whose ``embedding`` output feeds a new head.

Preprocessing comes from the backbone's own manifest (``classifiers.manifest``) and is applied with
``classifiers.preprocess.prepare_batch``, exactly as the service does, so training sees what serving sees.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from classifiers.manifest import ClassifierManifest, load_manifest
from classifiers.preprocess import prepare_batch
from classifiers.training.errors import BackboneError
from detectors.runtime import metadata, open_session

EMBEDDING_OUTPUT = "embedding"
# Metadata key in which an exported classifier records the backbone it was built on (see export.py).
BACKBONE_SHA_KEY = "backbone_sha256"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Backbone:
    """An ONNX Runtime session on a backbone, checked to have an image input and an ``embedding`` output.

    Args:
        path: the ONNX file; a classifier exported by ``train`` works too (it keeps the ``embedding`` output).
        providers: ONNX Runtime provider order (short names ``cpu``, ``cuda``, ``tensorrt``).
        threads: intra-op threads (0 = ONNX Runtime's default).

    Raises:
        BackboneError: no ``embedding`` output, or the input does not match the preprocessing metadata.
        ModelLoadError: the file is missing or corrupt, or its preprocessing metadata is invalid.
    """

    def __init__(self, path: Path, *, providers: Sequence[str] = ("cpu",), threads: int = 0) -> None:
        self.path = path
        self.session = open_session(path, providers, intra_op_threads=threads, what="backbone")
        outputs = [o.name for o in self.session.get_outputs()]
        if EMBEDDING_OUTPUT not in outputs:
            raise BackboneError(
                f"backbone {path.name} has no {EMBEDDING_OUTPUT!r} output (outputs: {', '.join(outputs)})"
            )
        self.metadata = metadata(self.session)
        meta = dict(self.metadata)
        # A bare feature extractor has no labels; the manifest only serves its preprocessing here.
        meta.setdefault("labels", json.dumps({EMBEDDING_OUTPUT: [EMBEDDING_OUTPUT]}))
        self.manifest: ClassifierManifest = load_manifest(path, meta, outputs)
        self.input_name = self._check_input()
        self.dim = self._check_embedding()
        # An exported classifier names the backbone it was built on, so its embeddings share that cache.
        self.identity = self.metadata.get(BACKBONE_SHA_KEY) or file_sha256(path)

    def _check_input(self) -> str:
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise BackboneError(f"backbone {self.path.name} must have one image input, has {len(inputs)}")
        shape = list(inputs[0].shape)
        m = self.manifest
        expected = (
            [3, m.input_height, m.input_width] if m.input_layout == "NCHW" else [m.input_height, m.input_width, 3]
        )
        if len(shape) != 4 or any(isinstance(d, int) and d != e for d, e in zip(shape[1:], expected, strict=True)):
            raise BackboneError(
                f"backbone {self.path.name}: input {inputs[0].name!r} has shape {shape}, but its metadata describes "
                f"{m.input_layout} {m.input_height}x{m.input_width} images (expected [batch, "
                f"{', '.join(map(str, expected))}])"
            )
        return str(inputs[0].name)

    def _check_embedding(self) -> int:
        output = next(o for o in self.session.get_outputs() if o.name == EMBEDDING_OUTPUT)
        shape = list(output.shape)
        if len(shape) != 2:
            raise BackboneError(f"backbone {self.path.name}: {EMBEDDING_OUTPUT!r} must be [batch, dim], got {shape}")
        if isinstance(shape[1], int):
            return shape[1]
        m = self.manifest
        shape_in = (
            (3, m.input_height, m.input_width) if m.input_layout == "NCHW" else (m.input_height, m.input_width, 3)
        )
        probe = np.zeros((1, *shape_in), np.float32)
        return int(self.session.run([EMBEDDING_OUTPUT], {self.input_name: probe})[0].shape[1])

    def embed(self, images_bgr: Sequence[NDArray[np.uint8]]) -> NDArray[np.float32]:
        """Embeddings ``(N, dim)`` of BGR uint8 images of any size."""
        batch = prepare_batch(images_bgr, self.manifest)
        out = self.session.run([EMBEDDING_OUTPUT], {self.input_name: batch})[0]
        return np.asarray(out, np.float32)
