"""`vehiclewatch train` and `vehiclewatch eval`: the commands of :mod:`classifiers.cli_train_eval`, attached here
under the CLI's one error convention.

The classifiers package may not import ``streamer``, so its commands cannot call :func:`~streamer.cli.errors.fail`
themselves. Each is attached as a copy whose callback runs inside :func:`~streamer.cli.errors.needs_tools` (a
missing scikit-learn, matplotlib, tqdm or onnx is one line, exit 2) and :func:`~streamer.cli.errors.clear_errors`
(their one-line errors read ``vehiclewatch: error: ...``). Their options and help are untouched, and importing
them needs no part of the ``tools`` extra, so ``--help`` works without it.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import click

from classifiers.cli_train_eval import eval_command, train_command
from streamer.cli.errors import clear_errors, needs_tools


def under_cli_errors(command: click.Command) -> click.Command:
    """A copy of ``command`` whose run follows the CLI's error convention (the original is left as it is)."""
    callback = command.callback
    if callback is None:
        raise TypeError(f"command {command.name!r} has no callback")
    name = command.name or "command"

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        with needs_tools(name), clear_errors():
            return callback(*args, **kwargs)

    attached = copy.copy(command)
    attached.callback = run
    return attached


train = under_cli_errors(train_command)
evaluate = under_cli_errors(eval_command)


def _plates_group() -> click.Group:
    """`vehiclewatch plates` with its sub-commands under the CLI's error convention."""
    from classifiers.plates.cli import plates_group

    attached = copy.copy(plates_group)
    attached.commands = {name: under_cli_errors(cmd) for name, cmd in plates_group.commands.items()}
    return attached


plates = _plates_group()
