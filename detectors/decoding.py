"""Vectorised decoding of Ultralytics YOLO outputs into boxes, with class filtering and class-aware NMS.

Three output layouts exist (``B`` images, ``C`` classes):

- ``v8`` — YOLOv8 / YOLO11 ``[B, 4 + C, N]``: cx, cy, w, h (input pixels) then C class scores per anchor.
- ``v5`` — YOLOv5 ``[B, N, 5 + C]``: cx, cy, w, h, objectness, then C class probabilities; score = obj x prob.
- ``end2end`` — NMS-free models (YOLOv10, YOLO26) ``[B, K, 6]``: x1, y1, x2, y2, score, class id.

Only the kept classes are looked at: the other classes' scores are never read, which is both cheaper and
what we want (an anchor whose best class is "person" but whose "car" score passes the threshold is a car
candidate, since YOLO class scores are independent sigmoids).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import cv2
import numpy as np
from numpy.typing import NDArray

Layout = Literal["v8", "v5", "end2end"]
LAYOUTS: tuple[Layout, ...] = get_args(Layout)

MAX_DETECTIONS = 300
"""Most boxes kept per image (Ultralytics' ``max_det``): a bound on the work after NMS."""
MAX_CANDIDATES = 30000
"""Most boxes given to NMS per batch (Ultralytics' ``max_nms``): a bound on NMS time with a very low threshold."""


class OutputLayoutError(ValueError):
    """A model output that is none of the known YOLO layouts, or more than one of them."""


@dataclass(frozen=True, slots=True)
class InputBoxes:
    """Boxes of one image in model-input pixels, before mapping back to the image.

    Attributes:
        boxes: ``(N, 4)`` float32 x1, y1, x2, y2 in input pixels.
        scores: ``(N,)`` float32, best first.
        class_ids: ``(N,)`` int32 model class ids.
    """

    boxes: NDArray[np.float32]
    scores: NDArray[np.float32]
    class_ids: NDArray[np.int32]


def _expected_shapes(num_classes: int) -> str:
    return f"[B, {4 + num_classes}, N] (v8/11), [B, N, {5 + num_classes}] (v5) or [B, K, 6] (end2end)"


def detect_layout(shape: Sequence[int], num_classes: int, end2end: bool | None = None) -> Layout:
    """Tells the layout of a YOLO output from its shape and the model's number of classes.

    Args:
        shape: the output's concrete shape ``(B, d1, d2)``.
        num_classes: the model's number of class names.
        end2end: the model's ``end2end`` metadata when it has one; it settles shapes that fit both an
            end-to-end and another layout (e.g. one class: ``[B, N, 6]`` is v5 or end2end).

    Raises:
        OutputLayoutError: the shape fits no layout, or several.

    Example:
        >>> detect_layout((1, 84, 8400), 80)
        'v8'
    """
    if len(shape) != 3:
        raise OutputLayoutError(f"output must have 3 dimensions {_expected_shapes(num_classes)}, got {list(shape)}")
    _, rows, cols = shape
    fits: list[Layout] = []
    if rows == 4 + num_classes:
        fits.append("v8")
    if cols == 5 + num_classes:
        fits.append("v5")
    if cols == 6:
        fits.append("end2end")
    if end2end is not None:
        fits = [layout for layout in fits if (layout == "end2end") == end2end]
    if len(fits) == 1:
        return fits[0]
    hint = "" if end2end is None else f" with end2end={end2end}"
    if not fits:
        raise OutputLayoutError(
            f"output shape {list(shape)} fits no YOLO layout for {num_classes} classes{hint}: "
            f"expected {_expected_shapes(num_classes)}"
        )
    raise OutputLayoutError(
        f"output shape {list(shape)} is ambiguous for {num_classes} classes{hint}: it fits {', '.join(fits)}"
    )


class YoloDecoder:
    """Turns raw YOLO output of a batch into per-image boxes: class filter, score threshold, NMS, top-k.

    Everything that does not depend on the output (class index tables) is computed once here, so decoding a
    batch is a handful of numpy passes and one NMS call, whatever the number of boxes or images.

    Args:
        layout: the output layout (see `detect_layout`).
        num_classes: the model's number of classes.
        keep_class_ids: model class ids to keep; other classes are dropped before NMS.
        confidence: minimum score.
        iou: NMS overlap threshold, per class (ignored for ``end2end``).
        max_detections: most boxes kept per image.
        max_candidates: most boxes given to NMS per batch (the best-scored ones).
    """

    def __init__(
        self,
        layout: Layout,
        num_classes: int,
        keep_class_ids: Sequence[int] | NDArray[np.integer[Any]],
        *,
        confidence: float,
        iou: float,
        max_detections: int = MAX_DETECTIONS,
        max_candidates: int = MAX_CANDIDATES,
    ) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}: use one of {', '.join(LAYOUTS)}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be at least 1, got {num_classes}")
        keep = np.unique(np.asarray(keep_class_ids, np.int64))
        if keep.size == 0:
            raise ValueError("keep_class_ids is empty: nothing would ever be detected")
        if keep[0] < 0 or keep[-1] >= num_classes:
            raise ValueError(f"keep_class_ids must be in 0..{num_classes - 1}, got {keep.tolist()}")
        self.layout: Layout = layout
        self.num_classes = num_classes
        self.confidence = float(confidence)
        self.iou = float(iou)
        self.max_detections = max_detections
        self.max_candidates = max_candidates
        self._keep = keep.astype(np.int32)
        # Class id -> position in `_keep` (or -1): turns end-to-end class ids into kept/dropped in one lookup.
        self._compact = np.full(num_classes, -1, np.int64)
        self._compact[keep] = np.arange(keep.size)
        self._rows_v8 = keep + 4
        self._cols_v5 = keep + 5

    @property
    def keep_class_ids(self) -> NDArray[np.int32]:
        """The kept class ids, sorted."""
        return self._keep

    def check(self, output: NDArray[np.floating]) -> None:
        """Raises `OutputLayoutError` unless ``output`` has this decoder's layout and class count."""
        if output.ndim != 3:
            raise OutputLayoutError(f"output must have 3 dimensions, got shape {list(output.shape)}")
        expected = {"v8": (1, 4 + self.num_classes), "v5": (2, 5 + self.num_classes), "end2end": (2, 6)}
        axis, size = expected[self.layout]
        if output.shape[axis] != size:
            raise OutputLayoutError(
                f"{self.layout} output for {self.num_classes} classes needs dimension {axis} = {size}, "
                f"got shape {list(output.shape)}"
            )

    def decode(self, output: NDArray[np.floating]) -> list[InputBoxes]:
        """Decodes a whole batch of raw output.

        Args:
            output: the model's output for ``B`` images, in this decoder's layout.

        Returns:
            ``B`` `InputBoxes` (input pixels, best score first, at most ``max_detections`` each).
        """
        self.check(output)
        batch = output.shape[0]
        if self.layout == "v8":
            image, boxes, scores, compact = self._candidates_v8(output)
        elif self.layout == "v5":
            image, boxes, scores, compact = self._candidates_v5(output)
        else:
            image, boxes, scores, compact = self._candidates_end2end(output)
        if scores.size > self.max_candidates:
            best = np.argpartition(-scores, self.max_candidates - 1)[: self.max_candidates]
            image, boxes, scores, compact = image[best], boxes[best], scores[best], compact[best]
        if self.layout != "end2end" and scores.size > 1:
            keep = self._nms(image, boxes, scores, compact)
            image, boxes, scores, compact = image[keep], boxes[keep], scores[keep], compact[keep]
        return self._split(batch, image, boxes, scores, self._keep[compact])

    def _candidates_v8(
        self, output: NDArray[np.floating]
    ) -> tuple[NDArray[np.intp], NDArray[np.float32], NDArray[np.float32], NDArray[np.intp]]:
        class_scores = output[:, self._rows_v8, :]  # (B, V, N): only the kept classes' rows are read
        best = class_scores.max(axis=1) if class_scores.shape[1] > 1 else class_scores[:, 0, :]
        image, anchor = np.nonzero(best >= self.confidence)
        compact = class_scores[image, :, anchor].argmax(axis=1)  # (M,), over the kept classes only
        scores = best[image, anchor].astype(np.float32, copy=False)
        return image, _xywh_to_xyxy(output[image, :4, anchor]), scores, compact

    def _candidates_v5(
        self, output: NDArray[np.floating]
    ) -> tuple[NDArray[np.intp], NDArray[np.float32], NDArray[np.float32], NDArray[np.intp]]:
        # A class probability is at most 1, so an anchor whose objectness alone is below the threshold cannot
        # pass: filtering on it first leaves few rows for the per-class products.
        image, anchor = np.nonzero(output[:, :, 4] >= self.confidence)
        rows = output[image, anchor]  # (M, 5 + C)
        products = rows[:, self._cols_v5] * rows[:, 4:5]  # (M, V)
        compact = products.argmax(axis=1)
        scores = products[np.arange(products.shape[0]), compact].astype(np.float32, copy=False)
        passed = scores >= self.confidence
        return image[passed], _xywh_to_xyxy(rows[passed, :4]), scores[passed], compact[passed]

    def _candidates_end2end(
        self, output: NDArray[np.floating]
    ) -> tuple[NDArray[np.intp], NDArray[np.float32], NDArray[np.float32], NDArray[np.intp]]:
        class_ids = np.rint(output[:, :, 5]).astype(np.int64)
        valid = (class_ids >= 0) & (class_ids < self.num_classes)
        compact = np.where(valid, self._compact[np.where(valid, class_ids, 0)], -1)
        image, row = np.nonzero((compact >= 0) & (output[:, :, 4] >= self.confidence))
        boxes = output[image, row, :4].astype(np.float32, copy=False)
        return image, boxes, output[image, row, 4].astype(np.float32, copy=False), compact[image, row]

    def _nms(
        self,
        image: NDArray[np.intp],
        boxes: NDArray[np.float32],
        scores: NDArray[np.float32],
        compact: NDArray[np.intp],
    ) -> NDArray[np.intp]:
        # One call for the whole batch: each (image, class) pair is its own NMS group, so boxes of different
        # images or classes never suppress each other. Compact class ids keep OpenCV's per-group coordinate
        # offsets small, hence exact in float.
        groups = (image * self._keep.size + compact).astype(np.int32)
        xywh = boxes.copy()
        xywh[:, 2:] -= xywh[:, :2]
        # OpenCV's score threshold is strict: -1 keeps every candidate (the confidence is already applied).
        # The stubs list sequences, but OpenCV takes the arrays as they are (float boxes as Rect2d, no copy to lists).
        kept = cv2.dnn.NMSBoxesBatched(xywh, scores, groups, -1.0, self.iou)  # type: ignore[arg-type]
        return np.asarray(kept, np.intp).reshape(-1)

    def _split(
        self,
        batch: int,
        image: NDArray[np.intp],
        boxes: NDArray[np.float32],
        scores: NDArray[np.float32],
        class_ids: NDArray[np.int32],
    ) -> list[InputBoxes]:
        order = np.lexsort((-scores, image))  # by image, then best score first
        image, boxes, scores, class_ids = image[order], boxes[order], scores[order], class_ids[order]
        counts = np.bincount(image, minlength=batch)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        rank = np.arange(image.size) - starts[image]
        if image.size and rank.max() >= self.max_detections:
            top = rank < self.max_detections
            image, boxes, scores, class_ids = image[top], boxes[top], scores[top], class_ids[top]
            counts = np.minimum(counts, self.max_detections)
        bounds = np.cumsum(counts)[:-1]
        return [
            InputBoxes(b, s, c.astype(np.int32, copy=False))
            for b, s, c in zip(
                np.split(boxes, bounds), np.split(scores, bounds), np.split(class_ids, bounds), strict=True
            )
        ]


def _xywh_to_xyxy(centre: NDArray[np.floating]) -> NDArray[np.float32]:
    """``(M, 4)`` cx, cy, w, h to x1, y1, x2, y2."""
    centre = centre.astype(np.float32, copy=False)
    half = centre[:, 2:] / 2
    return np.concatenate((centre[:, :2] - half, centre[:, :2] + half), axis=1)
