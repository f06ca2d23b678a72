"""Settings of the Redis connection, alone in their module so that config loading imports no Redis client code."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from common.paths import ConfigPath

DEFAULT_EMBEDDED_PORT = 6390


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
