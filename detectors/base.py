"""What the pipeline needs from a vehicle detector, whatever model or runtime is behind it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from detectors.types import Detections

if TYPE_CHECKING:  # the letterbox module loads OpenCV; the protocol only names its type
    from detectors.letterbox import Letterbox


@runtime_checkable
class Detector(Protocol):
    """Finds vehicles in BGR frames, in three steps so that the pipeline can time each one.

    ``preprocess`` → ``infer`` → ``postprocess`` is one batch of at most ``max_batch`` images; ``detect`` runs the
    three on any number of images. Implementations open and warm up their model when constructed (see
    `detectors.registry.open_detector`), so the first real frame does not pay for it.
    """

    @property
    def max_batch(self) -> int:
        """Most images one inference call takes: the pipeline batches frames up to this."""
        ...

    def preprocess(self, images: Sequence[NDArray[np.uint8]]) -> tuple[NDArray[Any], list[Letterbox]]:
        """At most ``max_batch`` BGR ``(h, w, 3)`` images as the model's input tensor, with each image's letterbox
        (how to map model coordinates back to its pixels)."""
        ...

    def infer(self, tensor: NDArray[Any]) -> NDArray[Any]:
        """One inference call on a prepared tensor; returns the raw output."""
        ...

    def postprocess(self, output: NDArray[Any], letterboxes: Sequence[Letterbox]) -> list[Detections]:
        """Raw output → one `Detections` per image, in that image's pixel coordinates (clipped to it), already
        filtered by class, score threshold and minimum box size."""
        ...

    def detect(self, images: Sequence[NDArray[np.uint8]]) -> list[Detections]:
        """The three steps on any number of images (run in chunks of ``max_batch``): one `Detections` each."""
        ...
