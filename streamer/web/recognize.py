"""What ``POST /v1/recognize`` answers, and the batched recognition behind it (no web stack here).

A batch of images goes through the detector once (chunked by its ``max_batch``) and through every classifier
once (`classifiers.bank.ClassifierBank.classify_boxes`); an image in which the detector finds no vehicle is
classified whole, as one crop (a close-up photo of a car), and says so (``whole_image``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from watchlists.alerts import Box, LabelProb

if TYPE_CHECKING:
    from classifiers.bank import ClassifierBank
    from classifiers.types import Classification
    from detectors.base import Detector

TOP5_HEADS = ("make_model", "make")
"""Heads the seed's top-5 answer is read from: make+model when such a model is configured, else make."""


class RecognizedVehicle(BaseModel):
    """One vehicle in the image."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    box: Box = Field(description="Box in image pixels (the whole image when whole_image is true).")
    detector_class: str | None = Field(description="Detector class (car, bus, truck, ...); null for a whole image.")
    detector_confidence: float | None = Field(description="Detector score; null for a whole image.")
    heads: dict[str, list[LabelProb]] = Field(
        description="Classifier head (make, make_model, color, type, ...) → its top-k labels with probabilities."
    )


class RecognizeResult(BaseModel):
    """The answer for one image."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(description="Image width, pixels.")
    height: int = Field(description="Image height, pixels.")
    whole_image: bool = Field(description="No vehicle was detected: the whole image was classified as one crop.")
    vehicles: list[RecognizedVehicle] = Field(description="Vehicles, largest first.")


class Top5Label(BaseModel):
    """One entry of the seed API's answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    make_model: str = Field(description="Label (make and model, or make when no make+model model is configured).")
    percent: float = Field(ge=0, le=100, description="Probability in percent, two decimals.")


def _heads(classification: Classification | None, top_k: int) -> dict[str, list[LabelProb]]:
    if classification is None:
        return {}
    return {
        head: [LabelProb(label=s.label, prob=min(max(float(s.prob), 0.0), 1.0)) for s in scores]
        for head, scores in classification.top(top_k).items()
    }


def top5(result: RecognizeResult) -> list[Top5Label]:
    """The seed's answer: the largest vehicle's five best make+model (else make) labels, in percent."""
    for vehicle in result.vehicles:
        for head in TOP5_HEADS:
            if head in vehicle.heads:
                return [
                    Top5Label(make_model=label.label, percent=round(label.prob * 100, 2))
                    for label in vehicle.heads[head][:5]
                ]
    return []


class Recognizer:
    """Detector + classifier bank, run on batches of images (the `MicroBatcher`'s batch function)."""

    def __init__(self, detector: Detector | None, bank: ClassifierBank, top_k: int = 5) -> None:
        self.detector = detector
        self.bank = bank
        self.top_k = top_k

    def __call__(self, images: Sequence[NDArray[np.uint8]]) -> list[RecognizeResult]:
        found = self.detector.detect(list(images)) if self.detector is not None else []
        results: list[RecognizeResult | None] = [None] * len(images)
        with_boxes = [i for i, d in enumerate(found) if len(d)]
        if with_boxes:
            per_frame = self.bank.classify_boxes([(images[i], found[i]) for i in with_boxes]).frames
            for i, classified in zip(with_boxes, per_frame, strict=True):
                d = found[i]
                order = np.argsort(-(d.widths * d.heights), kind="stable")
                vehicles = [
                    RecognizedVehicle(
                        box=Box(**dict(zip(("x1", "y1", "x2", "y2"), (float(v) for v in d.boxes[j]), strict=True))),
                        detector_class=d.class_names[j],
                        detector_confidence=float(d.scores[j]),
                        heads=_heads(classified[j], self.top_k),
                    )
                    for j in order.tolist()
                ]
                h, w = images[i].shape[:2]
                results[i] = RecognizeResult(width=w, height=h, whole_image=False, vehicles=vehicles)
        whole = [i for i in range(len(images)) if results[i] is None]
        if whole:
            for i, classification in zip(whole, self.bank.classify_images([images[i] for i in whole]), strict=True):
                h, w = images[i].shape[:2]
                vehicle = RecognizedVehicle(
                    box=Box(x1=0, y1=0, x2=float(w), y2=float(h)),
                    detector_class=None,
                    detector_confidence=None,
                    heads=_heads(classification, self.top_k),
                )
                results[i] = RecognizeResult(width=w, height=h, whole_image=True, vehicles=[vehicle])
        return [r for r in results if r is not None]
