"""Configuration of the crop classifiers: which plugins and models run, and how vehicle crops are cut for them.

Settings only: config loading imports this module, so it imports no model runtime.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from classifiers.color.settings import ColorRecognizerSettings
from common.paths import ConfigPath
from detectors.providers import DEFAULT_PROVIDERS, Providers

DEFAULT_CROP_MARGIN = 0.05


class ClassifierModelSettings(BaseModel):
    """One classifier ONNX file; its labels and preprocessing come from its metadata or sidecar YAML.

    Example:
        >>> ClassifierModelSettings(model=Path("models/spectrico_make_mobilenetv3_224.onnx")).max_batch
        32
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["onnx"] = Field(
        default="onnx",
        description=(
            "Classifier plugin (`classifiers.registry`): onnx = an image classifier ONNX model with labelled "
            "outputs, run on ONNX Runtime."
        ),
    )
    model: ConfigPath = Field(
        description="Path of the classifier ONNX file (a sidecar <model>.yaml next to it is read too)."
    )
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
    intra_op_threads: int = Field(
        default=0,
        ge=0,
        description="ONNX Runtime threads inside one operator (0: ONNX Runtime's choice, one per physical core).",
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
        default=DEFAULT_CROP_MARGIN,
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


class FusionSettings(BaseModel):
    """How a track's views are fused into one label per head."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agreement_exponent: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description=(
            "How much agreeing views raise the confidence: the averaged log-probabilities are multiplied by "
            "views^exponent. 0: plain geometric mean (confidence never rises); 1: views as independent evidence "
            "(overconfident, since frames of one vehicle are correlated)."
        ),
    )
    floor_mass: float = Field(
        default=0.05,
        gt=0.0,
        lt=1.0,
        description=(
            "Each label counts as at least floor_mass / (number of labels) in every view, so one view that gives "
            "a label ~0 cannot veto it (a single view's distribution moves by at most this mass). Higher makes "
            "fusion more forgiving of outlier views."
        ),
    )
