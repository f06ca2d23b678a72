"""vehiclewatch end to end on a clip, in its own process: the figure set beside the peer loops.

The service exactly as ``vehiclewatch bench`` runs it end to end (one file camera read as fast as the pipeline
goes, an embedded Redis, tracking on, the models ``--models DIR`` picks: the default detector and the make and
colour classifiers), once; frames/s is timed from the moment the cameras start (models are loaded and warmed up
before). Prints one JSON line: frames/s, crops classified, the runtime and precision each model ran on, peak RSS,
load average.

Usage:
    .venv/bin/python benchmarks/vehiclewatch_e2e.py --video CLIP [--models ../shared/models] [--json-out F] \\
        [--set detector.runtime=openvino ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from peer_common import emit, load_average, result

from streamer.bench import BenchOptions, run_end_to_end
from streamer.bench_models import describe_models
from streamer.cli.defaults import model_overrides
from streamer.service.config import configure_logging

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VEHICLEWATCH_SHARED", ROOT.parent / "shared"))


def apply_setting(overrides: dict[str, Any], assignment: str) -> None:
    """``a.b.c=value`` (value read as YAML) into nested ``overrides``."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key:
        raise SystemExit(f"--set wants KEY=VALUE, got {assignment!r}")
    *parents, leaf = key.split(".")
    section = overrides
    for name in parents:
        section = section.setdefault(name, {})
    section[leaf] = yaml.safe_load(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=SHARED / "videos" / "anugoyal_traffic.mp4")
    parser.add_argument("--models", type=Path, default=SHARED / "models")
    parser.add_argument("--tracking", choices=("on", "off"), default="on")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    configure_logging("WARNING")
    loadavg = load_average()
    overrides = model_overrides(args.models, None, ())
    for assignment in args.settings:
        apply_setting(overrides, assignment)
    options = BenchOptions(video=args.video, frames=0, overrides=overrides)
    print(f"vehiclewatch_e2e: running the service on {args.video} ...", file=sys.stderr, flush=True)
    opened = time.perf_counter()
    service, fps, frames = run_end_to_end(options, args.video, tracking=args.tracking == "on")
    seconds = frames / fps if fps else 0.0
    if service.pipeline is None:
        raise SystemExit("the pipeline did not start")
    crops = service.registry.get_sample_value("vehiclewatch_crops_classified_total") or 0.0
    figures = result(
        f"vehiclewatch end to end (tracking {args.tracking}{''.join(f', {kv}' for kv in args.settings)})",
        frames,
        seconds,
        loadavg,
        start_and_stop_s=round(time.perf_counter() - opened - seconds, 3),
        crops_classified=int(crops),
        settings=args.settings,
    )
    # Described after the peak RSS was read: reading a model file's graph must not count as the service's memory.
    figures["models"] = [info.as_dict() for info in describe_models(service)]
    emit(figures, args.json_out)


if __name__ == "__main__":
    main()
