"""The operator's path through the commands, for ``adapt_clips.py --via-cli``: each vehicle labelled with
`vehiclewatch label crops` (one call per vehicle, its crops in a folder of their own), each camera's labels exported
with `vehiclewatch label export --camera`, and adapted with `vehiclewatch adapt run`: what a site without the review
page runs. Everything (the history database, the kept views, the exports, the store) lives under one work folder.

The commands run as child processes of the installed ``vehiclewatch`` (``subprocess_runner``); a test may pass any
other runner of the same arguments (e.g. click's ``CliRunner``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml
from numpy.typing import NDArray

# Runs `vehiclewatch ARGS...`; returns (exit status, stdout + stderr).
Runner = Callable[[Sequence[str]], tuple[int, str]]

FIELD_FLAGS = {"make": "--make", "color": "--color", "body_type": "--body-type"}
LABELLED_BY = "benchmark"


@dataclass(frozen=True)
class Vehicle:
    """One vehicle as an operator labels it: its camera, its key (the folder's name), its views and the values
    (field → label, or ``unknown`` = can't tell; a field left out is not given)."""

    camera: str
    key: str
    views: tuple[tuple[str, NDArray[np.uint8]], ...]  # (file name, BGR image)
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CameraOutcome:
    """One camera through the commands: its export folder, the report `adapt run` wrote (None: refused) and what
    the commands said."""

    camera: str
    export: Path
    report: Path | None
    output: str


def subprocess_runner(work: Path) -> Runner:
    """`vehiclewatch` as a child process, with the data directory inside ``work`` (nothing outside it is touched)
    and no ``VEHICLEWATCH_MODELS`` (the config alone names the models)."""
    beside = Path(sys.executable).with_name("vehiclewatch")  # this environment's, even when it is not activated
    command = str(beside) if beside.is_file() else shutil.which("vehiclewatch") or "vehiclewatch"
    env = {k: v for k, v in os.environ.items() if k != "VEHICLEWATCH_MODELS"}
    env["XDG_DATA_HOME"] = str(work / "data")

    def run(args: Sequence[str]) -> tuple[int, str]:
        done = subprocess.run([command, *args], env=env, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout + done.stderr

    return run


def write_config(work: Path, classifiers: Mapping[str, Any]) -> Path:
    """A service config with only what `label` and `adapt run` read: the history (database and labels folder in
    ``work``) and the classifiers (paths made absolute, so the config holds wherever ``work`` is)."""
    work.mkdir(parents=True, exist_ok=True)
    config = {
        "history": {
            "database": f"sqlite:///{(work / 'history.sqlite3').resolve()}",
            "labels_dir": str((work / "labels").resolve()),
        },
        "classifiers": _absolute(dict(classifiers)),
    }
    path = work / "service.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _absolute(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value.resolve())
    if isinstance(value, dict):
        return {k: _absolute(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_absolute(v) for v in value]
    return value


def _check(run: Runner, args: Sequence[str]) -> str:
    status, output = run(args)
    if status != 0:
        raise RuntimeError(f"vehiclewatch {' '.join(args)} exited {status}: {output.strip()}")
    return output


def label_vehicles(
    vehicles: Sequence[Vehicle], work: Path, config: Path, run: Runner, progress: Callable[[], None] | None = None
) -> None:
    """`vehiclewatch label crops <work>/crops/<camera>/<key> --camera <camera> --make .. --color .. --body-type ..`
    per vehicle (the views written as PNG: lossless, so the labels store keeps the pixels as read)."""
    for vehicle in vehicles:
        folder = work / "crops" / vehicle.camera / vehicle.key
        folder.mkdir(parents=True, exist_ok=True)
        for name, image in vehicle.views:
            ok, data = cv2.imencode(".png", image)
            if not ok:
                raise ValueError(f"cannot encode {name}")
            (folder / f"{Path(name).stem}.png").write_bytes(data.tobytes())
        flags = [x for f, v in vehicle.labels.items() for x in (FIELD_FLAGS[f], v)]
        _check(run, ["label", "crops", str(folder), "--camera", vehicle.camera, *flags, "--config", str(config),
                     "--by", LABELLED_BY])  # fmt: skip
        if progress is not None:
            progress()


def export_and_adapt(
    camera: str, work: Path, config: Path, run: Runner, store: Path, min_vehicles: int
) -> CameraOutcome:
    """`vehiclewatch label export <work>/export/<camera> --camera <camera>`, then `vehiclewatch adapt run --labels
    that --camera <camera>` into ``store``, its report in ``<work>/reports/<camera>``. A refusal of `adapt run`
    (exit 2, e.g. too few labelled vehicles) is an outcome without a report; any other failure raises."""
    export = work / "export" / camera
    said = _check(run, ["label", "export", str(export), "--camera", camera, "--config", str(config)])
    reports = work / "reports"
    status, output = run(["adapt", "run", "--labels", str(export), "--camera", camera, "--config", str(config),
                          "--store", str(store), "--report", str(reports), "--min-vehicles", str(min_vehicles),
                          "--by", LABELLED_BY])  # fmt: skip
    if status not in (0, 2):
        raise RuntimeError(f"vehiclewatch adapt run ({camera}) exited {status}: {output.strip()}")
    report = reports / camera / "report.json"
    return CameraOutcome(camera, export, report if status == 0 else None, said + output)
