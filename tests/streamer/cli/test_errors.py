"""The CLI's one error convention: bad input is one redacted ``vehiclewatch: error:`` line and exit status 2."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from streamer.cli.errors import BAD_INPUT, clear_errors, fail, needs_tools
from streamer.service.startup import StartupError
from watchlists.entry_errors import EntryProblem, WatchlistError


def _command(raise_: BaseException) -> click.Command:
    @click.command()
    def command() -> None:
        with needs_tools("demo"), clear_errors():
            raise raise_

    return command


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (ValueError("model m.onnx: no labels\nsecond line"), "vehiclewatch: error: model m.onnx: no labels"),
        (StartupError("camera cam1: cannot read x.mp4"), "vehiclewatch: error: camera cam1: cannot read x.mp4"),
        (click.ClickException("give exactly one of a or b"), "vehiclewatch: error: give exactly one of a or b"),
        (
            ValueError("cannot open rtsp://admin:hunter2@cam/stream"),
            "vehiclewatch: error: cannot open rtsp://***:***@cam/stream",
        ),
        (ValueError(""), "vehiclewatch: error: ValueError"),
        (
            ModuleNotFoundError("No module named 'sklearn'", name="sklearn"),
            "vehiclewatch: error: 'demo' needs the tools extra: pip install 'vehiclewatch[tools]' (sklearn is missing)",
        ),
    ],
)
def test_bad_input_is_one_redacted_line_and_exit_2(error: BaseException, line: str) -> None:
    result = CliRunner().invoke(_command(error))
    assert (result.exit_code, result.output) == (BAD_INPUT, line + "\n")


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("a bug"),
        KeyError("a bug"),
        ModuleNotFoundError("No module named 'numpy'", name="numpy"),
    ],
)
def test_other_errors_are_bugs_and_propagate(error: BaseException) -> None:
    result = CliRunner().invoke(_command(error))
    assert result.exit_code == 1
    assert result.exception is error


def test_usage_errors_keep_clicks_usage_text() -> None:
    result = CliRunner().invoke(_command(click.BadParameter("expected A=B", param_hint="--map")))
    assert result.exit_code == 2
    assert result.output.startswith("Usage: ")
    assert "Invalid value for --map: expected A=B" in result.output


def test_fail_exits_2_with_one_line() -> None:
    with pytest.raises(SystemExit) as exited:
        fail("no detector")
    assert exited.value.code == BAD_INPUT


def test_a_watchlist_refused_for_several_entries_lists_each_under_the_summary() -> None:
    problems = [EntryProblem("w.yaml", i, None, f"w.yaml: entry {i}: id: Field required") for i in (0, 3)]
    error = WatchlistError.invalid_entries("w.yaml", problems, total=4)
    expected = "vehiclewatch: error: w.yaml: 2 of 4 entries are invalid:\n  entry 0: id: Field required\n  entry 3: "
    for raised in (error, _wrapped(error)):
        result = CliRunner().invoke(_command(raised))
        assert result.exit_code == BAD_INPUT
        assert result.output == expected + "id: Field required\n"


def _wrapped(error: WatchlistError) -> StartupError:
    """The error as the service's start raises it: its first line, the watchlist error as the cause."""
    try:
        raise StartupError(error.summary) from error
    except StartupError as startup:
        return startup
