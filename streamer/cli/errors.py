"""How every `vehiclewatch` command ends when something is wrong: one convention, written once.

Exit status:

* **0** — the command did what was asked.
* **1** — the command ran on valid input but its verdict is a failure (reserved for checks that find problems;
  no command has such a verdict today). Python's own status 1 with a traceback means a bug, never bad input.
* **2** — bad input: a missing file, an invalid config or watchlist, a model that cannot be used, an unreachable
  Redis, a tool command without the ``tools`` extra, an id that is not stored, entries that failed validation.
  The last line on stderr is ``vehiclewatch: error: ...`` (credentials redacted); a command that did the valid
  part of its work (``watchlist import`` of a file with some invalid entries) lists each problem before that line.
  The one exception: a watchlist refused for several invalid entries (by any command, or by the service's start)
  makes that line a summary and lists every entry after it, one indented line each (index, id, key, reason).
  click's own usage errors (an unknown option, a missing argument) also exit 2, with click's usage text.
* **130** — stopped by a second Ctrl-C / SIGTERM without draining.

Tracebacks are for bugs: the errors bad input raises (``ValueError`` and its subclasses such as ``ConfigError``,
``ModelLoadError``, ``WatchlistError``, ``RedisConnectionError``; the service's ``StartupError``; a
``click.ClickException`` from a command written for click alone) become the one line here, inside
:func:`clear_errors`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import click

from common.redaction import redact_text
from watchlists.entry_errors import WatchlistError

BAD_INPUT = 2
"""Exit status of every refusal of bad input."""

INTERRUPTED = 130
"""Exit status when a second signal stops the process without draining."""

TOOLS_MODULES = frozenset({"sklearn", "matplotlib", "tqdm", "onnx"})
"""Top-level packages of the ``tools`` extra (pyproject.toml); a command that imports one needs that extra."""


def fail(message: str) -> NoReturn:
    """One clear line on stderr, credentials redacted, and exit status 2: the vehiclewatch way to refuse input."""
    click.echo(f"vehiclewatch: error: {redact_text(message)}", err=True)
    sys.exit(BAD_INPUT)


def first_line(exc: BaseException) -> str:
    """An exception's message reduced to its first line (pydantic's are several), or its type when empty."""
    text = str(exc)
    return text.splitlines()[0] if text.strip() else type(exc).__name__


def refusal(exc: BaseException) -> str:
    """What a refusal says: the error's first line; for a watchlist with several invalid entries (raised as is, or
    wrapped by the service's start), that summary and then the line of every invalid entry, so all are fixed at once.
    """
    listed = exc if isinstance(exc, WatchlistError) else exc.__cause__
    details = listed.details if isinstance(listed, WatchlistError) else ()
    return "\n".join((first_line(exc), *details))


@contextmanager
def clear_errors() -> Iterator[None]:
    """Turns the expected errors of bad input into :func:`fail` (one line, exit 2); anything else propagates."""
    try:
        yield
    except click.UsageError:
        raise  # click prints the usage with it, and exits 2 itself
    except click.ClickException as exc:
        fail(exc.format_message())
    except ValueError as exc:
        fail(refusal(exc))
    except RuntimeError as exc:
        from streamer.service.startup import StartupError

        if not isinstance(exc, StartupError):
            raise
        fail(refusal(exc))


def missing_tool(exc: ImportError) -> str | None:
    """The missing ``tools`` package an import failed on, or None when the failure is about something else."""
    name = exc.name or ""
    top = name.split(".")[0]
    return name if top in TOOLS_MODULES else None


@contextmanager
def needs_tools(command: str) -> Iterator[None]:
    """For commands that need the ``tools`` extra: a missing package of it is bad input, said in one line."""
    try:
        yield
    except ImportError as exc:
        missing = missing_tool(exc)
        if missing is None:
            raise
        fail(f"'{command}' needs the tools extra: pip install 'vehiclewatch[tools]' ({missing} is missing)")
