"""Configuration of watchlist matching, alert publishing and the Redis connection."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from watchlists.alerts import DEFAULT_TOP_K
from watchlists.matching import DEFAULT_THRESHOLD
from watchlists.store import DEFAULT_CHANGES_CHANNEL, DEFAULT_ENTRIES_KEY

DEFAULT_STREAM = "vehiclewatch:alerts"
DEFAULT_CHANNEL = "vehiclewatch:alerts"
DEFAULT_SNAPSHOT_PREFIX = "vehiclewatch:snapshot:"
DEFAULT_EMBEDDED_PORT = 6390


class WatchlistSettings(BaseModel):
    """Which watchlist is matched, and how strictly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path | None = Field(default=None, description="Watchlist YAML file; None runs without a watchlist.")
    default_threshold: float = Field(
        default=DEFAULT_THRESHOLD,
        gt=0.0,
        le=1.0,
        description=(
            "Score an entry needs when it sets no threshold of its own: the estimated probability that the vehicle "
            "is what the entry describes. Lower catches uncertain sightings and raises more false alerts."
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
        description="Alerts held in memory while Redis is slow or down; beyond it submit() waits (back-pressure).",
    )
    submit_timeout_s: float = Field(
        default=5.0,
        ge=0.0,
        description="How long submit() waits for room when max_pending alerts are queued before refusing the alert.",
    )
    retry_initial_s: float = Field(default=0.1, gt=0.0, description="First wait before retrying a failed write.")
    retry_max_s: float = Field(default=5.0, gt=0.0, description="Longest wait between retries (doubling, jittered).")


class RedisSettings(BaseModel):
    """The Redis server: an external one by URL, or an embedded one started by the service.

    The password never appears in logs, errors or ``repr``; prefer ``password_file`` (a Docker/Kubernetes secret)
    or an environment variable over writing it into a config file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = Field(
        default=None,
        description=(
            "redis://host:6379/0, rediss://host:6380/0 (TLS) or unix:///path/redis.sock; None starts an embedded "
            "server (needs the 'embedded' extra)."
        ),
    )
    password: SecretStr | None = Field(default=None, description="Redis password (AUTH); not shown anywhere.")
    password_file: Path | None = Field(
        default=None, description="File holding the Redis password (read at connect, trailing newline dropped)."
    )
    embedded_port: int = Field(
        default=DEFAULT_EMBEDDED_PORT,
        ge=0,
        le=65535,
        description=(
            "TCP port of the embedded server on 127.0.0.1, so `vehiclewatch alerts tail` in another terminal can "
            "connect; 0: unix socket only."
        ),
    )
    embedded_dir: Path | None = Field(
        default=None,
        description="Directory of the embedded server's database file (kept across runs); None: a temporary one.",
    )
    socket_timeout_s: float = Field(default=5.0, gt=0.0, description="Seconds a Redis command may take.")
    connect_timeout_s: float = Field(default=5.0, gt=0.0, description="Seconds connecting to Redis may take.")
    retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description=(
            "Times the client retries one command after a connection error (short jittered backoff) before failing "
            "it; the alert publisher and consumer retry on top of that, without limit."
        ),
    )

    @model_validator(mode="after")
    def _one_password(self) -> RedisSettings:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give the Redis password or password_file, not both")
        return self
