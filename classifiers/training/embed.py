"""Embedding images (original and augmented views) through a backbone, batched, with an on-disk cache."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm  # type: ignore[import-untyped]

from classifiers.training.augment import AugmentConfig, augment_image, view_rng
from classifiers.training.backbone import Backbone, file_sha256
from classifiers.training.cache import EmbeddingCache
from classifiers.training.errors import DatasetError


def hash_files(paths: Sequence[Path], *, progress: bool = False) -> list[str]:
    """SHA-256 of each file: the cache key of its embeddings (a renamed image keeps its embeddings)."""
    return [file_sha256(p) for p in tqdm(paths, desc="hashing images", unit="img", disable=not progress, leave=False)]


def read_image(path: Path) -> NDArray[np.uint8]:
    """A BGR uint8 image; raises ``DatasetError`` naming the file when it cannot be decoded."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"cannot read image {path}")
    return np.asarray(image, np.uint8)


def embed_views(
    backbone: Backbone,
    paths: Sequence[Path],
    hashes: Sequence[str],
    *,
    augment: AugmentConfig,
    seed: int,
    cache: EmbeddingCache,
    copies: int | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> NDArray[np.float32]:
    """Embeddings of every image in view 0 (as is) and views 1..copies (augmented).

    Args:
        backbone: the feature extractor.
        paths: image files.
        hashes: their SHA-256s (``hash_files``), the cache keys.
        augment: augmentation settings; ``copies`` defaults to ``augment.copies``.
        seed: augmentation seed; a view's pixels depend only on (file, settings, seed, copy).
        cache: embeddings computed before; new ones are added to it.
        copies: number of augmented views (overrides ``augment.copies``; 0 for evaluation-only images).
        batch_size: images per backbone run; larger batches are a little faster per image on CPU.
        progress: show a progress bar.

    Returns:
        ``(1 + copies, N, dim)`` float32.
    """
    n_views = 1 + (augment.copies if copies is None else copies)
    out = np.zeros((n_views, len(paths), backbone.dim), np.float32)
    todo: list[tuple[int, str, NDArray[np.int64]]] = []
    for view in range(n_views):
        key = augment.view_key(seed, view)
        found, cached = cache.lookup(key, hashes)
        if cached is not None:
            out[view][found] = cached[found]
        missing = np.flatnonzero(~found)
        if len(missing):
            todo.append((view, key, missing))
    total = sum(len(m) for _, _, m in todo)
    with tqdm(total=total, desc="embedding", unit="img", disable=not progress or total == 0) as bar:
        for view, key, missing in todo:
            for start in range(0, len(missing), batch_size):
                chunk = missing[start : start + batch_size]
                images = []
                for i in chunk:
                    image = read_image(paths[int(i)])
                    if view > 0:
                        image = augment_image(image, augment, view_rng(seed, view, hashes[int(i)]))
                    images.append(image)
                out[view][chunk] = backbone.embed(images)
                bar.update(len(chunk))
            cache.store(key, [hashes[int(i)] for i in missing], out[view][missing])
    return out
