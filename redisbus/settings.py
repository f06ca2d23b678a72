"""Settings of the Redis connection, alone in their module so that config loading imports no Redis client code."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from common.paths import ConfigPath
from common.secrets import SecretUrl

DEFAULT_EMBEDDED_PORT = 6390
DEFAULT_DEDUP_TTL_S = 86_400

FsyncPolicy = Literal["always", "interval", "never"]


class SpoolSettings(BaseModel):
    """The spool (:mod:`redisbus.spool`): alerts and track events are written to disk before they are accepted, and
    removed once in Redis.

    Every policy keeps an accepted alert through a crash or ``kill -9`` of the service (the record is in the
    operating system's hands before ``submit`` returns); ``fsync`` decides what survives a power loss or kernel crash.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        default=True,
        description=(
            "Spool alerts and track events on disk until Redis has them (survives a restart, crash or OOM kill "
            "while Redis is away). False: they wait in memory only (alerts.max_pending, tracking.events.max_pending)."
        ),
    )
    dir: ConfigPath | None = Field(
        default=None,
        description=(
            "Directory of the spool file; None: spool/ in the data directory ($XDG_DATA_HOME/vehiclewatch, else "
            "~/.local/share/vehiclewatch). One running service per directory."
        ),
    )
    fsync: FsyncPolicy = Field(
        default="always",
        description=(
            "When the spool is flushed to the disk: always (before each alert is accepted; survives a power loss), "
            "interval (every fsync_interval_ms: a power loss may lose that much), never (left to the OS)."
        ),
    )
    fsync_interval_ms: int = Field(
        default=1000, ge=10, le=60_000, description="Flush period of fsync: interval, in milliseconds."
    )
    max_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=64 * 1024,
        description=(
            "Most bytes of spooled records (crops included). When full, a new track event is dropped, and a new "
            "alert evicts the oldest track events; an alert that still does not fit is refused. All counted."
        ),
    )
    dedup_ttl_s: int = Field(
        default=DEFAULT_DEDUP_TTL_S,
        ge=60,
        description=(
            "Seconds Redis remembers each written alert/event id, so a record replayed after a crash is never "
            "added twice (a replay later than this after its first write could be)."
        ),
    )


class RedisSettings(BaseModel):
    """The Redis server: an external one by URL, or an embedded one started by the service.

    The password never appears in logs, errors or ``repr``; prefer ``password_file`` (a Docker/Kubernetes secret)
    or an environment variable over writing it into a config file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)  # inputs may be secrets

    url: SecretUrl | None = Field(
        default=None,
        description=(
            "redis://host:6379/0, rediss://host:6380/0 (TLS) or unix:///path/redis.sock; None starts an embedded "
            "server (needs the 'embedded' extra). A password in it is shown as ***."
        ),
    )
    password: SecretStr | None = Field(default=None, description="Redis password (AUTH); not shown anywhere.")
    password_file: ConfigPath | None = Field(
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
    embedded_dir: ConfigPath | None = Field(
        default=None,
        description=(
            "Directory of the embedded server's data (AOF and snapshot, kept across runs); None: redis/ in the data "
            "directory ($XDG_DATA_HOME/vehiclewatch, else ~/.local/share/vehiclewatch)."
        ),
    )
    embedded_persist: bool = Field(
        default=True,
        description="Keep the embedded server's data (append-only file); False: a temporary database, gone at exit.",
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

    spool: SpoolSettings = Field(
        default_factory=SpoolSettings,
        description="On-disk spool of alerts and track events until Redis has them (an external or embedded Redis).",
    )

    @model_validator(mode="after")
    def _one_password(self) -> RedisSettings:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give the Redis password or password_file, not both")
        return self
