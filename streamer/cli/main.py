"""`vehiclewatch`: the root command group and the console script's entry point (``streamer.cli.main:main``).

Each command group lives in a module of its own and is only attached here; this module defines no command and no
shared helper, so no command module ever needs to import it back.
"""

from __future__ import annotations

import click

from streamer.cli.adapt import adapt
from streamer.cli.alerts import alerts
from streamer.cli.bench import bench
from streamer.cli.cameras import cameras
from streamer.cli.config import config
from streamer.cli.label import label
from streamer.cli.models import classify, detect
from streamer.cli.run import run
from streamer.cli.sightings import api, sightings
from streamer.cli.tools import evaluate, plates, train
from streamer.cli.watchlist import watchlist


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vehiclewatch")
def main() -> None:
    """vehiclewatch: real-time vehicle recognition from camera streams, with watchlist alerts on Redis."""


for _command in (run, detect, classify, alerts, config, watchlist, cameras, bench, train, evaluate, plates, sightings):
    main.add_command(_command)
main.add_command(api)
main.add_command(label)
main.add_command(adapt)
