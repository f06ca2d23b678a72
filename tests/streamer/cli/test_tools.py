"""`vehiclewatch train` and `vehiclewatch eval` under the CLI's convention: bad input is one
``vehiclewatch: error:`` line and exit 2, and so is running a tool command without the tools extra."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from classifiers.cli_train_eval import HEAD_KINDS_HELP, eval_command, train_command
from streamer.cli.main import main
from tests.classifiers.test_training import make_backbone, make_dataset
from tests.streamer.cli.without_tools import run_without_tools


def test_the_head_kinds_in_the_help_are_the_trainers() -> None:
    from classifiers.training.heads import HEAD_KINDS

    assert ",".join(HEAD_KINDS) == HEAD_KINDS_HELP


@pytest.mark.parametrize(("name", "command"), [("train", train_command), ("eval", eval_command)])
def test_attached_commands_keep_their_options_and_help(name: str, command: click.Command) -> None:
    attached = main.commands[name]
    assert attached is not command  # a copy: the classifiers' command itself is left as it is
    assert attached.callback is not command.callback
    assert (attached.params, attached.help) == (command.params, command.help)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "{data}/red/red_0_0.png", "{data}"], "vehiclewatch: error: cannot load classifier red_0_0.png"),
        (
            ["train", "{data}", "-o", "{tmp}/x.onnx"],
            "vehiclewatch: error: give exactly one of backbone (new model) or base (extend a trained model)",
        ),
        (
            ["train", "{data}", "-o", "{tmp}/x.onnx", "--backbone", "{model}", "--label-column", "hue"],
            "vehiclewatch: error: {data}/labels.csv has no label column 'hue'",
        ),
    ],
)
def test_bad_input_is_one_vehiclewatch_error_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    data = make_dataset(tmp_path / "data", per_class=3)
    model = make_backbone(tmp_path / "m.onnx")
    values = {"model": str(model), "data": str(data), "tmp": str(tmp_path)}
    result = CliRunner().invoke(main, [a.format(**values) for a in args] + ["--quiet"])
    assert result.exit_code == 2
    assert result.output.startswith(message.format(**values))
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["train", "{tmp}", "-o", "{tmp}/x.onnx"], "train"),
        (["eval", "{tmp}/m.onnx", "{tmp}"], "eval"),
        (
            ["watchlist", "evaluate", "--data", "{tmp}", "--watchlist", "{tmp}/w.yaml", "--classifier", "c.onnx"],
            "watchlist evaluate",
        ),
    ],
)
def test_running_a_tool_command_without_the_tools_extra_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], command: str
) -> None:
    (tmp_path / "m.onnx").write_bytes(b"")
    (tmp_path / "w.yaml").write_text("entries: [{id: red, color: red}]\n")
    result = run_without_tools([a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(
        f"vehiclewatch: error: '{command}' needs the tools extra: pip install 'vehiclewatch[tools]' ("
    ), result.stderr
    assert result.stderr.count("\n") == 1
