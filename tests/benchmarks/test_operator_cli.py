"""`adapt_clips.py --via-cli`'s path through the commands on tiny synthetic models: vehicles labelled with
`vehiclewatch label crops` one folder each, exported per camera and adapted with `vehiclewatch adapt run`; the
export holds each vehicle's views under its key with the values given, and a refusal of `adapt run` is an outcome."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from classifiers.adaptation.dataset import read_views
from streamer.cli.main import main
from tests.synthetic_classifier import make_color_classifier, solid_bgr

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))  # the benchmarks import as scripts
from operator_cli import (
    Vehicle,
    export_and_adapt,
    label_vehicles,
    subprocess_runner,
    write_config,
)

MAKES = ("Toyota", "Honda", "Ford")  # tied to red, green, blue by the synthetic classifier


def in_process(args: Sequence[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_vehicles_labelled_exported_and_adapted_through_the_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("VEHICLEWATCH_MODELS", raising=False)
    classifiers = {
        "models": [
            {"model": make_color_classifier(tmp_path / "color.onnx")},
            {"model": make_color_classifier(tmp_path / "make.onnx", task="make", labels=MAKES)},
        ]
    }
    work = tmp_path / "work"
    config = write_config(work, classifiers)
    colors = ("red", "green", "blue", "red", "green", "blue")
    vehicles = []
    for i, c in enumerate(colors):  # two views a vehicle (sizes differ: identical pictures are kept once)
        views = tuple((f"v{i}_{j}.png", solid_bgr(c, 48, 64 + 8 * j + i)) for j in range(2))
        vehicles.append(Vehicle("gate", f"v{i}", views, {"make": "toyota" if i == 0 else "unknown", "color": c}))
    vehicles.append(Vehicle("yard", "w0", (("w0.png", solid_bgr("red")),), {"color": "red"}))
    done: list[None] = []
    label_vehicles(vehicles, work, config, in_process, progress=lambda: done.append(None))
    assert len(done) == len(vehicles)

    store = tmp_path / "store"
    outcome = export_and_adapt("gate", work, config, in_process, store, min_vehicles=3)
    exported = read_views(outcome.export)
    assert {v.camera_id for v in exported} == {"gate"}
    # the values as the heads spell them ("toyota" → "Toyota"), "unknown" kept as can't tell, one row a view
    expected = {f"v{i}": {"make": "Toyota" if i == 0 else "unknown", "color": c} for i, c in enumerate(colors)}
    got = sorted((v.track, dict(v.labels)) for v in exported)
    assert got == sorted((k, x) for k, x in expected.items() for _ in "ab")
    assert outcome.report is not None
    assert outcome.report.is_file()
    assert "camera gate" in outcome.output

    refused = export_and_adapt("yard", work, config, in_process, store, min_vehicles=3)
    assert refused.report is None
    assert "label 2 more" in refused.output

    status, listed = subprocess_runner(work)(["label", "list", "--camera", "yard", "--config", str(config)])
    assert (status, "1 label(s), 0 conflict(s)" in listed) == (0, True)
