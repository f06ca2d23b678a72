"""Configuration of the colour recogniser in the service (``classifiers.color_recognizer``); settings only."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from common.paths import ConfigPath
from detectors.providers import DEFAULT_PROVIDERS, Providers, Runtime


class ColorRecognizerSettings(BaseModel):
    """A colour recogniser file used as the ``color`` (and ``color_shade``) head of the classifier bank.

    Example:
        >>> ColorRecognizerSettings(file=Path("out/color/recognizer.yaml")).max_batch
        32
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["color_recognizer"] = Field(
        default="color_recognizer",
        description="Classifier plugin (`classifiers.registry`): color_recognizer, the only type this section takes.",
    )
    file: ConfigPath = Field(
        description=(
            "Colour recogniser file (YAML written by `python -m classifiers.color.build`): its member models "
            "(by path) and their fitted combination. Do not also list a model with a 'color' head."
        )
    )
    runtime: Runtime = "auto"
    providers: Providers = DEFAULT_PROVIDERS
    max_batch: int = Field(default=32, ge=1, description="Most crops per member-model inference call.")
    camera_adaptation: bool = Field(
        default=True,
        description=(
            "Learn each camera's black and white levels from the vehicles it sees and correct a washed-out "
            "(dim, hazy, low-contrast) camera into the range of the cameras the recogniser was fitted on "
            "(docs/color.md); needs a recogniser file with a 'camera:' section (older files: no correction)."
        ),
    )
