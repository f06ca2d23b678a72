"""`vehiclewatch cameras`: the camera registry in Redis that fleet workers (`vehiclewatch run --worker`) read.

A change here reaches every worker at once (change notification) or within one reload cycle
(``fleet.reload_interval_s``): an added camera is claimed by a worker with room, a removed or disabled one is
stopped, a changed one restarts with its new settings. Sources are shown with their credentials redacted.

Exit status (see :mod:`streamer.cli.errors`): bad input is exit 2 with one line; ``remove`` of an id that is not
registered and ``import`` of a file with invalid cameras exit 2 after the valid part is done, each problem listed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from streamer.cli.connection import client_settings, connect_redis, redis_options
from streamer.cli.errors import BAD_INPUT, clear_errors, fail

_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Config file whose redis and fleet sections name the registry (default: the defaults and environment).",
)


@click.group()
def cameras() -> None:
    """Manage the cameras fleet workers share: add, list, update, remove, import (kept in Redis)."""


@contextmanager
def _registry(config_path: Path | None, redis_url: str | None, embedded_redis_port: int | None) -> Iterator[Any]:
    from streamer.fleet.registry import CameraRegistry

    with clear_errors():
        settings = client_settings(config_path, redis_url, embedded_redis_port)
        connection = connect_redis(settings)
    try:
        with clear_errors():
            yield CameraRegistry(connection.client, settings.fleet), settings.fleet
    finally:
        connection.close()


def _pairs(pairs: Sequence[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{option} {pair!r}: write key=value")
        out[key.strip()] = value.strip()
    return out


def _settings(pairs: Sequence[str]) -> dict[str, Any]:
    """``--set key=value`` pairs: any camera setting (YAML values: numbers, booleans, null)."""
    import yaml

    return {key: yaml.safe_load(value) if value else None for key, value in _pairs(pairs, "--set").items()}


def _source(source: str | None, source_env: str | None) -> str | None:
    if source_env is None:
        return source
    if source is not None:
        raise ValueError("give SOURCE or --source-env, not both")
    value = os.environ.get(source_env)
    if not value:
        raise ValueError(f"--source-env: the environment variable {source_env} is not set")
    return value


def _camera_options(func: Any) -> Any:
    for option in reversed(
        (
            click.option(
                "--source-env",
                metavar="NAME",
                help="Read the source URL from environment variable NAME (keeps a password off the command line).",
            ),
            click.option("--detect-fps", type=float, help="Frames per second sent to the detector."),
            click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="A label; repeat."),
            click.option("--loop/--no-loop", default=None, help="Files: start again at the end."),
            click.option("--pace/--no-pace", default=None, help="Files: play at native fps like a live camera."),
            click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Any other camera setting; repeat."),
        )
    ):
        func = option(func)
    return func


@cameras.command()
@click.argument("camera_id", metavar="ID")
@click.argument("source", required=False)
@_camera_options
@click.option("--disabled", is_flag=True, help="Register it without reading it yet.")
@click.option("--replace", is_flag=True, help="Replace a camera with the same id instead of refusing.")
@_config_option
@redis_options
def add(
    camera_id: str,
    source: str | None,
    source_env: str | None,
    detect_fps: float | None,
    labels: tuple[str, ...],
    loop: bool | None,
    pace: bool | None,
    sets: tuple[str, ...],
    disabled: bool,
    replace: bool,
    config_path: Path | None,
    redis_url: str | None,
    embedded_redis_port: int | None,
) -> None:
    """Register camera ID reading SOURCE (a file, rtsp://, http(s):// URL or webcam index); workers pick it up."""
    from streamer.fleet.registry import parse_camera

    with clear_errors():
        url = _source(source, source_env)
        if url is None:
            raise ValueError("give the camera's SOURCE (or --source-env NAME)")
        data: dict[str, Any] = {"id": camera_id, "source": url, **_settings(sets), "enabled": not disabled}
        data |= {k: v for k, v in {"detect_fps": detect_fps, "loop": loop, "pace": pace}.items() if v is not None}
        data["labels"] = _pairs(labels, "--label")
        camera = parse_camera(data, f"camera {camera_id!r}")
    with _registry(config_path, redis_url, embedded_redis_port) as (registry, _):
        revision = registry.put(camera, replace=replace)
    click.echo(f"registered camera {camera.id} ({camera.redacted_source}) at revision {revision}")


@cameras.command()
@click.argument("camera_id", metavar="ID")
@click.option("--source", help="New source URL (prefer --source-env for one with a password).")
@_camera_options
@click.option("--enable/--disable", "enabled", default=None, help="Start or stop reading it.")
@click.option("--unlabel", "unlabels", multiple=True, metavar="KEY", help="Remove a label; repeat.")
@_config_option
@redis_options
def update(
    camera_id: str,
    source: str | None,
    source_env: str | None,
    detect_fps: float | None,
    labels: tuple[str, ...],
    loop: bool | None,
    pace: bool | None,
    sets: tuple[str, ...],
    enabled: bool | None,
    unlabels: tuple[str, ...],
    config_path: Path | None,
    redis_url: str | None,
    embedded_redis_port: int | None,
) -> None:
    """Change a registered camera; the worker reading it restarts it with the new settings."""
    from streamer.fleet.registry import RegistryError, parse_camera

    with _registry(config_path, redis_url, embedded_redis_port) as (registry, _):
        current = registry.get(camera_id)
        if current is None:
            raise RegistryError(f"camera {camera_id!r} is not registered (add it with `vehiclewatch cameras add`)")
        data: dict[str, Any] = current.model_dump(exclude={"source"})
        data["source"] = current.source
        url = _source(source, source_env)
        if url is not None:
            data["source"] = url
        data |= _settings(sets)
        data |= {
            k: v
            for k, v in {"detect_fps": detect_fps, "loop": loop, "pace": pace, "enabled": enabled}.items()
            if v is not None
        }
        data["labels"] = {k: v for k, v in {**current.labels, **_pairs(labels, "--label")}.items() if k not in unlabels}
        camera = parse_camera(data, f"camera {camera_id!r}")
        revision = registry.put(camera)
    click.echo(f"updated camera {camera.id} at revision {revision}")


@cameras.command()
@click.argument("ids", nargs=-1, required=True)
@_config_option
@redis_options
def remove(
    ids: tuple[str, ...], config_path: Path | None, redis_url: str | None, embedded_redis_port: int | None
) -> None:
    """Unregister cameras by id (their workers stop them); exit status 2 if some id was not registered."""
    with _registry(config_path, redis_url, embedded_redis_port) as (registry, _):
        removed = registry.remove(ids)
    for camera_id in removed:
        click.echo(f"removed camera {camera_id}")
    missing = [camera_id for camera_id in ids if camera_id not in removed]
    if missing:
        fail(f"not registered: {', '.join(missing)}")


def _age(last_frame_at: float | None, now: float) -> str:
    return "-" if last_frame_at is None else f"{max(now - last_frame_at, 0.0):.1f}s"


@cameras.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the cameras, owners and states as JSON.")
@_config_option
@redis_options
def list_cameras(
    as_json: bool, config_path: Path | None, redis_url: str | None, embedded_redis_port: int | None
) -> None:
    """List the registered cameras: owner (worker and lease token), state, fps and last frame age."""
    from streamer.fleet.leases import LeaseTable
    from streamer.fleet.status import read_statuses

    with _registry(config_path, redis_url, embedded_redis_port) as (registry, fleet):
        snapshot = registry.load()
        ids = sorted({*snapshot.cameras, *(p.camera_id for p in snapshot.problems)})
        owners = LeaseTable(registry.client, fleet.key_prefix).owners(ids)
        statuses = read_statuses(registry.client, fleet.key_prefix, ids)
    now = time.time()
    rows: list[dict[str, Any]] = []
    for camera_id, camera in snapshot.cameras.items():
        owner, status = owners.get(camera_id), statuses.get(camera_id)
        fresh = status if status is not None and owner is not None and status.token == owner.token else None
        rows.append(
            {
                "id": camera_id,
                "enabled": camera.enabled,
                "source": camera.redacted_source,
                "labels": camera.labels,
                "detect_fps": camera.detect_fps,
                "owner": owner.worker_id if owner is not None else None,
                "lease_token": owner.token if owner is not None else None,
                "state": fresh.state if fresh is not None else ("disabled" if not camera.enabled else "unowned"),
                "fps": fresh.fps if fresh is not None else None,
                "last_frame_age_s": round(now - fresh.last_frame_at, 2)
                if fresh is not None and fresh.last_frame_at is not None
                else None,
            }
        )
    if as_json:
        problems = [{"id": p.camera_id, "problem": p.message} for p in snapshot.problems]
        click.echo(json.dumps({"revision": snapshot.revision, "cameras": rows, "invalid": problems}, indent=2))
    else:
        header = ("ID", "ENABLED", "OWNER", "TOKEN", "STATE", "FPS", "LAST FRAME", "LABELS", "SOURCE")
        table = [header]
        for row in rows:
            table.append(
                (
                    row["id"],
                    "yes" if row["enabled"] else "no",
                    row["owner"] or "-",
                    str(row["lease_token"] or "-"),
                    row["state"],
                    "-" if row["fps"] is None else f"{row['fps']:.1f}",
                    "-" if row["last_frame_age_s"] is None else f"{row['last_frame_age_s']:.1f}s ago",
                    ",".join(f"{k}={v}" for k, v in sorted(row["labels"].items())) or "-",
                    row["source"],
                )
            )
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]
        for r in table:
            click.echo("  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip())
        click.echo(f"{len(rows)} camera(s) (revision {snapshot.revision})", err=True)
    for problem in snapshot.problems:
        click.echo(f"invalid registry entry (skipped by the workers): {problem}", err=True)


def _read_cameras(path: Path) -> list[Any]:
    """The ``cameras:`` list of a YAML file (a service config or a file of cameras), placeholders filled."""
    from streamer.service.config import read_yaml
    from streamer.sources.settings import SourceKind, source_kind

    data = read_yaml(path, sections={"cameras"})
    items = data.get("cameras")
    if not isinstance(items, list) or not items:
        raise ValueError(f"{path}: expected a non-empty 'cameras:' list")
    for item in items:
        source = item.get("source") if isinstance(item, dict) else None
        if isinstance(source, str):
            try:
                if source_kind(source) is SourceKind.FILE and not source.lower().startswith("file://"):
                    file = Path(source).expanduser()
                    item["source"] = str(file if file.is_absolute() else (path.parent / file).resolve())
            except ValueError:
                pass  # validation names the problem
    return items


@cameras.command("import")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--replace", is_flag=True, help="Replace cameras with the same ids instead of refusing.")
@_config_option
@redis_options
def import_cameras(
    path: Path, replace: bool, config_path: Path | None, redis_url: str | None, embedded_redis_port: int | None
) -> None:
    """Register every camera of the YAML file PATH (its ``cameras:`` list, e.g. a one-machine config file).

    Relative file sources are taken relative to PATH. Invalid cameras are listed and skipped; the others are stored
    in one change, and the exit status is then 2.
    """
    from streamer.fleet.registry import RegistryError, parse_camera

    with clear_errors():
        items = _read_cameras(path)
    valid = []
    problems = []
    for index, item in enumerate(items):
        name = f"{path}: cameras[{index}]" + (f" ({item['id']!r})" if isinstance(item, dict) and "id" in item else "")
        try:
            if not isinstance(item, dict):
                raise RegistryError(f"{name}: expected a mapping")
            valid.append(parse_camera(item, name))
        except RegistryError as exc:
            problems.append(str(exc))
    with _registry(config_path, redis_url, embedded_redis_port) as (registry, _):
        revision = registry.put_many(valid, replace=replace) if valid else registry.revision()
    click.echo(f"registered {len(valid)} camera(s) at revision {revision}")
    for problem in problems:
        click.echo(f"  {problem}", err=True)
    if problems:
        click.echo(f"vehiclewatch: error: {len(problems)} invalid camera(s) skipped", err=True)
        raise SystemExit(BAD_INPUT)
