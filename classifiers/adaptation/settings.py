"""Configuration of per-camera adapted heads in the service (settings only: config loading imports it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from common.paths import ConfigPath


class AdaptationSettings(BaseModel):
    """Where the service finds each camera's adapted heads and how soon it sees a new version.

    Example:
        >>> AdaptationSettings().reload_s
        2.0
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        default=True,
        description=(
            "Apply each camera's current adapted heads (built by `vehiclewatch adapt` or the review page's Adapt "
            "button from operators' labels); false: the base models decide on every camera."
        ),
    )
    dir: ConfigPath | None = Field(
        default=None,
        description=(
            "The adaptation store: <dir>/<camera>/vNNNN.npz and a CURRENT pointer per camera. "
            "Default: <data dir>/adapted (VEHICLEWATCH_DATA_DIR)."
        ),
    )
    reload_s: float = Field(
        default=2.0,
        gt=0.0,
        le=3600.0,
        description="How often, at most, a camera's CURRENT pointer is looked at: a new version decides within this.",
    )
