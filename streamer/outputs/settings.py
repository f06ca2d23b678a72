"""Configuration of alert delivery to HTTP endpoints (``webhooks``).

Settings only: config loading imports this module, so it imports no runtime code.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from common.paths import ConfigPath
from common.secrets import SecretUrl

DEFAULT_DEAD_LETTER_STREAM = "vehiclewatch:alerts:dead"


class WebhookSettings(BaseModel):
    """One HTTP endpoint that receives every alert as JSON, signed with HMAC-SHA256."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Name of the endpoint; its consumer group is named after it."
    )
    url: SecretUrl = Field(description="Where alerts are POSTed (http:// or https://); never logged in full.")
    secret_file: ConfigPath | None = Field(
        default=None,
        description=(
            "File holding the HMAC key; the body is signed as `X-Vehiclewatch-Signature: sha256=<hex>` of "
            "`<timestamp>.<body>`. None: unsigned."
        ),
    )
    group: str | None = Field(default=None, description="Redis consumer group (default `vehiclewatch:webhook:<name>`).")
    timeout_s: float = Field(default=5.0, gt=0, description="Timeout of one delivery attempt.")
    max_attempts: int = Field(
        default=8,
        ge=1,
        description=(
            "Attempts per alert before it goes to the dead-letter stream; with the default backoff (1, 2, 4, 8, 16, "
            "30, 30 s) an endpoint may be down about 90 s without an alert being dead-lettered."
        ),
    )
    backoff_initial_s: float = Field(default=1.0, gt=0, description="Wait after the first failed attempt.")
    backoff_max_s: float = Field(
        default=30.0, gt=0, description="Longest wait between attempts (the wait doubles up to it)."
    )


class WebhookDeliverySettings(BaseModel):
    """Alerts delivered to HTTP endpoints by Redis consumer groups (at least once; de-duplicate on alert_id)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoints: tuple[WebhookSettings, ...] = Field(default=(), description="The endpoints; none: no webhooks.")
    dead_letter_stream: str = Field(
        default=DEFAULT_DEAD_LETTER_STREAM,
        description="Where alerts that failed `max_attempts` times go (field `alert`, plus `webhook` and `error`).",
    )


class MqttSettings(BaseModel):
    """Alerts published to an MQTT broker (the `mqtt` extra: paho-mqtt), by a Redis consumer group."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=False, description="Publish every alert to the broker.")
    url: SecretUrl = Field(
        default=SecretUrl("mqtt://127.0.0.1:1883"),
        description="Broker: mqtt://[user:password@]host[:port] (mqtts:// for TLS); the password never logged.",
    )
    topic_prefix: str = Field(
        default="vehiclewatch/alerts", min_length=1, description="Alerts go to <prefix>/<camera_id>."
    )
    qos: int = Field(default=1, ge=0, le=2, description="MQTT quality of service (1: at least once).")
    retain: bool = Field(default=False, description="Ask the broker to keep the last alert per topic.")
    group: str = Field(default="vehiclewatch:mqtt", description="Redis consumer group of the publisher.")
    timeout_s: float = Field(default=10.0, gt=0, description="How long one publish waits for the broker's ack.")
