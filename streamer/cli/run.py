"""`vehiclewatch run`: the service in the foreground, from flags or a config file, until the sources end or a
signal stops it (the first drains, a later one exits 130 at once)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from streamer.cli.alerts import alert_line
from streamer.cli.defaults import model_overrides
from streamer.cli.errors import INTERRUPTED, clear_errors
from streamer.cli.options import (
    classifier_option,
    color_recognizer_option,
    detector_option,
    embedded_redis_port_option,
    models_option,
)
from streamer.cli.signals import on_signals

if TYPE_CHECKING:
    from streamer.service.wiring import Service


def run_overrides(
    sources: Sequence[str],
    watchlist: Path | None,
    loop: bool,
    detect_fps: float | None,
    redis_url: str | None,
    metrics_port: int | None,
    embedded_redis_port: int | None = None,
) -> dict[str, Any]:
    """Settings from `run`'s own flags: one camera per ``--source`` (``cam1``, ``cam2`` ...) and the rest."""
    out: dict[str, Any] = {}
    if sources:
        cameras: list[dict[str, Any]] = []
        for i, source in enumerate(sources):
            camera: dict[str, Any] = {"id": f"cam{i + 1}", "source": source}
            if loop:
                camera["loop"] = True
            if detect_fps is not None:
                camera["detect_fps"] = detect_fps
            cameras.append(camera)
        out["cameras"] = cameras
    if watchlist is not None:
        out["watchlist"] = {"path": str(watchlist)}
    if redis_url is not None:
        out.setdefault("redis", {})["url"] = redis_url
    if embedded_redis_port is not None:
        out.setdefault("redis", {})["embedded_port"] = embedded_redis_port
    if metrics_port is not None:
        out["metrics"] = {"port": metrics_port}
    return out


def print_alert(alert: Any) -> None:
    click.echo("ALERT " + alert_line(alert))


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="YAML config file.")
@click.option(
    "--source", "sources", multiple=True, help="Video file, rtsp:// or http(s):// URL, or webcam index; repeat."
)
@click.option("--watchlist", type=click.Path(path_type=Path, dir_okay=False), help="Watchlist YAML file.")
@models_option
@detector_option
@classifier_option
@color_recognizer_option
@click.option("--loop", is_flag=True, help="Loop video files (with --source) until stopped.")
@click.option("--detect-fps", type=float, help="Frames per second sent to the detector per camera (with --source).")
@click.option("--redis-url", help="Redis URL (default: start an embedded Redis); env VEHICLEWATCH_REDIS__URL.")
@embedded_redis_port_option
@click.option("--metrics-port", type=int, help="Prometheus port (default 9108).")
@click.option("--quiet", is_flag=True, help="Do not print alerts as they are published.")
@click.option(
    "--worker",
    is_flag=True,
    help="Run as a fleet worker: claim cameras from the registry in Redis (vehiclewatch cameras) with leases.",
)
@click.option("--worker-id", help="This worker's id in the fleet (default: the host name); implies --worker.")
def run(
    config_path: Path | None,
    sources: tuple[str, ...],
    watchlist: Path | None,
    models: Path | None,
    detector: Path | None,
    classifiers: tuple[Path, ...],
    color_recognizer: Path | None,
    loop: bool,
    detect_fps: float | None,
    redis_url: str | None,
    embedded_redis_port: int | None,
    metrics_port: int | None,
    quiet: bool,
    worker: bool = False,
    worker_id: str | None = None,
) -> None:
    """Run the service: read cameras, detect and classify vehicles, publish watchlist alerts to Redis.

    Stops on Ctrl-C / SIGTERM, or when every (non-looping) video file has been processed.
    """
    from streamer.service.config import configure_logging, load_settings
    from streamer.service.wiring import Service

    overrides = model_overrides(models, detector, classifiers, color_recognizer)
    overrides.update(run_overrides(sources, watchlist, loop, detect_fps, redis_url, metrics_port, embedded_redis_port))
    if worker or worker_id is not None:
        overrides["fleet"] = {"worker": True} | ({"worker_id": worker_id} if worker_id is not None else {})
    with clear_errors():
        settings = load_settings(config_path, overrides)
    configure_logging(settings.log_level)
    serve(Service(settings, on_alert=None if quiet else print_alert))


def serve(service: Service) -> None:
    """Starts ``service``, waits for the end of its sources or a signal, and stops it (draining)."""
    stop = threading.Event()

    def force() -> None:
        # Draining was given up on, but an embedded Redis must not outlive the service (it holds the port).
        if service.redis is not None:
            service.redis.close()
        os._exit(INTERRUPTED)

    on_signals(stop.set, force)
    with clear_errors():
        service.start()
    if service.redis is not None and service.redis.embedded:
        click.echo(f"embedded Redis at {service.redis.display_url} (follow alerts: vehiclewatch alerts tail)", err=True)
    try:
        ended = service.wait(stop)
    finally:
        service.stop()
    click.echo("all sources ended" if ended else "stopped", err=True)
