"""`vehiclewatch alerts tail`: follow the alert stream as a member of a consumer group, one line per alert.

:func:`alert_line` is also how `run` prints the alerts it publishes, so both read the same.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import click

from streamer.cli.connection import client_settings, connect_redis, redis_options
from streamer.cli.errors import clear_errors
from streamer.cli.signals import on_signals


def alert_line(alert: Any) -> str:
    """One alert on one line: time, camera, frame, entry, score, class, each head's top label, box, snapshot key."""
    tops = " ".join(f"{h}={v[0].label}({v[0].prob:.2f})" for h, v in alert.classifications.items() if v)
    box = alert.box
    return (
        f"{alert.published_at:%H:%M:%S} {alert.camera_id} #{alert.frame_index} entry={alert.entry.id} "
        f"score={alert.score:.2f} {alert.detector_class} {tops} "
        f"box=({box.x1:.0f},{box.y1:.0f},{box.x2:.0f},{box.y2:.0f}) snapshot={alert.snapshot_key}"
    )


@click.group()
def alerts() -> None:
    """Follow the alert stream."""


@alerts.command()
@click.option(
    "--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="Config file (redis/alerts)."
)
@redis_options
@click.option(
    "--group", default="vehiclewatch-tail", show_default=True, help="Consumer group (tails in one group share)."
)
@click.option("--from-start", is_flag=True, help="For a new group: also print the alerts already in the stream.")
@click.option("--json", "as_json", is_flag=True, help="Print each alert's full JSON.")
def tail(
    config_path: Path | None,
    redis_url: str | None,
    embedded_redis_port: int | None,
    group: str,
    from_start: bool,
    as_json: bool,
) -> None:
    """Print alerts as they arrive (a consumer group: each alert acknowledged after printing)."""
    from streamer.service.config import configure_logging
    from watchlists.alerts import Alert
    from watchlists.consumer import AlertConsumer

    configure_logging("WARNING")
    with clear_errors():
        settings = client_settings(config_path, redis_url, embedded_redis_port)
        alert_settings = settings.alerts
        connection = connect_redis(settings)
    stop = threading.Event()
    on_signals(stop.set)

    def show(alert: Alert) -> None:
        click.echo(alert.to_json() if as_json else alert_line(alert))

    try:
        consumer = AlertConsumer(connection.client, alert_settings.stream, group, start_id="0" if from_start else "$")
        consumer.ensure_group()
        click.echo(f"following {alert_settings.stream} on {connection.display_url} (Ctrl-C to stop)", err=True)
        consumer.run(show, stop)
    finally:
        connection.close()
