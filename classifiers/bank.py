"""All configured classifiers together: one batched call per model over every vehicle crop of a detector batch."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

import numpy as np
from numpy.typing import NDArray

from classifiers.adaptation.live import BASE_VERSION, LiveAdaptations
from classifiers.base import CropClassifier
from classifiers.calibration.abstention import CropFacts, apply_abstention, crop_facts
from classifiers.calibration.file import Calibration
from classifiers.color.camera_adapt import CameraAdapters, CameraLevelsSettings, LevelsCorrection
from classifiers.crops import CropBatch, ImageArray, check_image, cut_crops
from classifiers.registry import open_classifier
from classifiers.settings import AbstentionSettings, ClassifierSettings
from classifiers.types import Classification, HeadScores
from detectors.runtime import ModelLoadError
from detectors.types import Detections

log = logging.getLogger(__name__)


class _CameraAwareRecognizer(Protocol):
    """A colour recogniser that corrects each crop for its camera (``classifiers.color.ColorRecognizer``)."""

    @property
    def camera_settings(self) -> CameraLevelsSettings | None: ...

    def classify(
        self, crops: Sequence[ImageArray], *, corrections: Sequence[LevelsCorrection] | None = None
    ) -> list[dict[str, HeadScores]]: ...


CameraKeys = Sequence[Hashable]
"""Per frame of a batch, the camera it came from."""
TrackKeys = Sequence[Sequence[Hashable | None] | None]
"""Per frame of a batch, per box, the track it belongs to (None: untracked)."""


@dataclass(frozen=True, slots=True)
class CropResults:
    """The classifications of a detector batch, mapped back to its frames and boxes.

    Attributes:
        frames: per input frame, one entry per box of its detections (same order): the box's
            ``Classification``, or None where the box was not classified (too small, or no models configured).
        classified: number of boxes classified.
        skipped_small: number of boxes left out because their visible shorter side is under ``min_crop_size``
            (for a metric: many skipped boxes mean the camera is too far or the threshold too high).
    """

    frames: tuple[tuple[Classification | None, ...], ...]
    classified: int
    skipped_small: int

    def __len__(self) -> int:
        return len(self.frames)


def check_head_names(classifiers: Sequence[CropClassifier]) -> None:
    """Raises ModelLoadError, naming both models, if two classifiers produce a head of the same name."""
    owners: dict[str, CropClassifier] = {}
    for clf in classifiers:
        for head in clf.heads:
            if head in owners:
                raise ModelLoadError(
                    f"classifier head {head!r} comes from both {owners[head].path.name} and {clf.path.name}; "
                    "give one of them another 'name' or pick other 'heads'"
                )
            owners[head] = clf


class ClassifierBank:
    """Every configured crop classifier, run together on crops; each head name is produced by exactly one model.

    Every crop's probabilities are calibrated (``calibration``) and then heads that cannot judge the crop abstain
    (``abstain``: they are left out of its classification), so matching and alerts see calibrated claims only.

    Example:
        >>> bank = ClassifierBank.from_settings(settings)  # doctest: +SKIP
        >>> results = bank.classify_boxes([(frame.image, vehicles)])  # doctest: +SKIP
        >>> results.frames[0][0].top(3)["make"]  # doctest: +SKIP
    """

    def __init__(
        self,
        classifiers: Sequence[CropClassifier],
        *,
        top_k: int = 3,
        crop_margin: float = 0.05,
        min_crop_size: int = 32,
        color_recognizer: CropClassifier | None = None,
        margins: Sequence[float | None] | None = None,
        calibration: Calibration | None = None,
        abstain: AbstentionSettings | None = None,
        camera_adaptation: bool = False,
        adaptations: LiveAdaptations | None = None,
    ) -> None:
        """Groups already opened classifiers.

        Args:
            classifiers: the opened plugins (`classifiers.registry.open_classifier`), in the order their heads
                appear in each ``Classification``.
            top_k: how many best labels per head events and the CLI report (kept here for them).
            crop_margin: context around each box, as a fraction of its size.
            min_crop_size: smallest visible shorter side, in pixels, of a box worth classifying.
            color_recognizer: a colour ensemble (``classifiers.color``) providing the ``color`` and
                ``color_shade`` heads after the models' heads; it must have been opened with ``crop_margin``.
            margins: per classifier, its own crop margin for boxes (None: ``crop_margin``).
            calibration: per-head calibration of every crop's probabilities (None: raw probabilities).
            abstain: when heads abstain on boxes (None: the defaults; ``enabled=False``: never).
            camera_adaptation: the colour recogniser corrects each washed-out camera's levels, learnt from the
                boxes ``classify_boxes`` is given with their camera (``classifiers.color.camera_adapt``); only
                for a recogniser whose file has a ``camera:`` envelope.
            adaptations: each camera's adapted heads (``classifiers.adaptation``), applied to the boxes
                ``classify_boxes`` is given with their camera; None: the base models decide everywhere.

        Raises:
            ModelLoadError: two models produce a head of the same name.
        """
        check_head_names([*classifiers, *([color_recognizer] if color_recognizer is not None else [])])
        self.classifiers: tuple[CropClassifier, ...] = tuple(classifiers)
        self.color_recognizer = color_recognizer
        self.top_k = top_k
        self.crop_margin = crop_margin
        self.min_crop_size = min_crop_size
        own = tuple(margins) if margins is not None else (None,) * len(self.classifiers)
        if len(own) != len(self.classifiers):
            raise ValueError(f"need one margin per classifier ({len(self.classifiers)}), got {len(own)}")
        self.margins: tuple[float, ...] = tuple(crop_margin if m is None else m for m in own)
        self.calibration = calibration if calibration is not None else Calibration({})
        self.abstain = abstain or AbstentionSettings()
        self.camera_adaptation = camera_adaptation
        self.adaptations = adaptations
        envelope = getattr(color_recognizer, "camera_settings", None)
        # Each bank learns its own cameras: a cross-validation fold's bank (``with_parts``) starts fresh.
        self.camera_adapters = (
            CameraAdapters(envelope) if camera_adaptation and isinstance(envelope, CameraLevelsSettings) else None
        )

    @classmethod
    def from_settings(
        cls, settings: ClassifierSettings, *, adaptations: LiveAdaptations | None = None
    ) -> ClassifierBank:
        """Opens (and warms up) every configured classifier, each through the plugin its ``type`` names.

        ``adaptations``: the cameras' adapted heads (the service opens them on ``settings.adaptation``).

        Raises:
            ModelLoadError: a model cannot be opened, its manifest is wrong, or two models share a head name.
        """
        classifiers: list[CropClassifier] = []
        for model in settings.models:
            classifiers.append(open_classifier(model, crop_margin=settings.crop_margin))
            # Check names as each model opens so a clash fails before the slow loads that follow it.
            check_head_names(classifiers)
        recognizer = None
        if settings.color_recognizer is not None:
            recognizer = open_classifier(settings.color_recognizer, crop_margin=settings.crop_margin)
        try:
            calibration = Calibration.from_file(settings.calibration) if settings.calibration is not None else None
        except ValueError as exc:  # a missing or invalid calibration file: one line, like a bad model
            raise ModelLoadError(str(exc).splitlines()[0]) from exc
        return cls(
            classifiers,
            top_k=settings.top_k,
            crop_margin=settings.crop_margin,
            min_crop_size=settings.min_crop_size,
            color_recognizer=recognizer,
            margins=[model.crop_margin for model in settings.models],
            calibration=calibration,
            abstain=settings.abstain,
            camera_adaptation=settings.color_recognizer is not None and settings.color_recognizer.camera_adaptation,
            adaptations=adaptations,
        )

    def with_parts(
        self,
        *,
        color_recognizer: CropClassifier | None = None,
        calibration: Calibration | None = None,
        abstain: AbstentionSettings | None = None,
    ) -> ClassifierBank:
        """The same opened models with another colour recogniser, calibration or abstention rules (those not
        given are kept): a cross-validated evaluation swaps in what it fitted on the other folds.
        """
        return ClassifierBank(
            self.classifiers,
            top_k=self.top_k,
            crop_margin=self.crop_margin,
            min_crop_size=self.min_crop_size,
            color_recognizer=color_recognizer if color_recognizer is not None else self.color_recognizer,
            margins=self.margins,
            calibration=calibration if calibration is not None else self.calibration,
            abstain=abstain if abstain is not None else self.abstain,
            camera_adaptation=self.camera_adaptation,
            adaptations=self.adaptations,
        )

    @property
    def heads(self) -> dict[str, tuple[str, ...]]:
        """Head name → labels, over all models."""
        heads = {head: labels for clf in self.classifiers for head, labels in clf.heads.items()}
        if self.color_recognizer is not None:
            heads.update(self.color_recognizer.heads)
        return heads

    def __len__(self) -> int:
        return len(self.classifiers) + (self.color_recognizer is not None)

    def classify_crops(
        self, crops: Sequence[ImageArray], facts: Sequence[CropFacts] | None = None
    ) -> list[Classification]:
        """Classifies BGR crops with every model: one batched call per model (chunked by its ``max_batch``).

        Args:
            crops: the crops, each cut as the models expect (one cut for all of them).
            facts: each crop's box size and exposure, for abstention; None: no head abstains.

        Returns:
            One calibrated ``Classification`` per crop, with the heads of every model that did not abstain.
            Nothing runs for an empty input.
        """
        return self._finish(self._raw({None: crops}, len(crops)), facts)

    def raw_scores(
        self, crops: Sequence[ImageArray], boxes: Sequence[NDArray[np.float32]] | None = None
    ) -> list[dict[str, HeadScores]]:
        """Every member's RAW head scores, without calibration or abstention: what a per-camera adaptation is fitted
        on and applied to (``classifiers.adaptation``).

        Args:
            crops: BGR uint8 images.
            boxes: None: each crop is given to every member as it is, whatever the member's own margin. Else, per
                image, the vehicle's box ``x1, y1, x2, y2`` in it: each member gets the box cut with its own margin
                (clipped to the image), as ``classify_boxes`` cuts them in the service.

        Raises:
            ValueError: an image is not a BGR uint8 image, or ``boxes`` is not one box per image.
        """
        for i, crop in enumerate(crops):
            check_image(crop, f"crop {i}")
        if boxes is None:
            return self._raw({None: crops}, len(crops))
        if len(boxes) != len(crops):
            raise ValueError(f"need one box per crop, got {len(boxes)} for {len(crops)}")
        items = [(crop, _one_box(box)) for crop, box in zip(crops, boxes, strict=True)]
        cuts: dict[float | None, Sequence[ImageArray]] = {}
        for margin in {self.crop_margin, *self.margins}:
            cuts[margin] = cut_crops(items, margin, 0).crops
            if len(cuts[margin]) != len(crops):
                raise ValueError("a box lies outside its image")
        return self._raw(cuts, len(crops))

    def _raw(
        self,
        cuts: dict[float | None, Sequence[ImageArray]],
        count: int,
        views: tuple[Sequence[Hashable], Sequence[Hashable | None]] | None = None,
    ) -> list[dict[str, HeadScores]]:
        """Every member's heads on the crops cut with its margin (``cuts[None]``: one cut for all).

        ``views``: each crop's camera and track, for the colour recogniser's camera adaptation (None: no camera).
        """
        merged: list[dict[str, HeadScores]] = [{} for _ in range(count)]
        if not count:
            return merged
        members: list[tuple[CropClassifier, float | None]] = [
            (clf, margin if margin in cuts else None)
            for clf, margin in zip(self.classifiers, self.margins, strict=True)
        ]
        for clf, margin in members:
            for heads, scores in zip(merged, clf.classify(cuts[margin]), strict=True):
                heads.update(scores)
        if self.color_recognizer is not None:
            margin = self.crop_margin if self.crop_margin in cuts else None
            for heads, scores in zip(merged, self._colour(cuts[margin], views), strict=True):
                heads.update(scores)
        return merged

    def _colour(
        self, crops: Sequence[ImageArray], views: tuple[Sequence[Hashable], Sequence[Hashable | None]] | None
    ) -> list[dict[str, HeadScores]]:
        """The colour recogniser's heads; with camera adaptation, each crop corrected for its camera first (from
        earlier batches' statistics), and the camera then learns from these crops."""
        assert self.color_recognizer is not None
        if self.camera_adapters is None or views is None:
            return self.color_recognizer.classify(crops)
        cameras, tracks = views
        recognizer = cast(_CameraAwareRecognizer, self.color_recognizer)
        scores = recognizer.classify(crops, corrections=self.camera_adapters.corrections(cameras))
        self.camera_adapters.update(crops, self.crop_margin, cameras, tracks)
        return scores

    def _finish(
        self, merged: Sequence[dict[str, HeadScores]], facts: Sequence[CropFacts] | None
    ) -> list[Classification]:
        """Calibrated, then without the heads that abstain on their crop."""
        calibrated = self.calibration.apply([Classification(heads) for heads in merged])
        return calibrated if facts is None else apply_abstention(calibrated, facts, self.abstain)

    def classify_boxes(
        self,
        items: Sequence[tuple[ImageArray, Detections]],
        *,
        cameras: CameraKeys | None = None,
        tracks: TrackKeys | None = None,
    ) -> CropResults:
        """Classifies every box of a detector batch (several frames, several boxes each).

        Boxes are cropped with ``crop_margin`` of context (clipped to the frame); boxes whose visible shorter side
        is under ``min_crop_size`` are skipped and counted. All crops of all frames go to each model together.
        Every box given is classified: filter the detections to vehicles first.

        Args:
            items: ``(frame image, its detections)`` pairs; images are BGR uint8 ``(h, w, 3)``.
            cameras: per frame, its camera, so that the colour recogniser adapts to each camera (with
                ``camera_adaptation``); None: no adaptation for this batch.
            tracks: per frame, per box, its track (so one vehicle seen for an hour counts once in its camera's
                statistics); None: every box is a vehicle of its own.

        Raises:
            ValueError: an image is not a BGR uint8 image, or ``cameras``/``tracks`` does not have one entry per
                frame.
        """
        if not len(self):
            for f, (image, _) in enumerate(items):
                check_image(image, f"frame {f}")
            return CropResults(tuple((None,) * len(d) for _, d in items), classified=0, skipped_small=0)
        batch = cut_crops(items, self.crop_margin, self.min_crop_size)
        # Models with a margin of their own get crops cut with it (same boxes, same order).
        cuts: dict[float | None, Sequence[ImageArray]] = {self.crop_margin: batch.crops}
        for margin in set(self.margins) - {self.crop_margin}:
            cuts[margin] = cut_crops(items, margin, self.min_crop_size).crops
        pairs = list(zip(batch.frame_index.tolist(), batch.box_index.tolist(), strict=True))
        facts = [crop_facts(items[f][0], items[f][1].boxes[b]) for f, b in pairs]
        views = None
        if cameras is not None:
            if len(cameras) != len(items) or (tracks is not None and len(tracks) != len(items)):
                raise ValueError(f"need one camera (and one track list) per frame, got {len(cameras)} for {len(items)}")
            views = ([cameras[f] for f, _ in pairs], [_track(tracks, f, b) for f, b in pairs])
        raw = self._raw(cuts, len(batch), views)
        results = self._finish(raw, facts)
        if views is not None and self.adaptations is not None:
            results = self._adapt(raw, results, views[0])
        return self._map_back(batch, results)

    def _adapt(
        self, raw: Sequence[dict[str, HeadScores]], results: list[Classification], cameras: Sequence[Hashable]
    ) -> list[Classification]:
        """Each adapted camera's heads replaced by its adapted version of the raw scores (which carries its own
        calibration and abstention threshold); heads the rules already dropped (a small box, bad exposure) stay
        dropped."""
        assert self.adaptations is not None
        rows_by_camera: dict[str, list[int]] = {}
        for i, camera in enumerate(cameras):
            rows_by_camera.setdefault(str(camera), []).append(i)
        heads = [dict(c.heads) for c in results]
        changed = False
        for camera, rows in rows_by_camera.items():
            adapted = self.adaptations.for_camera(camera)
            if adapted is None:
                continue
            for head in sorted(adapted.heads):
                kept = [i for i in rows if head in heads[i] and head in raw[i]]
                if not kept:
                    continue
                labels = raw[kept[0]][head].labels
                found = self.adaptations.apply(camera, head, labels, np.stack([raw[i][head].probs for i in kept]))
                if found is None:
                    continue
                probs, abstain, _version = found
                changed = True
                new_probs = probs.astype(np.float32)
                new_probs.flags.writeable = False  # rows are shared by frozen HeadScores
                for i, row, drop in zip(kept, new_probs, abstain, strict=True):
                    if drop:
                        del heads[i][head]
                    else:
                        heads[i][head] = HeadScores(head, labels, row)
        return [Classification(h) for h in heads] if changed else results

    def decided_by(self, camera_id: str) -> dict[str, str]:
        """Head → which version decides it on this camera now: ``camera/vNNNN`` (an adapted head) or "base"."""
        if self.adaptations is None:
            return dict.fromkeys(self.heads, BASE_VERSION)
        return self.adaptations.decided_by(camera_id, list(self.heads))

    @staticmethod
    def _map_back(batch: CropBatch, classifications: Sequence[Classification]) -> CropResults:
        frames: list[list[Classification | None]] = [[None] * n for n in batch.box_counts]
        for f, b, classification in zip(batch.frame_index, batch.box_index, classifications, strict=True):
            frames[f][b] = classification
        return CropResults(
            frames=tuple(tuple(boxes) for boxes in frames),
            classified=len(classifications),
            skipped_small=batch.skipped,
        )

    def classify_images(self, images: Sequence[ImageArray]) -> list[Classification]:
        """Classifies whole images, each taken as one crop (for ``classify IMAGE`` on ready-cut vehicle photos).

        Raises:
            ValueError: an image is not a BGR uint8 image.
        """
        for i, image in enumerate(images):
            check_image(image, f"image {i}")
        whole = [crop_facts(image, np.array([0, 0, image.shape[1], image.shape[0]], np.float32)) for image in images]
        return self.classify_crops(images, whole)


def _one_box(box: NDArray[np.float32]) -> Detections:
    """One vehicle box as detections (for cutting it with each member's margin)."""
    return Detections(
        boxes=np.asarray(box, np.float32).reshape(1, 4),
        scores=np.ones(1, np.float32),
        class_ids=np.zeros(1, np.int32),
        class_names=("vehicle",),
    )


def _track(tracks: TrackKeys | None, frame: int, box: int) -> Hashable | None:
    """Box ``box`` of frame ``frame``'s track key (None: untracked)."""
    if tracks is None or tracks[frame] is None:
        return None
    found = tracks[frame]
    assert found is not None
    key = found[box]
    # numpy integers hash like ints but print as np.int64: keep plain Python keys.
    return int(key) if isinstance(key, np.integer) else key
