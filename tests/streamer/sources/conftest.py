"""Fixtures of the camera source tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streamer.sources.camera import CameraReader


@pytest.fixture
def readers() -> Iterator[list[CameraReader]]:
    """Readers a test starts; all stopped at the end, whatever happens."""
    started: list[CameraReader] = []
    yield started
    for reader in started:
        reader.stop(timeout=2.0)
