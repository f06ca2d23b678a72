"""`vehiclewatch sightings search|similar`: the history's queries from the command line (same as GET /v1/sightings)
and `vehiclewatch api`: the recognise API alone, without cameras (models and a tokens file)."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from streamer.cli.defaults import model_overrides
from streamer.cli.errors import clear_errors, fail
from streamer.cli.options import classifier_option, color_recognizer_option, detector_option, models_option
from streamer.cli.signals import on_signals

if TYPE_CHECKING:
    from streamer.history.store import Sighting, SightingsStore


def _store(config_path: Path | None, database: str | None) -> SightingsStore:
    try:
        from streamer.history.store import SightingsStore, database_url
    except ImportError as exc:
        fail(f"sightings needs the web extra (pip install 'vehiclewatch[web]'): {exc.name} is missing")
    from streamer.history.settings import HistorySettings
    from streamer.service.config import read_yaml

    values: dict[str, Any] = {}
    if config_path is not None:
        values = dict(read_yaml(config_path, ["history"]).get("history") or {})
    if database is not None:
        values["database"] = database
    settings = HistorySettings(**values)
    return SightingsStore.open(database_url(settings))


def _line(s: Sighting) -> str:
    parts = [
        s.first_seen.strftime("%Y-%m-%d %H:%M:%S"),
        s.camera_id,
        s.kind,
        " ".join(x for x in (s.color, s.make, s.model, s.body_type, s.detector_class) if x),
    ]
    if s.similarity is not None:
        parts.append(f"similarity {s.similarity:.2f}")
    if s.entry_id:
        parts.append(f"entry {s.entry_id}")
    return f"{s.id}  " + "  ".join(parts)


def _print(found: list[Sighting], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([s.model_dump(mode="json") for s in found], indent=2))
    else:
        for s in found:
            click.echo(_line(s))
        click.echo(f"{len(found)} sighting(s)", err=True)


config_option = click.option(
    "--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="Service config (its history)."
)
database_option = click.option("--database", help="SQLAlchemy URL of the history (default: the config's, or SQLite).")
json_option = click.option("--json", "as_json", is_flag=True, help="Whole sightings as JSON.")


@click.group()
def sightings() -> None:
    """Search the sightings history (history.enabled in the service)."""


@sightings.command()
@config_option
@database_option
@click.option("--camera")
@click.option("--since", type=click.DateTime(), help="UTC, e.g. 2026-12-06T14:00:00.")
@click.option("--until", type=click.DateTime(), help="UTC.")
@click.option("--time-of-day", help="HH:MM-HH:MM (UTC), e.g. 14:00-16:00.")
@click.option("--color", help="Colour; near colours count too (--exact-color: not).")
@click.option("--exact-color", is_flag=True)
@click.option("--make")
@click.option("--model", help="Part of the make+model label; * and ? wildcards.")
@click.option("--body-type")
@click.option("--plate", help="Plate text: * any run, ? one character.")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--kind", type=click.Choice(["track", "alert"]))
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@json_option
def search(
    config_path: Path | None, database: str | None, since: datetime | None, until: datetime | None, as_json: bool,
    **filters: Any,
) -> None:  # fmt: skip
    """Sightings matching every filter given, newest first."""
    from datetime import UTC

    from streamer.history.store import SightingsQuery

    with clear_errors():
        store = _store(config_path, database)
        query = SightingsQuery(
            since=since.replace(tzinfo=UTC) if since else None,
            until=until.replace(tzinfo=UTC) if until else None,
            **filters,
        )
        try:
            _print(store.search(query), as_json)
        finally:
            store.close()


@sightings.command()
@config_option
@database_option
@click.argument("sighting_id")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@json_option
def similar(config_path: Path | None, database: str | None, sighting_id: str, limit: int, as_json: bool) -> None:
    """Where else SIGHTING_ID's vehicle was seen: other sightings ranked by label agreement."""
    with clear_errors():
        store = _store(config_path, database)
        try:
            found = store.similar(sighting_id, limit)
        except KeyError:
            fail(f"no sighting {sighting_id!r}")
        finally:
            store.close()
        _print(found, as_json)


@click.command()
@click.option("--tokens", type=click.Path(path_type=Path, dir_okay=False), required=True, help="Tokens YAML file.")
@models_option
@detector_option
@classifier_option
@color_recognizer_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=9110, show_default=True)
def api(
    tokens: Path,
    models: Path | None,
    detector: Path | None,
    classifiers: tuple[Path, ...],
    color_recognizer: Path | None,
    host: str,
    port: int,
) -> None:
    """Serve the recognise API (POST /v1/recognize) alone, without cameras, until Ctrl-C."""
    try:
        from streamer.web.runtime import start_web_api
    except ImportError as exc:
        fail(f"api needs the web extra (pip install 'vehiclewatch[web]'): {exc.name} is missing")
    from classifiers.settings import ClassifierSettings
    from detectors.settings import DetectorSettings
    from streamer.service.config import configure_logging
    from streamer.web.settings import WebSettings

    configure_logging("INFO")
    overrides = model_overrides(models, detector, classifiers, color_recognizer)
    if "detector" not in overrides and not overrides.get("classifiers", {}).get("models"):
        fail("no models: give --models DIR, --detector FILE or --classifier FILE")
    stop = threading.Event()
    on_signals(stop.set, stop.set)
    with clear_errors():
        running = start_web_api(
            WebSettings(enabled=True, host=host, port=port, tokens_file=tokens),
            DetectorSettings(**overrides["detector"]) if "detector" in overrides else None,
            ClassifierSettings(**overrides.get("classifiers", {})),
        )
    click.echo(f"recognise API on http://{host}:{running.port}/v1/recognize (docs: /docs)", err=True)
    try:
        stop.wait()
    finally:
        running.stop()
