"""Configuration of the crop classifiers: which plugins and models run, and how vehicle crops are cut for them.

Settings only: config loading imports this module, so it imports no model runtime.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from classifiers.adaptation.settings import AdaptationSettings
from classifiers.color.settings import ColorRecognizerSettings
from common.paths import ConfigPath
from detectors.providers import DEFAULT_PROVIDERS, PrecisionName, Providers, Runtime

DEFAULT_CROP_MARGIN = 0.05
# Abstention defaults, measured on traffic_crops_dev by `vehiclewatch watchlist calibrate` (docs/watchlists.md,
# "Alerts an operator can trust"): make is right on 97 % of the 31 make-labelled crops from 88 px up and on 40 % of
# the 42 below; colour is right on fewer than half of the re-exposed crops darker than 20 or brighter than 204.
DEFAULT_MAKE_MIN_BOX_SIDE = 88
DEFAULT_COLOR_MIN_LUMINANCE = 20.0
DEFAULT_COLOR_MAX_LUMINANCE = 204.0
DEFAULT_COLOR_MAX_CLIPPED = 0.5
DEFAULT_SHADE_MIN_CONFIDENCE = 0.75


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
            "outputs, run on ONNX Runtime or OpenVINO (see runtime)."
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
    runtime: Runtime = "auto"
    providers: Providers = DEFAULT_PROVIDERS
    precision: PrecisionName = Field(
        default="fp32",
        description=(
            "OpenVINO only: the precision it computes in (auto: its choice for this CPU, bf16 where the CPU has AMX "
            "or AVX-512 BF16). fp32 by default: bf16 changed the make model's top-1 on 2.8 % of 1000 Stanford Cars "
            "crops (accuracy 0.893 -> 0.886) for about 15 % more crops/s, on a stage that costs little. ONNX Runtime "
            "runs the file's own precision."
        ),
    )
    infer_requests: int = Field(
        default=2,
        ge=1,
        le=16,
        description=(
            "OpenVINO only: crops inferred in parallel, one CPU stream each (OpenVINO's THROUGHPUT hint; 1: its "
            "LATENCY hint, one crop at a time on every core). A dynamic batch runs as one crop per inference. On a "
            "2-core CPU the make model measured 1.4x the crops/s of 1 request with 2 (as fast as ONNX Runtime in "
            "fp32 on a quiet machine, faster when other work loads the cores)."
        ),
    )
    max_batch: int = Field(
        default=32,
        ge=1,
        description=(
            "Most crops per inference call: bigger batches use a GPU better but hold more memory. "
            "Models with a static batch dimension run with that size instead."
        ),
    )
    intra_op_threads: int = Field(
        default=0,
        ge=0,
        description=(
            "Threads one inference may use: ONNX Runtime's threads inside one operator, OpenVINO's inference threads "
            "(0: the runtime's choice, one per physical core)."
        ),
    )
    crop_margin: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description=(
            "Context around the box for this model's crops, as a fraction of the box's size (None: "
            "classifiers.crop_margin). Give each model the crop it was trained on: the make model reads the tight "
            "box best (0.0; docs/watchlists.md), colour likes some context."
        ),
    )

    @field_validator("heads")
    @classmethod
    def _distinct_heads(cls, heads: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if heads is not None and len(set(heads)) != len(heads):
            raise ValueError(f"heads lists an output twice: {list(heads)}")
        return heads


class AbstentionSettings(BaseModel):
    """When a head abstains: its claim is dropped from the crop's classification, so the field it judges counts as
    unknown (a watchlist entry that needs it cannot match on that view; other views of the track still can).

    The defaults were measured on the labelled camera crops of ``traffic_crops_dev`` (docs/watchlists.md,
    "Alerts an operator can trust").
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="Apply the rules below; false: every head always answers.")
    make_min_box_side: int = Field(
        default=DEFAULT_MAKE_MIN_BOX_SIDE,
        ge=0,
        description=(
            "The make heads (make, make_model) abstain on boxes whose shorter side (in the frame, before the "
            "margin) is below this many pixels: badges are not legible there and the make model guesses "
            "confidently and wrongly. 0: never."
        ),
    )
    color_min_luminance: float = Field(
        default=DEFAULT_COLOR_MIN_LUMINANCE,
        ge=0.0,
        le=255.0,
        description=(
            "The colour heads (color, color_shade) abstain when the mean luminance (0-255) of the box's body "
            "region is below this: the paint cannot be seen in the dark."
        ),
    )
    color_max_luminance: float = Field(
        default=DEFAULT_COLOR_MAX_LUMINANCE,
        ge=0.0,
        le=255.0,
        description="The colour heads abstain when the body region's mean luminance is above this (blown out).",
    )
    color_max_clipped: float = Field(
        default=DEFAULT_COLOR_MAX_CLIPPED,
        ge=0.0,
        le=1.0,
        description=(
            "The colour heads abstain when more than this share of the body region's pixels is clipped (luminance "
            "at most 4 or at least 251): under- or over-exposure hides the paint."
        ),
    )
    shade_min_confidence: float = Field(
        default=DEFAULT_SHADE_MIN_CONFIDENCE,
        ge=0.0,
        le=1.0,
        description=(
            "The color_shade head (dark/light) abstains unless its top probability reaches this; an entry's shade "
            "('dark blue') is then judged on the colour alone."
        ),
    )


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
    calibration: ConfigPath | None = Field(
        default=None,
        description=(
            "Calibration file (YAML/JSON written by `vehiclewatch watchlist calibrate`): a temperature or isotonic "
            "table per head, fitted on camera crops, applied to every crop's probabilities. None: raw probabilities."
        ),
    )
    abstain: AbstentionSettings = Field(
        default_factory=AbstentionSettings, description="When a head abstains instead of guessing."
    )
    adaptation: AdaptationSettings = Field(
        default_factory=AdaptationSettings,
        description="Per-camera adapted heads taught by operators' labels (docs/adaptation.md).",
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
    head_exponents: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "Per head, an agreement_exponent of its own (e.g. {color: 0.0}). A calibration file's fitted exponents "
            "(`vehiclewatch watchlist calibrate`, fitted on vehicles) apply to the heads not named here."
        ),
    )

    @field_validator("head_exponents")
    @classmethod
    def _exponents_in_range(cls, exponents: dict[str, float]) -> dict[str, float]:
        for head, exponent in exponents.items():
            if not 0.0 <= exponent <= 1.0:
                raise ValueError(f"head_exponents.{head}: {exponent} is not between 0 and 1")
        return exponents

    def exponent(self, head: str) -> float:
        """The agreement exponent that sharpens ``head``."""
        return self.head_exponents.get(head, self.agreement_exponent)

    def check_heads(self, heads: Iterable[str]) -> None:
        """Raises ValueError (one line) when ``head_exponents`` names a head none of ``heads`` is (a typo such as
        ``colour`` would otherwise be ignored in silence)."""
        known = set(heads)
        for head in self.head_exponents:
            if head not in known:
                raise ValueError(
                    f"tracking.fusion.head_exponents: no loaded classifier has a head {head!r} "
                    f"(heads: {', '.join(sorted(known)) or 'none'})"
                )

    def for_head(self, head: str) -> FusionSettings:
        """Settings that fuse every head as these fuse ``head`` (its exponent as the only one)."""
        return self.model_copy(update={"agreement_exponent": self.exponent(head), "head_exponents": {}})

    def with_fitted(self, fitted: Mapping[str, float]) -> FusionSettings:
        """These settings with ``fitted`` per-head exponents for the heads that have none of their own here.

        Example:
            >>> FusionSettings(head_exponents={"make": 0.5}).with_fitted({"color": 0.0, "make": 1.0}).head_exponents
            {'color': 0.0, 'make': 0.5}
        """
        if not fitted:
            return self
        return self.model_copy(update={"head_exponents": {**fitted, **self.head_exponents}})
