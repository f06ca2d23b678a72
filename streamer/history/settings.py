"""Configuration of the sightings history (``history``). Settings only: config loading imports this module."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from common.paths import ConfigPath
from common.secrets import SecretUrl


class HistorySettings(BaseModel):
    """The archiver: alerts and track summaries from their streams into a database, snapshots on disk."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        default=False, description="Run the archiver in the service (needs the `[web]` extra: SQLAlchemy)."
    )
    database: SecretUrl | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL: `sqlite:///path/sightings.sqlite3` or `postgresql+psycopg://user:pw@host/db` (the "
            "password never logged). None: `history/sightings.sqlite3` in the data directory."
        ),
    )
    snapshots_dir: ConfigPath | None = Field(
        default=None, description="Where snapshot JPEGs are kept (None: `history/snapshots` in the data directory)."
    )
    labels_dir: ConfigPath | None = Field(
        default=None,
        description=(
            "Where operators' labelled views and label exports are kept (they outlive the retention); None: "
            "`labels` in the data directory."
        ),
    )
    retention_days: float = Field(
        default=30.0, gt=0, description="Sightings (and their snapshots) older than this are deleted."
    )
    group: str = Field(default="vehiclewatch:history", description="Redis consumer group of the archiver.")
