"""`vehiclewatch adapt run|list|rollback` on a tiny synthetic colour classifier: the happy path and every refusal
(one line, exit 2, nothing changed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from streamer.cli.main import main
from tests.classifiers.adaptation.synthetic_labels import GATE, labelled_dataset
from tests.synthetic_classifier import make_color_classifier


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_color_classifier(tmp_path_factory.mktemp("models") / "color.onnx")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return labelled_dataset(tmp_path_factory.mktemp("labels"))


def _cli(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def _refused(result: Result, message: str) -> None:
    assert result.exit_code == 2, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("vehiclewatch: error: "), result.output
    assert message in last, result.output


def test_run_list_rollback(model: Path, dataset: Path, tmp_path: Path) -> None:
    store = tmp_path / "adapted"
    config = tmp_path / "service.yaml"
    config.write_text(f"classifiers:\n  models:\n    - model: {model}\ncameras: []\n")
    result = _cli("adapt", "run", "--labels", dataset, "--config", config, "--store", store, "--report", tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert "camera gate: deployed v0001" in result.output
    assert "camera yard: not deployed" in result.output
    assert (tmp_path / "r" / "gate" / "report.json").is_file()
    assert (tmp_path / "r" / "gate" / "report.png").is_file()

    listed = _cli("adapt", "list", "--store", store)
    assert listed.exit_code == 0, listed.output
    assert "gate: current v0001" in listed.output
    assert "* v0001" in listed.output
    assert "color " in listed.output

    back = _cli("adapt", "rollback", "gate", "--store", store)
    assert back.exit_code == 0
    assert "v0001 -> base model" in back.output
    _refused(_cli("adapt", "rollback", "gate", "--store", store), "already runs the base model")
    assert (store / "gate" / "v0001.npz").is_file()  # rollback deletes nothing
    _refused(_cli("adapt", "rollback", "yard", "--store", store), "has no adaptation")


def test_model_paths_in_a_config_are_relative_to_it(dataset: Path, tmp_path: Path) -> None:
    (tmp_path / "site" / "models").mkdir(parents=True)
    make_color_classifier(tmp_path / "site" / "models" / "color.onnx")
    config = tmp_path / "site" / "service.yaml"
    config.write_text("classifiers:\n  models:\n    - model: models/color.onnx\n")
    result = _cli("adapt", "run", "--labels", dataset, "--config", config, "--camera", "yard", "--store", tmp_path)
    assert result.exit_code == 0, result.output
    assert "camera yard: not deployed" in result.output


def test_the_store_is_the_one_the_configs_service_reads(
    model: Path, dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without --store, a config's classifiers.adaptation.dir (relative to the file) is where versions go, where
    # list and rollback look, and not the data directory's default.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = tmp_path / "site" / "service.yaml"
    config.parent.mkdir()
    config.write_text(f"classifiers:\n  models:\n    - model: {model}\n  adaptation:\n    dir: shared/adapted\n")
    result = _cli("adapt", "run", "--labels", dataset, "--config", config, "--camera", "gate")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "site" / "shared" / "adapted" / "gate" / "v0001.npz").is_file()
    assert not (tmp_path / "data").exists()
    assert "gate: current v0001" in _cli("adapt", "list", "--config", config).output
    back = _cli("adapt", "rollback", "gate", "--config", config)
    assert back.exit_code == 0, back.output
    assert "v0001 -> base model" in back.output
    _refused(_cli("adapt", "list", "gate"), "has no adaptation")  # the default store holds nothing


def test_model_flags_instead_of_a_config(model: Path, dataset: Path, tmp_path: Path) -> None:
    result = _cli("adapt", "run", "--labels", dataset, "--classifier", model, "--camera", "yard", "--store", tmp_path)
    assert result.exit_code == 0, result.output
    assert "camera yard: not deployed" in result.output
    assert "gate" not in result.output


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("none", ["--labels", "{tmp}/nowhere"], "is not a folder"),
        ("teal", [], "labels.csv line 2: gate_green0_0.png (camera gate, track green0): color 'teal' is not a label"),
        ("few", [], "has 2 labelled vehicle(s); adapting needs at least 5: label 3 more"),
        ("ok", ["--camera", "depot"], "no labelled view of camera 'depot'"),
        ("ok", ["--config", "{tmp}/missing.yaml"], "config file not found"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    model: Path, tmp_path: Path, setup: str, args: list[str], message: str
) -> None:
    labels = tmp_path / "labels"
    if setup == "teal":
        labelled_dataset(labels, per_color=2, cameras={"gate": GATE}, label={"green": "teal"})
    elif setup == "few":
        labelled_dataset(labels, per_color=1, views=1, cameras={"gate": {"red": (0, 0, 255), "blue": (255, 0, 0)}})
    elif setup == "ok":
        labelled_dataset(labels, per_color=2, cameras={"gate": GATE})
    given = [a.format(tmp=tmp_path) for a in args]
    base = [] if "--labels" in given else ["--labels", str(labels)]
    flags = [] if "--config" in given else ["--classifier", str(model)]
    store = tmp_path / "adapted"
    _refused(_cli("adapt", "run", *base, *flags, "--store", store, *given), message)
    assert not store.exists()


def test_no_classifier_is_refused(dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VEHICLEWATCH_MODELS", raising=False)
    _refused(_cli("adapt", "run", "--labels", dataset, "--store", tmp_path / "s"), "no classifier")
