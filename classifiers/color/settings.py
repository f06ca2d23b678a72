"""Configuration of the colour recogniser in the service (``classifiers.color_recognizer``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from detectors.runtime import DEFAULT_PROVIDERS, Providers


class ColorRecognizerSettings(BaseModel):
    """A colour recogniser file used as the ``color`` (and ``color_shade``) head of the classifier bank.

    Example:
        >>> ColorRecognizerSettings(file=Path("out/color/recognizer.yaml")).max_batch
        32
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: Path = Field(
        description=(
            "Colour recogniser file (YAML written by `python -m classifiers.color.build`): its member models "
            "(by path) and their fitted combination. Do not also list a model with a 'color' head."
        )
    )
    providers: Providers = DEFAULT_PROVIDERS
    max_batch: int = Field(default=32, ge=1, description="Most crops per member-model inference call.")
