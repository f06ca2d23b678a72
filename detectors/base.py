"""What the pipeline needs from a vehicle detector, whatever model or runtime is behind it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from detectors.types import Detections


@runtime_checkable
class Detector(Protocol):
    """Finds vehicles in BGR frames.

    Implementations load and warm up their model when constructed, so the first real frame does not pay for
    it; ``warmup()`` may be called again (e.g. after a long pause on a GPU).
    """

    @property
    def names(self) -> tuple[str, ...]:
        """Every class name of the model, indexed by class id (not only the kept vehicle classes)."""
        ...

    @property
    def max_batch(self) -> int:
        """Most images one inference call takes: 1 for a static-batch model; the pipeline batches up to this."""
        ...

    @property
    def dynamic_batch(self) -> bool:
        """Whether the model takes any batch size (several frames per inference call)."""
        ...

    def detect(self, images: Sequence[NDArray[np.uint8]]) -> list[Detections]:
        """Finds the configured vehicle classes in each image.

        Args:
            images: BGR ``(h, w, 3)`` uint8 frames of any sizes; more than ``max_batch`` is allowed (they are run
                in chunks).

        Returns:
            One `Detections` per image, in that image's pixel coordinates (clipped to it), already filtered by
            class, score threshold and minimum box size.
        """
        ...

    def warmup(self) -> None:
        """Runs the model once on a blank batch so that lazy allocation happens now, not on the first frame."""
        ...
