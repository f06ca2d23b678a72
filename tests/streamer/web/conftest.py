"""Fixtures of the web tests: where the browser tests' screenshots go."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.streamer.web.browser import screenshots_folder


@pytest.fixture(scope="module")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``$VEHICLEWATCH_SCREENSHOTS`` when set (the docs' screenshots), else a temporary folder."""
    return screenshots_folder(tmp_path_factory)
