"""The one detection type that flows between pipeline stages.

Model output is converted to `Detections` once, at the model boundary; every later stage filters
it with boolean masks instead of building tuples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

BoxArray = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Detections:
    """Boxes found in one image, in that image's pixel coordinates.

    Attributes:
        boxes: ``(N, 4)`` float32 ``x1, y1, x2, y2``.
        scores: ``(N,)`` float32 confidences in 0..1.
        class_ids: ``(N,)`` int32 detector class indices.
        class_names: the detector's name for each box, ``len == N``.
        track_ids: ``(N,)`` int64 tracker ids, or None before tracking.
        data: more per-box columns added by later stages (e.g. ``quality``, ``classification``), each an array
            of length N; filtering keeps them aligned with the boxes, so no stage passes ``(detections, index)``
            pairs around (as supervision's ``Detections.data``).

    Example:
        >>> d = Detections.empty()
        >>> len(d)
        0
    """

    boxes: BoxArray
    scores: NDArray[np.float32]
    class_ids: NDArray[np.int32]
    class_names: tuple[str, ...]
    track_ids: NDArray[np.int64] | None = field(default=None)
    data: Mapping[str, NDArray[Any]] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        n = self.scores.shape[0] if self.scores.ndim == 1 else -1
        if self.boxes.ndim != 2 or self.boxes.shape[1] != 4:
            raise ValueError(f"boxes must have shape (N, 4), got {self.boxes.shape}")
        if n != self.boxes.shape[0]:
            raise ValueError(f"scores must have shape ({self.boxes.shape[0]},), got {self.scores.shape}")
        if self.class_ids.shape != (n,):
            raise ValueError(f"class_ids must have shape ({n},), got {self.class_ids.shape}")
        if len(self.class_names) != n:
            raise ValueError(f"class_names must have {n} entries, got {len(self.class_names)}")
        if self.track_ids is not None and self.track_ids.shape != (n,):
            raise ValueError(f"track_ids must have shape ({n},), got {self.track_ids.shape}")
        for name, column in self.data.items():
            if column.shape[:1] != (n,):
                raise ValueError(f"data column {name!r} must have {n} rows, got shape {column.shape}")

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            boxes=np.zeros((0, 4), np.float32),
            scores=np.zeros((0,), np.float32),
            class_ids=np.zeros((0,), np.int32),
            class_names=(),
        )

    def filter(self, mask: NDArray[np.bool_]) -> Detections:
        """Keeps the boxes where ``mask`` is True."""
        if mask.shape != (len(self),):
            raise ValueError(f"mask must have shape ({len(self)},), got {mask.shape}")
        index = np.flatnonzero(mask)
        return Detections(
            boxes=self.boxes[index],
            scores=self.scores[index],
            class_ids=self.class_ids[index],
            class_names=tuple(self.class_names[i] for i in index),
            track_ids=None if self.track_ids is None else self.track_ids[index],
            data=MappingProxyType({name: column[index] for name, column in self.data.items()}),
        )

    def with_track_ids(self, track_ids: NDArray[np.int64]) -> Detections:
        return Detections(self.boxes, self.scores, self.class_ids, self.class_names, track_ids, self.data)

    def with_columns(self, **columns: NDArray[Any]) -> Detections:
        """The same boxes with per-box ``data`` columns added (or replaced).

        Example:
            >>> d = Detections.empty().with_columns(quality=np.zeros(0, np.float32))
            >>> sorted(d.data)
            ['quality']
        """
        data = MappingProxyType({**self.data, **columns})
        return Detections(self.boxes, self.scores, self.class_ids, self.class_names, self.track_ids, data)

    def column(self, name: str) -> NDArray[Any]:
        """The per-box column ``name``; KeyError naming the columns there are when it is missing."""
        try:
            return self.data[name]
        except KeyError:
            raise KeyError(f"no data column {name!r} (columns: {sorted(self.data)})") from None

    @property
    def widths(self) -> NDArray[np.float32]:
        return self.boxes[:, 2] - self.boxes[:, 0]

    @property
    def heights(self) -> NDArray[np.float32]:
        return self.boxes[:, 3] - self.boxes[:, 1]
