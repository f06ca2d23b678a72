"""Errors for bad training or evaluation input: one clear line naming the thing that is wrong."""

from __future__ import annotations


class TrainingError(ValueError):
    """Base class: training or evaluation cannot go on with the input it was given."""


class DatasetError(TrainingError):
    """A labelled image folder or ``labels.csv`` is unusable (missing images, bad columns, too few images)."""


class BackboneError(TrainingError):
    """A backbone ONNX model does not offer what training needs (an ``embedding`` output, an image input)."""
