"""The options several commands share (``--models``, ``--detector``, ``--classifier``, ``--color-recognizer``,
``--embedded-redis-port``), declared once so their names, types and help read the same everywhere."""

from __future__ import annotations

from pathlib import Path

import click

from streamer.cli.defaults import DEFAULT_DETECTOR, DEFAULT_DETECTORS, MODELS_ENV, default_models_dir

models_option = click.option(
    "--models",
    type=click.Path(path_type=Path, file_okay=False),
    default=default_models_dir,
    help=(
        f"Folder with the model files: {DEFAULT_DETECTOR} (else {DEFAULT_DETECTORS[1]}) and the make/colour "
        f"classifiers (env {MODELS_ENV})."
    ),
)
detector_option = click.option(
    "--detector", type=click.Path(path_type=Path, dir_okay=False), help="Detector ONNX file (overrides --models)."
)
color_recognizer_option = click.option(
    "--color-recognizer",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Colour recogniser file (python -m classifiers.color.build); replaces the colour model of --models.",
)
classifier_option = click.option(
    "--classifier",
    "classifiers",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Classifier ONNX file; repeat for several (overrides --models).",
)
embedded_redis_port_option = click.option(
    "--embedded-redis-port",
    type=click.IntRange(0, 65535),
    help=(
        "TCP port of the embedded Redis on 127.0.0.1, used when no Redis URL is set: `run` starts it there and the "
        "client commands (alerts tail, watchlist) connect to it; 0: unix socket only "
        "(default 6390, env VEHICLEWATCH_REDIS__EMBEDDED_PORT)."
    ),
)
