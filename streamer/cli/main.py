"""`vehiclewatch` command line: run the service, try the models on one image, follow alerts, benchmark."""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, NoReturn

import click
import cv2
import numpy as np
from numpy.typing import NDArray

from common.redaction import redact_text
from streamer.cli.watchlist import watchlist
from streamer.service.config import ConfigError, configure_logging, load_settings

log = logging.getLogger("vehiclewatch")

# The files `--models DIR` picks up: the detector and the make and colour classifiers of shared/models/README.md.
DEFAULT_DETECTOR = "yolov8n_int8_640.onnx"
DEFAULT_CLASSIFIERS = ("spectrico_make_mobilenetv3_224.onnx", "spectrico_color_mobilenetv3_224.onnx")
MODELS_ENV = "VEHICLEWATCH_MODELS"


def fail(message: str) -> NoReturn:
    """One clear line on stderr and exit status 2: the vehiclewatch way to refuse bad input."""
    click.echo(f"vehiclewatch: error: {redact_text(message)}", err=True)
    sys.exit(2)


@contextmanager
def clear_errors() -> Iterator[None]:
    """Turns the expected errors of bad input into one line and exit 2 (tracebacks are for bugs)."""
    from detectors.runtime import ModelLoadError
    from streamer.service.wiring import StartupError
    from watchlists.entries import WatchlistError
    from watchlists.redis_connection import RedisConnectionError

    try:
        yield
    except (ConfigError, StartupError, ModelLoadError, WatchlistError, RedisConnectionError) as exc:
        fail(str(exc))
    except ValueError as exc:
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def model_overrides(
    models: Path | None, detector: Path | None, classifiers: Sequence[Path], color_recognizer: Path | None = None
) -> dict[str, Any]:
    """Settings from the model flags: ``--models DIR`` picks the default files there, the others name files."""
    out: dict[str, Any] = {}
    if models is not None:
        if not models.is_dir():
            fail(f"--models: not a directory: {models}")
        out["detector"] = {"model": str(models / DEFAULT_DETECTOR)}
        defaults = DEFAULT_CLASSIFIERS[:1] if color_recognizer is not None else DEFAULT_CLASSIFIERS
        found = [models / name for name in defaults if (models / name).is_file()]
        out["classifiers"] = {"models": [{"model": str(p)} for p in found]}
    if detector is not None:
        out.setdefault("detector", {})["model"] = str(detector)
    if classifiers:
        out["classifiers"] = {"models": [{"model": str(p)} for p in classifiers]}
    if color_recognizer is not None:
        # The recogniser produces the 'color' head, so --models leaves its own colour model out (see above).
        out.setdefault("classifiers", {})["color_recognizer"] = {"file": str(color_recognizer)}
    return out


def read_image(path: Path) -> NDArray[np.uint8]:
    if not path.is_file():
        fail(f"image not found: {path}")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        fail(f"cannot decode image: {path}")
    return np.asarray(image, np.uint8)


def default_models_dir() -> Path | None:
    value = os.environ.get(MODELS_ENV)
    return Path(value) if value else None


_models_option = click.option(
    "--models",
    type=click.Path(path_type=Path, file_okay=False),
    default=default_models_dir,
    help=f"Folder with the model files: {DEFAULT_DETECTOR} and the make/colour classifiers (env {MODELS_ENV}).",
)
_detector_option = click.option(
    "--detector", type=click.Path(path_type=Path, dir_okay=False), help="Detector ONNX file (overrides --models)."
)
_color_recognizer_option = click.option(
    "--color-recognizer",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Colour recogniser file (python -m classifiers.color.build); replaces the colour model of --models.",
)
_classifier_option = click.option(
    "--classifier",
    "classifiers",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Classifier ONNX file; repeat for several (overrides --models).",
)


class LazyGroup(click.Group):
    """Attaches commands with heavy imports (scikit-learn, matplotlib) only when they are run, so `run` and
    `alerts tail` start fast and work without the `tools` extra."""

    lazy_commands: ClassVar[dict[str, tuple[str, str]]] = {
        "train": ("classifiers.cli_train_eval", "train_command"),
        "eval": ("classifiers.cli_train_eval", "eval_command"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_commands])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy_commands:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = self.lazy_commands[cmd_name]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            fail(f"'{cmd_name}' needs the tools extra: pip install 'vehiclewatch[tools]' ({exc.name} is missing)")
        command: click.Command = getattr(module, attribute)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vehiclewatch")
def main() -> None:
    """vehiclewatch: real-time vehicle recognition from camera streams, with watchlist alerts on Redis."""


main.add_command(watchlist)


# --- run ---------------------------------------------------------------------------------------------------------


def run_overrides(
    sources: Sequence[str],
    watchlist: Path | None,
    loop: bool,
    detect_fps: float | None,
    redis_url: str | None,
    metrics_port: int | None,
) -> dict[str, Any]:
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
        out["redis"] = {"url": redis_url}
    if metrics_port is not None:
        out["metrics"] = {"port": metrics_port}
    return out


def print_alert(alert: Any) -> None:
    click.echo("ALERT " + alert_line(alert))


@main.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="YAML config file.")
@click.option(
    "--source", "sources", multiple=True, help="Video file, rtsp:// or http(s):// URL, or webcam index; repeat."
)
@click.option("--watchlist", type=click.Path(path_type=Path, dir_okay=False), help="Watchlist YAML file.")
@_models_option
@_detector_option
@_classifier_option
@_color_recognizer_option
@click.option("--loop", is_flag=True, help="Loop video files (with --source) until stopped.")
@click.option("--detect-fps", type=float, help="Frames per second sent to the detector per camera (with --source).")
@click.option("--redis-url", help="Redis URL (default: start an embedded Redis).")
@click.option("--metrics-port", type=int, help="Prometheus port (default 9108).")
@click.option("--quiet", is_flag=True, help="Do not print alerts as they are published.")
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
    metrics_port: int | None,
    quiet: bool,
) -> None:
    """Run the service: read cameras, detect and classify vehicles, publish watchlist alerts to Redis.

    Stops on Ctrl-C / SIGTERM, or when every (non-looping) video file has been processed.
    """
    from streamer.service.wiring import Service

    overrides = model_overrides(models, detector, classifiers, color_recognizer)
    overrides.update(run_overrides(sources, watchlist, loop, detect_fps, redis_url, metrics_port))
    with clear_errors():
        settings = load_settings(config_path, overrides)
    configure_logging(settings.log_level)
    service = Service(settings, on_alert=None if quiet else print_alert)
    stop = threading.Event()

    def force() -> None:
        # Draining was given up on, but an embedded Redis must not outlive the service (it holds the port).
        if service.redis is not None:
            service.redis.close()
        os._exit(130)

    _on_signals(stop.set, force)
    with clear_errors():
        service.start()
    if service.redis is not None and service.redis.embedded:
        click.echo(f"embedded Redis at {service.redis.display_url} (follow alerts: vehiclewatch alerts tail)", err=True)
    try:
        ended = service.wait(stop)
    finally:
        service.stop()
    click.echo("all sources ended" if ended else "stopped", err=True)


# A repeat of the first signal within this many seconds is the same request delivered twice (timeout(1), for one,
# signals both the process and its process group), not an operator insisting.
_SAME_SIGNAL_S = 2.0


def _on_signals(graceful: Callable[[], None], force: Callable[[], None] | None = None) -> None:
    """SIGINT/SIGTERM: the first stops gracefully (draining); a second one, later, calls ``force``."""
    first: list[float] = []

    def handle(signum: int, _frame: object) -> None:
        now = time.monotonic()
        if not first:
            first.append(now)
            log.info("signal %s: stopping (again to force)", signal.Signals(signum).name)
            graceful()
        elif now - first[0] >= _SAME_SIGNAL_S:
            log.warning("signal %s again: exiting now without draining", signal.Signals(signum).name)
            if force is not None:
                force()
            sys.exit(130)

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


# --- detect / classify -------------------------------------------------------------------------------------------


def _detector_settings(models: Path | None, detector: Path | None, confidence: float | None) -> Any:
    from detectors.settings import DetectorSettings

    overrides = model_overrides(models, detector, ())
    if "detector" not in overrides:
        fail(f"no detector: give --detector FILE or --models DIR (or set {MODELS_ENV})")
    values: dict[str, Any] = dict(overrides["detector"])
    if confidence is not None:
        values["confidence"] = confidence
    return DetectorSettings(**values)


@main.command()
@click.argument("image", type=click.Path(path_type=Path, dir_okay=False))
@_models_option
@_detector_option
@click.option("--confidence", type=float, help="Minimum box score (default 0.35).")
@click.option("--annotate", type=click.Path(path_type=Path, dir_okay=False), help="Also write the image with boxes.")
def detect(
    image: Path, models: Path | None, detector: Path | None, confidence: float | None, annotate: Path | None
) -> None:
    """Detect vehicles in IMAGE and print them as JSON."""
    from detectors.yolo import YoloDetector

    configure_logging("WARNING")
    picture = read_image(image)
    with clear_errors():
        found = YoloDetector.from_settings(_detector_settings(models, detector, confidence)).detect([picture])[0]
    rows = [
        {"box": [round(float(v), 1) for v in box], "class": name, "confidence": round(float(score), 4)}
        for box, name, score in zip(found.boxes, found.class_names, found.scores, strict=True)
    ]
    click.echo(json.dumps({"image": str(image), "vehicles": rows}, indent=2))
    if annotate is not None:
        for box, name in zip(found.boxes.astype(int), found.class_names, strict=True):
            cv2.rectangle(picture, (box[0], box[1]), (box[2], box[3]), (0, 255, 0), 2)
            cv2.putText(picture, name, (box[0], max(box[1] - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 0), 1)
        cv2.imwrite(str(annotate), picture)


@main.command()
@click.argument("image", type=click.Path(path_type=Path, dir_okay=False))
@_models_option
@_detector_option
@_classifier_option
@_color_recognizer_option
@click.option("--detect/--whole", "run_detector", default=False, help="Detect vehicles first and classify each box.")
@click.option("--top-k", type=int, default=3, show_default=True, help="Labels per head.")
def classify(
    image: Path,
    models: Path | None,
    detector: Path | None,
    classifiers: tuple[Path, ...],
    color_recognizer: Path | None,
    run_detector: bool,
    top_k: int,
) -> None:
    """Classify IMAGE (a vehicle photo, or with --detect every vehicle in it) and print JSON."""
    from classifiers.bank import ClassifierBank
    from classifiers.settings import ClassifierSettings
    from classifiers.types import Classification
    from detectors.yolo import YoloDetector

    configure_logging("WARNING")
    picture = read_image(image)
    overrides = model_overrides(models, None, classifiers, color_recognizer)
    if not overrides.get("classifiers", {}).get("models") and color_recognizer is None:
        fail(f"no classifier: give --classifier FILE or --models DIR (or set {MODELS_ENV})")

    def heads(c: Classification | None) -> dict[str, list[dict[str, Any]]] | None:
        if c is None:
            return None
        return {h: [{"label": s.label, "prob": round(s.prob, 4)} for s in top] for h, top in c.top(top_k).items()}

    with clear_errors():
        bank = ClassifierBank.from_settings(ClassifierSettings(**overrides["classifiers"]))
        if not run_detector:
            result: dict[str, Any] = {"image": str(image), "classification": heads(bank.classify_images([picture])[0])}
        else:
            found = YoloDetector.from_settings(_detector_settings(models, detector, None)).detect([picture])[0]
            per_box = bank.classify_boxes([(picture, found)]).frames[0]
            result = {
                "image": str(image),
                "vehicles": [
                    {"box": [round(float(v), 1) for v in box], "class": name, "classification": heads(c)}
                    for box, name, c in zip(found.boxes, found.class_names, per_box, strict=True)
                ],
            }
    click.echo(json.dumps(result, indent=2))


# --- alerts ------------------------------------------------------------------------------------------------------


@main.group()
def alerts() -> None:
    """Follow the alert stream."""


@alerts.command()
@click.option(
    "--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="Config file (redis/alerts)."
)
@click.option("--redis-url", envvar="VEHICLEWATCH_REDIS__URL", help="Redis URL (default: the service's embedded one).")
@click.option(
    "--group", default="vehiclewatch-tail", show_default=True, help="Consumer group (tails in one group share)."
)
@click.option("--from-start", is_flag=True, help="For a new group: also print the alerts already in the stream.")
@click.option("--json", "as_json", is_flag=True, help="Print each alert's full JSON.")
def tail(config_path: Path | None, redis_url: str | None, group: str, from_start: bool, as_json: bool) -> None:
    """Print alerts as they arrive (a consumer group: each alert acknowledged after printing)."""
    from watchlists.alerts import Alert
    from watchlists.consumer import AlertConsumer
    from watchlists.redis_connection import connect
    from watchlists.settings import AlertSettings, RedisSettings

    configure_logging("WARNING")
    with clear_errors():
        redis_settings, alert_settings = RedisSettings(), AlertSettings()
        if config_path is not None:
            raw = _sections(config_path)
            redis_settings = RedisSettings(**raw.get("redis", {}))
            alert_settings = AlertSettings(**raw.get("alerts", {}))
        if redis_url is not None:
            redis_settings = redis_settings.model_copy(update={"url": redis_url})
        connection = connect(redis_settings, start_embedded=False)
    stop = threading.Event()
    _on_signals(stop.set)

    def show(alert: Alert) -> None:
        click.echo(alert.to_json() if as_json else alert_line(alert))

    try:
        consumer = AlertConsumer(connection.client, alert_settings.stream, group, start_id="0" if from_start else "$")
        consumer.ensure_group()
        click.echo(f"following {alert_settings.stream} on {connection.display_url} (Ctrl-C to stop)", err=True)
        consumer.run(show, stop)
    finally:
        connection.close()


def alert_line(alert: Any) -> str:
    tops = " ".join(f"{h}={v[0].label}({v[0].prob:.2f})" for h, v in alert.classifications.items() if v)
    box = alert.box
    return (
        f"{alert.published_at:%H:%M:%S} {alert.camera_id} #{alert.frame_index} entry={alert.entry.id} "
        f"score={alert.score:.2f} {alert.detector_class} {tops} "
        f"box=({box.x1:.0f},{box.y1:.0f},{box.x2:.0f},{box.y2:.0f}) snapshot={alert.snapshot_key}"
    )


def _sections(path: Path) -> dict[str, Any]:
    from streamer.service.config import read_yaml

    return read_yaml(path)


# --- config ------------------------------------------------------------------------------------------------------


@main.group()
def config() -> None:
    """Check a configuration file, or print the reference of every key."""


@config.command("check")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
def config_check(path: Path) -> None:
    """Validate PATH (with the environment applied) and print the result with secrets hidden."""
    with clear_errors():
        settings = load_settings(path)
    click.echo(json.dumps(settings.model_dump(mode="json"), indent=2))


@config.command("reference")
def config_reference() -> None:
    """Print every configuration key with its default and meaning (Markdown)."""
    from streamer.service.config_reference import markdown

    click.echo(markdown())


# --- bench -------------------------------------------------------------------------------------------------------


@main.command()
@click.argument("video", type=click.Path(path_type=Path, dir_okay=False))
@_models_option
@_detector_option
@_classifier_option
@_color_recognizer_option
@click.option("--no-classifiers", is_flag=True, help="Detector only (measures the pipeline's own overhead).")
@click.option("--max-batch", type=int, default=1, show_default=True, help="Detector batch (dynamic-batch models).")
@click.option("--frames", type=int, default=300, show_default=True, help="Most frames of VIDEO to use.")
@click.option(
    "--repeat", type=click.IntRange(1), default=1, show_default=True, help="End-to-end runs (medians are compared)."
)
@click.option("--watchlist", type=click.Path(path_type=Path, dir_okay=False), help="Watchlist to match (optional).")
@click.option("--plot", type=click.Path(path_type=Path, dir_okay=False), help="Write a PNG of the figures.")
@click.option("--json-out", type=click.Path(path_type=Path, dir_okay=False), help="Write the figures as JSON.")
def bench(
    video: Path,
    models: Path | None,
    detector: Path | None,
    classifiers: tuple[Path, ...],
    color_recognizer: Path | None,
    no_classifiers: bool,
    max_batch: int,
    frames: int,
    repeat: int,
    watchlist: Path | None,
    plot: Path | None,
    json_out: Path | None,
) -> None:
    """Benchmark the pipeline on VIDEO against the detector alone on the same frames, in one run."""
    from streamer.bench import BenchOptions, run_benchmark

    configure_logging("WARNING")
    overrides = model_overrides(models, detector, classifiers, color_recognizer)
    if "detector" not in overrides:
        fail(f"no detector: give --detector FILE or --models DIR (or set {MODELS_ENV})")
    if no_classifiers:
        overrides["classifiers"] = {"models": []}
    overrides["detector"]["max_batch"] = max_batch
    with clear_errors():
        report = run_benchmark(
            BenchOptions(video=video, frames=frames, overrides=overrides, watchlist=watchlist, repeat=repeat),
            progress=lambda line: click.echo(f"bench: {line}", err=True),
        )
    click.echo(report.render())
    if plot is not None:
        report.plot(plot)
        click.echo(f"plot: {plot}")
    if json_out is not None:
        json_out.write_text(json.dumps(report.as_dict(), indent=2))
