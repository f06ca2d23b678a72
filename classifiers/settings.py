"""Configuration of the crop classifiers: which ONNX models run, and how vehicle crops are cut for them."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from classifiers.color.settings import ColorRecognizerSettings
from detectors.runtime import DEFAULT_PROVIDERS, Providers


class ClassifierModelSettings(BaseModel):
    """One classifier ONNX file; its labels and preprocessing come from its metadata or sidecar YAML.

    Example:
        >>> ClassifierModelSettings(model=Path("models/spectrico_make_mobilenetv3_224.onnx")).max_batch
        32
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Path = Field(description="Path of the classifier ONNX file (a sidecar <model>.yaml next to it is read too).")
    name: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Head name for a model used through one output (default: the manifest's task, e.g. 'make'). "
            "Models used through several outputs name each head after its output (e.g. 'color', 'type')."
        ),
    )
    heads: tuple[str, ...] | None = Field(
        default=None,
        min_length=1,
        description=(
            "Output names to use (default: every output that has labels; unlabelled outputs such as "
            "'embedding' are always ignored)."
        ),
    )
    providers: Providers = DEFAULT_PROVIDERS
    max_batch: int = Field(
        default=32,
        ge=1,
        description=(
            "Most crops per session.run: bigger batches use the accelerator better but hold more memory. "
            "Models with a static batch dimension run with that size instead."
        ),
    )

    @field_validator("heads")
    @classmethod
    def _distinct_heads(cls, heads: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if heads is not None and len(set(heads)) != len(heads):
            raise ValueError(f"heads lists an output twice: {list(heads)}")
        return heads


class ClassifierSettings(BaseModel):
    """All crop classifiers and how crops are cut from detector boxes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: tuple[ClassifierModelSettings, ...] = Field(
        default=(), description="Classifier models to run on every vehicle crop (none: vehicles are not classified)."
    )
    color_recognizer: ColorRecognizerSettings | None = Field(
        default=None,
        description=(
            "Colour recogniser (docs/color.md): an ensemble robust to camera footage that provides the 'color' "
            "and 'color_shade' heads; None: colour comes from the models above, if any."
        ),
    )
    top_k: int = Field(default=3, ge=1, description="How many best labels per head events and the CLI report.")
    crop_margin: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description=(
            "Context added around each box, as a fraction of the box's width (left and right) and height "
            "(top and bottom); the crop is clipped to the frame."
        ),
    )
    min_crop_size: int = Field(
        default=32,
        ge=1,
        description=(
            "Boxes whose shorter side (inside the frame, before the margin) is below this many pixels are not "
            "classified but counted: tiny crops give confident nonsense."
        ),
    )
