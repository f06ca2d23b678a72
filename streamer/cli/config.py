"""`vehiclewatch config check|reference`: validate a configuration file, or print the reference of every key."""

from __future__ import annotations

import json
from pathlib import Path

import click

from common.redaction import redact_text
from streamer.cli.errors import clear_errors


@click.group()
def config() -> None:
    """Check a configuration file, or print the reference of every key."""


@config.command("check")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
def config_check(path: Path) -> None:
    """Validate PATH (with the environment applied) and print the result with secrets hidden."""
    from streamer.service.config import load_settings

    with clear_errors():
        settings = load_settings(path)
    # Secret values (camera sources, redis.url, passwords: common.secrets) dump in their redacted form by type;
    # redact_text is the second line of defence, for a URL-valued setting someone forgot to type as a secret.
    click.echo(redact_text(json.dumps(settings.model_dump(mode="json"), indent=2)))


@config.command("reference")
def config_reference() -> None:
    """Print every configuration key with its default and meaning (Markdown)."""
    from streamer.service.config_reference import markdown

    click.echo(markdown())
