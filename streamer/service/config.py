"""The service's whole configuration: one YAML file plus environment variables, validated at start.

Precedence: command-line flags > environment (``VEHICLEWATCH_<SECTION>__<KEY>``, e.g.
``VEHICLEWATCH_REDIS__URL``) > the YAML file > defaults. Unknown keys are rejected with the key's name, and
``${NAME}`` placeholders in YAML strings are filled from the environment (see `streamer.service.substitution`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from classifiers.settings import ClassifierSettings
from common.paths import resolve_config_paths
from common.redaction import install_redacting_filter
from detectors.settings import DetectorSettings
from redisbus.settings import RedisSettings
from streamer.recognize.settings import PipelineSettings, TrackingSettings
from streamer.service.substitution import SubstitutionError, substitute
from streamer.sources.settings import CameraSettings
from watchlists.settings import AlertSettings, WatchlistSettings

ENV_PREFIX = "VEHICLEWATCH_"


class ConfigError(ValueError):
    """The configuration cannot be used; the message is one line naming the key."""


class MetricsSettings(BaseModel):
    """The Prometheus endpoint and health pages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="Serve /metrics, /healthz and /readyz.")
    host: str = Field(default="0.0.0.0", description="Address to listen on; 127.0.0.1 keeps it local.")
    port: int = Field(default=9108, ge=0, le=65535, description="Port to listen on (0: any free port).")


class ServiceSettings(BaseSettings):
    """Everything `vehiclewatch run` needs."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        nested_model_default_partial_update=True,
        hide_input_in_errors=True,  # inputs may hold RTSP or Redis passwords
    )

    cameras: tuple[CameraSettings, ...] = Field(min_length=1, description="The cameras (video sources) to watch.")
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

    @model_validator(mode="after")
    def _unique_camera_ids(self) -> ServiceSettings:
        seen: set[str] = set()
        for camera in self.cameras:
            if camera.id in seen:
                raise ValueError(f"camera id {camera.id!r} is used twice")
            seen.add(camera.id)
        return self

    # The YAML file arrives as init kwargs (see load_settings), so the environment ranks above it; _FlagsFirst
    # re-applies command-line flags, which rank above the environment.
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


class _FlagsFirst(ServiceSettings):
    """The same settings with init values (command-line flags) ranked above the environment."""

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


def read_yaml(path: Path) -> dict[str, Any]:
    """The config file as a mapping, with ``${NAME}`` placeholders filled."""
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


def load_settings(path: Path | None = None, overrides: dict[str, Any] | None = None) -> ServiceSettings:
    """Reads, merges and validates the configuration.

    Args:
        path: YAML file, or None for environment and overrides only.
        overrides: values from command-line flags, nested like the YAML; they win over the file.

    Raises:
        ConfigError: one line naming every bad key.
    """
    source = str(path) if path is not None else "settings"
    # Relative file paths (fields marked `RelativeToConfig`) in a config file are relative to the file, not to
    # where it is run from; in flags, to the working directory.
    data = resolve_config_paths(ServiceSettings, read_yaml(path), path.parent) if path is not None else {}
    flags = resolve_config_paths(ServiceSettings, overrides or {}, Path.cwd())
    try:
        settings = ServiceSettings(**_merge(data, flags))  # the environment ranks above file and flags here
        if not flags:
            return settings
        # Applied again on the environment-resolved values, where init values rank first: flags beat the environment.
        return _FlagsFirst(**_merge(settings.model_dump(), flags))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def configure_logging(level: str) -> None:
    """Plain one-line logs on stderr, with credentials redacted from every record."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_redacting_filter()
