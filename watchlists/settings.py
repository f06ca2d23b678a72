"""Configuration of watchlist matching, alert publishing and track events (the Redis connection:
:mod:`redisbus.settings`).

Settings only: config loading imports this module, so it imports no runtime code. The defaults the runtime modules
share with the settings (matching threshold, Redis key names) are defined here and imported by them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from common.paths import ConfigPath

DEFAULT_THRESHOLD = 0.5
"""Score an entry needs when it sets no threshold of its own (`watchlists.matching`)."""
DEFAULT_TOP_K = 3
"""Labels per classifier head kept in an alert (`watchlists.alerts`)."""
DEFAULT_ENTRIES_KEY = "vehiclewatch:watchlist"
"""Redis hash of the managed watchlist entries (`watchlists.store`)."""
DEFAULT_CHANGES_CHANNEL = "vehiclewatch:watchlist:changes"
"""Redis channel announcing changes to the managed entries (`watchlists.store`)."""
DEFAULT_STREAM = "vehiclewatch:alerts"
DEFAULT_CHANNEL = "vehiclewatch:alerts"
DEFAULT_SNAPSHOT_PREFIX = "vehiclewatch:snapshot:"
DEFAULT_TRACK_STREAM = "vehiclewatch:tracks"
DEFAULT_TRACK_SNAPSHOT_PREFIX = "vehiclewatch:track-snapshot:"


class WatchlistSettings(BaseModel):
    """Which watchlist is matched, and how strictly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: ConfigPath | None = Field(default=None, description="Watchlist YAML file; None runs without a watchlist.")
    default_threshold: float = Field(
        default=DEFAULT_THRESHOLD,
        gt=0.0,
        le=1.0,
        description=(
            "Score an entry needs when it sets no threshold of its own: the estimated probability that the vehicle "
            "is what the entry describes. Lower catches uncertain sightings and raises more false alerts."
        ),
    )
    color_table: ConfigPath | None = Field(
        default=None,
        description=(
            "Measured colour table (YAML written by `vehiclewatch watchlist calibrate`): partial colour credit "
            "from the colour head's confusions on camera crops, replacing the hand-set table for the colours it "
            "has. None: the hand-set table (watchlists/colors.py)."
        ),
    )
    cooldown_s: float = Field(
        default=60.0, ge=0.0, description="Seconds between two alerts for the same entry on the same camera."
    )
    top_k: int = Field(default=DEFAULT_TOP_K, ge=1, le=20, description="Labels per classifier head kept in an alert.")
    reload_interval_s: float = Field(
        default=2.0,
        gt=0.0,
        le=3600.0,
        description=(
            "Reload cycle: how often the watchlist file, the revision of the Redis-managed entries and expiry times "
            "are checked. A change notified through Redis is picked up at once; an edited file within this time."
        ),
    )
    redis_entries: bool = Field(
        default=True,
        description=(
            "Also match the entries managed in Redis (`vehiclewatch watchlist add/remove/import`), shared by every "
            "worker; a Redis entry replaces a file entry with the same id."
        ),
    )
    redis_key: str = Field(
        default=DEFAULT_ENTRIES_KEY, min_length=1, description="Redis hash of the managed entries (id → entry JSON)."
    )
    redis_channel: str = Field(
        default=DEFAULT_CHANGES_CHANNEL, min_length=1, description="Redis channel announcing changes to the entries."
    )


class AlertSettings(BaseModel):
    """Where and how alerts are written to Redis."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stream: str = Field(default=DEFAULT_STREAM, min_length=1, description="Redis stream the alerts are added to.")
    channel: str | None = Field(
        default=DEFAULT_CHANNEL, description="Pub/sub channel each alert is also published on; None: stream only."
    )
    stream_maxlen: int = Field(
        default=100_000,
        ge=1,
        description="Approximate cap on the stream's length (XADD MAXLEN ~): the oldest alerts are trimmed.",
    )
    snapshot_ttl_s: int = Field(default=3600, ge=1, description="Seconds a JPEG crop is kept in Redis.")
    snapshot_key_prefix: str = Field(
        default=DEFAULT_SNAPSHOT_PREFIX, description="Prefix of snapshot keys; the alert id follows."
    )
    jpeg_quality: int = Field(default=90, ge=1, le=100, description="JPEG quality of the crop snapshots.")
    max_pending: int = Field(
        default=10_000,
        ge=1,
        description=(
            "With the spool disabled: alerts held in memory while Redis is slow or down; beyond it submit() waits"
            " (back-pressure). With the spool (default) alerts wait on disk instead."
        ),
    )
    submit_timeout_s: float = Field(
        default=5.0,
        ge=0.0,
        description="With the spool disabled: how long submit() waits for room in a full memory queue before refusing.",
    )
    retry_initial_s: float = Field(default=0.1, gt=0.0, description="First wait before retrying a failed write.")
    retry_max_s: float = Field(default=5.0, gt=0.0, description="Longest wait between retries (doubling, jittered).")


class TrackEventSettings(BaseModel):
    """The track summary stream."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=False, description="Publish a summary event for every track when it ends.")
    stream: str = Field(default=DEFAULT_TRACK_STREAM, min_length=1, description="Redis stream the events go to.")
    stream_maxlen: int = Field(
        default=100_000, ge=1, description="Approximate cap on the stream's length (XADD MAXLEN ~)."
    )
    snapshot: bool = Field(default=True, description="Store each track's best crop as a JPEG next to its event.")
    snapshot_ttl_s: int = Field(default=3600, ge=1, description="Seconds a track snapshot is kept in Redis.")
    snapshot_key_prefix: str = Field(
        default=DEFAULT_TRACK_SNAPSHOT_PREFIX, description="Prefix of snapshot keys; the event id follows."
    )
    jpeg_quality: int = Field(default=85, ge=1, le=100, description="JPEG quality of the snapshots.")
    min_frames: int = Field(
        default=1, ge=1, description="Tracks seen in fewer frames than this publish no event (brief glimpses)."
    )
    top_k: int = Field(default=3, ge=1, le=20, description="Labels per classifier head kept in an event.")
    max_pending: int = Field(
        default=1000,
        ge=1,
        description="Events held in memory while Redis is slow or down; beyond it new events are dropped (counted).",
    )
    retry_initial_s: float = Field(default=0.1, gt=0.0, description="First wait before retrying a failed write.")
    retry_max_s: float = Field(default=5.0, gt=0.0, description="Longest wait between retries (doubling, jittered).")
